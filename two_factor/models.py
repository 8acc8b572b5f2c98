"""Recovery codes: the authenticator app's device is django-otp's TOTPDevice; its static
tokens are stored in plain text, so the recovery codes are this app's own, stored only as a
keyed digest (tokens_site.tokens.token_digest), each usable once."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class RecoveryCode(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recovery_codes"
    )
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"Recovery code of {self.user}"

    @property
    def is_used(self) -> bool:
        return self.used_at is not None
