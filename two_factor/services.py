"""Writes: enrol an authenticator app, add and remove security keys, issue recovery codes,
check a second step, disable, and an administrator's reset. Each state change writes its
audit event. Recovery codes are returned in plain text once and only their digests are
stored. Two-factor authentication is on while the user has an app or a key: the first of
them turns it on (and issues the recovery codes), removing the last turns it off."""

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables

from tokens_site.access.policy import require_administrator
from tokens_site.audit import audit_event_record
from tokens_site.language import email_language
from tokens_site.mail import email_user
from tokens_site.models import AuditAction
from tokens_site.tokens import token_digest
from two_factor import security_keys
from two_factor.codes import (
    RECOVERY_CODE_COUNT,
    TOTP_DIGITS,
    is_recovery_code,
    is_totp_code,
    normalize,
    recovery_code_generate,
)
from two_factor.models import AuthenticatorApp, RecoveryCode, SecurityKey
from two_factor.security_keys import NewKey
from two_factor.selectors import totp_device_confirmed, two_factor_enabled

DEVICE_NAME = "Authenticator app"
# One step (30 s) of clock drift either way; django-otp never accepts a step twice (last_t).
TOTP_TOLERANCE = 1


class TwoFactorError(Exception):
    """A refused change, with a message for the user."""


def _record(action: AuditAction, user, ip_address: str | None, *, details=None):
    """The audit event of `user`'s change to their own two-factor authentication."""
    audit_event_record(
        action=action,
        actor=user,
        target=user,
        target_type="user",
        ip_address=ip_address,
        details=details,
    )


def totp_device_pending(*, user) -> AuthenticatorApp:
    """The unconfirmed device the enrolment page shows (the same key on every visit until it
    is confirmed, so a reload does not invalidate what the app has scanned)."""
    device = AuthenticatorApp.objects.filter(user=user, confirmed=False).order_by("id").first()
    if device is None:
        device = AuthenticatorApp.objects.create(
            user=user,
            name=DEVICE_NAME,
            key=AuthenticatorApp.sealed_new_key(),
            confirmed=False,
            digits=TOTP_DIGITS,
            tolerance=TOTP_TOLERANCE,
        )
    return device


@sensitive_variables("code")
def totp_code_verify(*, device: AuthenticatorApp, code: str) -> bool:
    """Whether `code` is the device's current code (within the drift window) and was not
    used before. The device's row is locked, so two requests cannot both use one code."""
    code = normalize(code)
    if not is_totp_code(code):
        return False
    with transaction.atomic():
        locked = AuthenticatorApp.objects.select_for_update().get(pk=device.pk)
        verified = locked.verify_token(code)
    device.refresh_from_db()
    return verified


def _recovery_codes_issue(user) -> list[str]:
    RecoveryCode.objects.filter(user=user).delete()
    codes = [recovery_code_generate() for _ in range(RECOVERY_CODE_COUNT)]
    RecoveryCode.objects.bulk_create(
        RecoveryCode(user=user, digest=token_digest(code)) for code in codes
    )
    return codes


def _two_factor_turned_on(user, *, method: str, ip_address: str | None) -> list[str]:
    """The first method is in: the recovery codes (returned in plain text), and the event."""
    codes = _recovery_codes_issue(user)
    _record(AuditAction.TWO_FACTOR_ENABLE, user, ip_address, details={"method": method})
    return codes


def two_factor_enable(
    *, user, device: AuthenticatorApp, ip_address: str | None = None
) -> list[str] | None:
    """Confirm `device` (its code already verified). When it turns two-factor
    authentication on, the recovery codes are issued and returned in plain text; None when a
    security key had already turned it on (the codes stay). Refused when the user already has
    an authenticator app."""
    with transaction.atomic():
        if totp_device_confirmed(user) is not None:
            raise TwoFactorError(_("An authenticator app is already registered."))
        was_on = two_factor_enabled(user)
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        AuthenticatorApp.objects.filter(user=user, confirmed=False).delete()
        codes = None if was_on else _recovery_codes_issue(user)
        _record(
            AuditAction.TWO_FACTOR_ENABLE, user, ip_address, details={"method": "authenticator_app"}
        )
        return codes


def security_key_add(
    *, user, name: str, key: NewKey, ip_address: str | None = None
) -> tuple[SecurityKey, list[str] | None]:
    """Store a verified security key. Returns it, and the recovery codes in plain text when
    this key turned two-factor authentication on (else None)."""
    with transaction.atomic():
        was_on = two_factor_enabled(user)
        try:
            with transaction.atomic():
                added = SecurityKey.objects.create(
                    user=user,
                    name=name,
                    credential_id=key.credential_id,
                    public_key=key.public_key,
                    sign_count=key.sign_count,
                )
        except IntegrityError as taken:  # the column is unique: a second request loses
            raise TwoFactorError(_("This security key is already registered.")) from taken
        _record(AuditAction.SECURITY_KEY_ADD, user, ip_address, details={"name": name})
        codes = None
        if not was_on:
            codes = _two_factor_turned_on(user, method="security_key", ip_address=ip_address)
    return added, codes


