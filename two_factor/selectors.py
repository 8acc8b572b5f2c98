"""Reads: whether a user has two-factor authentication on, and their devices."""

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef

from two_factor.models import AuthenticatorApp, RecoveryCode, SecurityKey


def totp_device_confirmed(user) -> AuthenticatorApp | None:
    """The user's enrolled authenticator app, if any."""
    if getattr(user, "pk", None) is None:
        return None
    return AuthenticatorApp.objects.filter(user=user, confirmed=True).first()


def two_factor_enabled(user) -> bool:
    """Whether the user has an enrolled authenticator app or a security key (one query)."""
    if getattr(user, "pk", None) is None:
        return False
    return get_user_model().objects.filter(pk=user.pk).filter(has_two_factor()).exists()


def has_two_factor(user_ref="pk"):
    """The condition "the user `user_ref` names has an authenticator app or a security key",
    for a query over users (or over rows that reference one)."""
    app = AuthenticatorApp.objects.filter(user=OuterRef(user_ref), confirmed=True)
    keys = SecurityKey.objects.filter(user=OuterRef(user_ref))
    return Exists(app) | Exists(keys)


def security_keys_of(user):
    return SecurityKey.objects.filter(user=user)


def recovery_codes_left(user) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()
