"""What a user chooses for themselves: today, the language of the site and of their emails."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class UserPreferences(models.Model):
    """One row per user who chose something (absent: the defaults). `language` is one of
    settings.LANGUAGES, or empty: the browser's (Accept-Language) on pages, English in
    emails."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preferences"
    )
    language = models.CharField(max_length=16, blank=True, choices=settings.LANGUAGES)

    class Meta:
        verbose_name_plural = _("user preferences")

    def __str__(self) -> str:
        return f"preferences of {self.user}"
