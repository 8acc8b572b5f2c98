"""What the authentication layer must remember and never lose to a cache's eviction: failed
attempts per client address and the bans they lead to, sign-in lockouts per account, and the
single-use keys of forms that create tokens (written by tokens_site.auth.store and
tokens_site.auth.lockout).
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# The longest textual IP address (IPv6 with an embedded IPv4 part).
ADDRESS_MAX_LENGTH = 45


class FailedAuthCounter(models.Model):
    """Failed authentication attempts from one address, in fixed periods of `period_seconds`
    (`window_index` counts them from the epoch): those of the current period, and of the one
    before, which a sliding window weighs in (tokens_site.auth.store)."""

    ip_address = models.CharField(max_length=ADDRESS_MAX_LENGTH, primary_key=True)
    period_seconds = models.PositiveIntegerField()
    window_index = models.BigIntegerField()
    failures = models.PositiveIntegerField()
    previous_failures = models.PositiveIntegerField(default=0)
    last_failed_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("failed authentication counter")

    def __str__(self) -> str:
        return f"{self.ip_address}: {self.failures} failures, {self.previous_failures} before"


class AddressBan(models.Model):
    """An address refused on every endpoint that checks credentials, and on sign-in, until
    `expires_at`."""

    ip_address = models.CharField(max_length=ADDRESS_MAX_LENGTH, primary_key=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)
    failures = models.PositiveIntegerField()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("address ban")

    def __str__(self) -> str:
        return f"ban of {self.ip_address} until {self.expires_at:%Y-%m-%d %H:%M} UTC"


class AccountLockout(models.Model):
    """Failed sign-ins of one account; at the limit the account is locked for a while."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="lockout",
    )
    failed_attempts = models.PositiveIntegerField(default=0)
    last_failed_at = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        verbose_name = _("account lockout")

    def __str__(self) -> str:
        return f"sign-in lockout of {self.user}"

    @property
    def is_locked(self) -> bool:
        return self.locked_until is not None and self.locked_until > timezone.now()


class FormKeyClaim(models.Model):
    """A single-use form key that was used (tokens_site.once)."""

    once_key = models.CharField(max_length=64, primary_key=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("used form key")

    def __str__(self) -> str:
        return f"form key used, remembered until {self.expires_at}"
