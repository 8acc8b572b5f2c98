"""Create, revoke and touch personal access tokens. Creation returns the record and the
plaintext, which exists only in that return value."""

from datetime import date, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from personal_tokens.models import (
    ADMIN_ONLY_SCOPES,
    PersonalAccessToken,
    Scope,
    validate_predetermined_token,
)
from tokens_site.audit import audit_event_record
from tokens_site.models import AuditAction, InstanceSettings
from tokens_site.tokens import token_digest, token_generate, validate_expiry_date

NAME_MAX_LENGTH = 255


def _require_owner_or_admin(actor, user, verb: str) -> None:
    """A user manages their own tokens; administrators anyone's; `actor=None` is the console."""
    if actor is not None and actor.pk != user.pk and not actor.is_superuser:
        raise PermissionDenied(f"You can {verb} only your own personal access tokens.")


def personal_token_validate(
    *, user, name: str, scopes: list[str], expires_at: date | None, token: str | None = None
) -> dict[str, list[str]]:
    """Every rule a new token must meet, as field errors (empty when it may be created)."""
    errors: dict[str, list[str]] = {}
    if not name.strip():
        errors["name"] = ["Enter a name for the token."]
    elif len(name.strip()) > NAME_MAX_LENGTH:
        errors["name"] = [f"Use at most {NAME_MAX_LENGTH} characters."]
    unknown = sorted(set(scopes) - set(Scope.values))
    if not scopes:
        errors["scopes"] = ["Select at least one scope."]
    elif unknown:
        errors["scopes"] = [f"Unknown scopes: {', '.join(unknown)}."]
    elif not user.is_superuser and ADMIN_ONLY_SCOPES & set(scopes):
        errors["scopes"] = ["Only administrators can have the sudo scope."]
    try:
        validate_expiry_date(
            expires_at,
            max_lifetime_days=InstanceSettings.current().personal_access_token_max_lifetime_days,
        )
    except ValidationError as error:
        errors["expires_at"] = error.messages
    if token is not None:
        try:
            validate_predetermined_token(token)
        except ValidationError as error:
            errors["token"] = error.messages
    return errors


def _new_value() -> str:
    return token_generate(InstanceSettings.current().personal_access_token_prefix)


def _insert(*, user, name: str, scopes: list[str], expires_at, value: str) -> PersonalAccessToken:
    # Not objects.create(): that comes back here, through personal_token_create().
    record = PersonalAccessToken(
        user=user,
        name=name.strip(),
        scopes=[scope for scope in Scope.values if scope in scopes],
        expires_at=expires_at,
        token_digest=token_digest(value),
    )
    record.save(force_insert=True)
    return record


def personal_token_create(
    *,
    user,
    name: str,
    scopes: list[str],
    expires_at: date | None = None,
    token: str | None = None,
    actor=None,
    ip_address: str | None = None,
) -> tuple[PersonalAccessToken, str]:
    """Create a token for `user`: a random one, or the predetermined `token`."""
    _require_owner_or_admin(actor, user, "create")
    errors = personal_token_validate(
        user=user, name=name, scopes=scopes, expires_at=expires_at, token=token
    )
    if errors:
        raise ValidationError(errors)
    plaintext = token or _new_value()
    with transaction.atomic():
        record = _insert(
            user=user, name=name, scopes=scopes, expires_at=expires_at, value=plaintext
        )
        audit_event_record(
            action=AuditAction.PERSONAL_TOKEN_CREATE,
            actor=actor,
            target=record,
            ip_address=ip_address,
            details={
                "scopes": record.scopes,
                "expires_at": str(expires_at or ""),
                "predetermined": token is not None,
            },
        )
    return record, plaintext


def personal_token_revoke(*, actor, token: PersonalAccessToken, ip_address: str | None = None):
    _require_owner_or_admin(actor, token.user, "revoke")
    with transaction.atomic():
        updated = PersonalAccessToken.objects.filter(pk=token.pk, revoked=False).update(
            revoked=True
        )
        if not updated:
            raise ValidationError(f"The personal access token '{token.name}' was already revoked.")
        token.revoked = True
        audit_event_record(
            action=AuditAction.PERSONAL_TOKEN_REVOKE,
            actor=actor,
            target=token,
            ip_address=ip_address,
        )


def personal_token_touch(token: PersonalAccessToken, *, now=None) -> bool:
    """Record that the token was just used, at most once per LAST_USED_UPDATE_INTERVAL_SECONDS:
    no query when the loaded value is recent, else one conditional UPDATE (so two processes
    racing write once, and never move the time backwards)."""
    now = now or timezone.now()
    interval = timedelta(seconds=settings.LAST_USED_UPDATE_INTERVAL_SECONDS)
    if token.last_used_at is not None and now - token.last_used_at < interval:
        return False
    updated = (
        PersonalAccessToken.objects.filter(pk=token.pk)
        .filter(Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - interval))
        .update(last_used_at=now)
    )
    if updated:
        token.last_used_at = now
    return bool(updated)


def personal_token_rotate(
    *,
    actor,
    token: PersonalAccessToken,
    expires_at: date | None = None,
    ip_address: str | None = None,
) -> tuple[PersonalAccessToken, str]:
    """Revoke `token` and create its successor (same user, name and scopes) in one transaction:
    both happen, or neither. The new expiry date is `expires_at`, else the old token's if it is
    still ahead, else none — by the same rules as any new token."""
    _require_owner_or_admin(actor, token.user, "rotate")
    if token.revoked or token.is_expired:
        raise ValidationError("Only an active token can be rotated.")
    if expires_at is None and token.expires_at is not None and not token.is_expired:
        expires_at = token.expires_at
    errors = personal_token_validate(
        user=token.user, name=token.name, scopes=token.scopes, expires_at=expires_at
    )
    if errors:
        raise ValidationError(errors)
    plaintext = _new_value()
    with transaction.atomic():
        updated = PersonalAccessToken.objects.filter(pk=token.pk, revoked=False).update(
            revoked=True
        )
        if not updated:
            raise ValidationError("Only an active token can be rotated.")
        token.revoked = True
        successor = _insert(
            user=token.user,
            name=token.name,
            scopes=token.scopes,
            expires_at=expires_at,
            value=plaintext,
        )
        audit_event_record(
            action=AuditAction.PERSONAL_TOKEN_ROTATE,
            actor=actor,
            target=successor,
            ip_address=ip_address,
            details={"rotated_from": token.pk, "expires_at": str(expires_at or "")},
        )
    return successor, plaintext
