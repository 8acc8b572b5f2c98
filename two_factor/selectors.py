"""Reads: whether a user has two-factor authentication on, and their devices."""

from django_otp.plugins.otp_totp.models import TOTPDevice

from two_factor.models import RecoveryCode


def totp_device_confirmed(user) -> TOTPDevice | None:
    """The user's enrolled authenticator app, if any."""
    if getattr(user, "pk", None) is None:
        return None
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def two_factor_enabled(user) -> bool:
    """Whether the user has an enrolled authenticator app (one EXISTS query)."""
    if getattr(user, "pk", None) is None:
        return False
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def recovery_codes_left(user) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()