def security_key_remove(*, user, key_id: int, ip_address: str | None = None) -> bool:
    """Remove one of `user`'s security keys (False: no such key of theirs). Removing the last
    method turns two-factor authentication off."""
    with transaction.atomic():
        key = SecurityKey.objects.select_for_update().filter(user=user, pk=key_id).first()
        if key is None:
            return False
        key.delete()
        _record(AuditAction.SECURITY_KEY_REMOVE, user, ip_address, details={"name": key.name})
        if not two_factor_enabled(user):
            RecoveryCode.objects.filter(user=user).delete()
            _record(AuditAction.TWO_FACTOR_DISABLE, user, ip_address)
    return True


def security_key_used(key: SecurityKey) -> None:
    """Record a sign-in with `key` (its counter, already checked, and the time)."""
    key.last_used_at = timezone.now()
    key.save(update_fields=["sign_count", "last_used_at"])


def recovery_codes_regenerate(*, user, ip_address: str | None = None) -> list[str]:
    """New recovery codes (the old ones stop working), returned in plain text."""
    with transaction.atomic():
        if not two_factor_enabled(user):
            raise TwoFactorError(_("Two-factor authentication is not enabled."))
        codes = _recovery_codes_issue(user)
        _record(AuditAction.RECOVERY_CODES_REGENERATE, user, ip_address)
    return codes


def _two_factor_remove_all(user) -> bool:
    """Delete every method and recovery code of `user`; whether two-factor authentication was
    on."""
    was_on = two_factor_enabled(user)
    for model in (AuthenticatorApp, SecurityKey, RecoveryCode):
        model.objects.filter(user=user).delete()
    return was_on


def two_factor_disable(*, user, ip_address: str | None = None) -> None:
    """The user's own: the app, every security key and the recovery codes go."""
    with transaction.atomic():
        if _two_factor_remove_all(user):
            _record(AuditAction.TWO_FACTOR_DISABLE, user, ip_address)


def two_factor_reset(*, user, actor, ip_address: str | None = None) -> bool:
    """An administrator's reset, for a user who lost every method and code: as disabling,
    audited as the administrator's, and the user is emailed. False when the user had no
    two-factor authentication."""
    require_administrator(actor, _("Only administrators can reset two-factor authentication."))
    with transaction.atomic():
        if not _two_factor_remove_all(user):
            return False
        audit_event_record(
            action=AuditAction.TWO_FACTOR_RESET,
            actor=actor,
            target=user,
            target_type="user",
            ip_address=ip_address,
        )
        transaction.on_commit(lambda: _notify_reset(user))
    return True


def _notify_reset(user) -> None:
    with translation.override(email_language(user)):
        email_user(
            user,
            subject=_("Two-factor authentication was reset on your account"),
            template="two_factor/email/reset",
            context={"settings_url": settings.EXTERNAL_URL + reverse("two_factor:settings")},
        )


@sensitive_variables("code")
def recovery_code_use(*, user, code: str, ip_address: str | None = None) -> bool:
    """Use one of `user`'s recovery codes: True once per code, False ever after."""
    code = normalize(code)
    if not is_recovery_code(code):
        return False
    with transaction.atomic():
        used = RecoveryCode.objects.filter(
            user=user, digest=token_digest(code), used_at__isnull=True
        ).update(used_at=timezone.now())
        if used:
            _record(AuditAction.RECOVERY_CODE_USE, user, ip_address)
    return bool(used)


@sensitive_variables("code")
def second_step_verify(*, user, code: str, ip_address: str | None = None) -> bool:
    """The sign-in's second step: the authenticator app's current code, or a recovery code."""
    normalized = normalize(code)
    if is_totp_code(normalized):
        device = totp_device_confirmed(user)
        return device is not None and totp_code_verify(device=device, code=normalized)
    return recovery_code_use(user=user, code=normalized, ip_address=ip_address)


@sensitive_variables("answer")
def second_step_key_verify(request, *, user, answer: str):
    """The sign-in's second step with a security key: None when `answer` is a right one from
    a key of `user` (its use recorded), else the refusal's message."""
    try:
        key = security_keys.sign_in_verify(request, user, answer)
    except security_keys.KeyRefused as refused:
        return str(refused)
    security_key_used(key)
    return None


@sensitive_variables("codes")
def recovery_codes_are_current(*, user, codes: list[str]) -> bool:
    """Whether `codes` are all unused recovery codes of `user` (the download's check, so it
    only ever echoes the user's own codes)."""
    normalized = [normalize(code) for code in codes]
    if not normalized or not all(is_recovery_code(code) for code in normalized):
        return False
    digests = {token_digest(code) for code in normalized}
    found = RecoveryCode.objects.filter(user=user, digest__in=digests, used_at__isnull=True)
    return found.count() == len(digests)
