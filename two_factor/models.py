"""Two-factor authentication's own records. The authenticator app is django-otp's TOTPDevice
seen through AuthenticatorApp, which keeps its key encrypted (django-otp stores it in plain
hex). django-otp's static tokens are stored in plain text, so the recovery codes are this app's
own, stored only as a keyed digest (tokens_site.tokens.token_digest), each usable once.
Security keys are WebAuthn credentials (py_webauthn verifies them): only the public key is
stored. The grace period of an enforced requirement starts when the user is first told."""

import os

from django.conf import settings
from django.db import models
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from tokens_site.tokens import secret_decrypt, secret_encrypt

SECURITY_KEY_NAME_MAX_LENGTH = 100
# The TOTP secret: 160 bits, as RFC 4226 recommends (django-otp's default too). Sealed, it is
# 64 base64 characters, within TOTPDevice.key's 80.
TOTP_KEY_BYTES = 20
TOTP_KEY_CONTEXT = b"tokens-site:totp-key:v1"


def totp_key_seal(key: bytes) -> str:
    return secret_encrypt(key, TOTP_KEY_CONTEXT)


class AuthenticatorApp(TOTPDevice):
    """A user's authenticator app: django-otp's TOTP device (its drift window, its refusal
    of a step used before), with the key stored sealed by TOKEN_ENCRYPTION_KEY."""

    class Meta:
        proxy = True

    @classmethod
    def sealed_new_key(cls) -> str:
        return totp_key_seal(os.urandom(TOTP_KEY_BYTES))

    @property
    def bin_key(self) -> bytes:
        return secret_decrypt(self.key, TOTP_KEY_CONTEXT)

    def verify_token(self, token) -> bool:
        """django-otp's check (the drift window; a step used before is refused), with the
        step claimed by one UPDATE ... WHERE last_t = <as read>: of two requests with the
        same code, whatever the database's locking, only one is verified."""
        self._step_before, self._step_claimed = self.last_t, False
        try:
            return super().verify_token(token) and self._step_claimed
        finally:
            self._step_before = None

    def save(self, *args, **kwargs):
        before = getattr(self, "_step_before", None)
        if before is None or self.last_t == before:  # not a verified code's save
            return super().save(*args, **kwargs)
        claimed = type(self).objects.filter(pk=self.pk, last_t=before)
        self._step_claimed = bool(
            claimed.update(
                last_t=self.last_t,
                drift=self.drift,
                throttling_failure_timestamp=None,
                throttling_failure_count=0,
                last_used_at=self.last_used_at,
            )
        )
        return None


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


class SecurityKey(models.Model):
    """A registered security key or passkey: a WebAuthn credential of one user."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="security_keys"
    )
    name = models.CharField(max_length=SECURITY_KEY_NAME_MAX_LENGTH)
    # base64url of the authenticator's credential id (at most 1023 bytes by the standard).
    credential_id = models.CharField(max_length=1400, unique=True)
    public_key = models.BinaryField()
    sign_count = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"Security key {self.name!r} of {self.user}"


class EnforcementGrace(models.Model):
    """When `user` was first told that two-factor authentication is required of them: the
    grace period counts from here. Kept after enrolment, so turning it off again later is
    not a new grace period."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="two_factor_grace"
    )
    started_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Two-factor grace period of {self.user}"
