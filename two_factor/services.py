"""Writes: enrol an authenticator app, issue recovery codes, check a second step, disable.
Each state change writes its audit event. Recovery codes are returned in plain text once and
only their digests are stored."""

from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables
from django_otp.plugins.otp_totp.models import TOTPDevice

from tokens_site.audit import audit_event_record
from tokens_site.models import AuditAction
from tokens_site.tokens import token_digest
from two_factor.codes import (
    RECOVERY_CODE_COUNT,
    TOTP_DIGITS,
    is_recovery_code,
    is_totp_code,
    normalize,
    recovery_code_generate,
)
from two_factor.models import RecoveryCode
from two_factor.selectors import totp_device_confirmed, two_factor_enabled

DEVICE_NAME = "Authenticator app"
# One step (30 s) of clock drift either way; django-otp never accepts a step twice (last_t).
TOTP_TOLERANCE = 1


class TwoFactorError(Exception):
    """A refused change, with a message for the user."""


def totp_device_pending(*, user) -> TOTPDevice:
    """The unconfirmed device the enrolment page shows (the same key on every visit until it
    is confirmed, so a reload does not invalidate what the app has scanned)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("id").first()
    if device is None:
        device = TOTPDevice.objects.create(
            user=user,
            name=DEVICE_NAME,
            confirmed=False,
            digits=TOTP_DIGITS,
            tolerance=TOTP_TOLERANCE,
        )
    return device


@sensitive_variables("code")
def totp_code_verify(*, device: TOTPDevice, code: str) -> bool:
    """Whether `code` is the device's current code (within the drift window) and was not
    used before. The device's row is locked, so two requests cannot both use one code."""
    code = normalize(code)
    if not is_totp_code(code):
        return False
    with transaction.atomic():
        locked = TOTPDevice.objects.select_for_update().get(pk=device.pk)
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


def two_factor_enable(*, user, device: TOTPDevice, ip_address: str | None = None) -> list[str]:
    """Confirm `device` (its code already verified) and issue the recovery codes, returned in
    plain text. Refused when the user already has two-factor authentication on."""
    with transaction.atomic():
        if two_factor_enabled(user):
            raise TwoFactorError("Two-factor authentication is already enabled.")
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        codes = _recovery_codes_issue(user)
        audit_event_record(
            action=AuditAction.TWO_FACTOR_ENABLE,
            actor=user,
            target=user,
            target_type="user",
            ip_address=ip_address,
        )
    return codes


def recovery_codes_regenerate(*, user, ip_address: str | None = None) -> list[str]:
    """New recovery codes (the old ones stop working), returned in plain text."""
    with transaction.atomic():
        if not two_factor_enabled(user):
            raise TwoFactorError("Two-factor authentication is not enabled.")
        codes = _recovery_codes_issue(user)
        audit_event_record(
            action=AuditAction.RECOVERY_CODES_REGENERATE,
            actor=user,
            target=user,
            target_type="user",
            ip_address=ip_address,
        )
    return codes


def two_factor_disable(*, user, ip_address: str | None = None) -> None:
    with transaction.atomic():
        deleted, _ = TOTPDevice.objects.filter(user=user).delete()
        RecoveryCode.objects.filter(user=user).delete()
        if deleted:
            audit_event_record(
                action=AuditAction.TWO_FACTOR_DISABLE,
                actor=user,
                target=user,
                target_type="user",
                ip_address=ip_address,
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
            audit_event_record(
                action=AuditAction.RECOVERY_CODE_USE,
                actor=user,
                target=user,
                target_type="user",
                ip_address=ip_address,
            )
    return bool(used)


@sensitive_variables("code")
def second_step_verify(*, user, code: str, ip_address: str | None = None) -> bool:
    """The sign-in's second step: the authenticator app's current code, or a recovery code."""
    normalized = normalize(code)
    if is_totp_code(normalized):
        device = totp_device_confirmed(user)
        return device is not None and totp_code_verify(device=device, code=normalized)
    return recovery_code_use(user=user, code=normalized, ip_address=ip_address)


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
