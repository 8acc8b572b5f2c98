"""Rotation of every token kind: the old value may keep working for an overlap, and a rotated-out
value used to rotate again revokes the whole family.

- **Overlap.** A rotation may keep the old value working for `overlap_hours` (0 to 168,
  MAX_ROTATION_OVERLAP_HOURS, within the instance's cap; none by default), so that what uses
  it can move to the new one without an outage. The old token records until when it works
  (`works_until`); its successor records it (`previous`), when it was rotated (`rotated_at`)
  and until when the old value works (`previous_expires_at`). Revoking the successor ends
  both at once; revoking the old token ends only its overlap (TokenRecord.revoke_once).
- **One wins.** The old token is retired by one conditional UPDATE: of two rotations at once,
  one wins; the other is refused with nothing made.
- **Reuse detection** (as GitLab 16.3): a rotated-out value (past its overlap) presented to
  rotate again means it leaked, or its successor did: every token of its family (the chain of
  rotations) is revoked, with an audit event. Presented for anything else, it is a plain 401.

A kind's rotation service calls `rotate` with how its successor is checked and made; the
pipeline calls `detect_reuse` on a refused credential where the endpoint asks.
"""

from collections.abc import Callable
from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.debug import sensitive_variables

from tokens_site.audit import audit_event_record
from tokens_site.models import AuditAction, InstanceSettings, TokenRecord
from tokens_site.tokens import token_generate

# English here (tests read them); translated where they are raised.
NOT_ACTIVE = gettext_noop("Only an active token can be rotated: this one is revoked or expired.")
ALREADY_ROTATED = gettext_noop(
    "This token was already rotated: rotate its successor (the active token of the same name)."
)
FAMILY_LIMIT = 1000  # rotations followed from one token (a chain is one per rotation)


def require_rotatable(token: TokenRecord) -> None:
    if token.works_until is not None:
        raise ValidationError(_(ALREADY_ROTATED), code="rotated")
    if not token.is_active:
        raise ValidationError(_(NOT_ACTIVE), code="inactive")


def overlap_cap() -> int:
    """The instance's longest overlap (at most MAX_ROTATION_OVERLAP_HOURS, by its validator and
    the database's constraint)."""
    return InstanceSettings.current().max_rotation_overlap_hours


def overlap_hours_valid(hours) -> int:
    """`hours` (None: 0) as an int within 0 and the cap; else a ValidationError on
    `overlap_hours` that says the range."""
    if hours in (None, ""):
        return 0
    cap = overlap_cap()
    try:
        value = int(hours)
    except (TypeError, ValueError):
        value = None
    if value is None or isinstance(hours, bool) or not 0 <= value <= cap:
        raise ValidationError(
            {
                "overlap_hours": [
                    _("Enter a whole number of hours from 0 to %(cap)s.") % {"cap": cap}
                ]
            },
            code="overlap",
        )
    return value


def retire(token: TokenRecord, *, overlap_hours: int, now=None) -> dict:
    """Inside the rotation's transaction: the old token stops now (no overlap: revoked) or at
    the overlap's end. One conditional UPDATE: a ValidationError when another rotation or a
    revocation came first. Returns what the successor records of it (its fields)."""
    now = now or timezone.now()
    until = now + timedelta(hours=overlap_hours)
    changes = {"works_until": until}
    if not overlap_hours:
        changes.update(revoked=True, revoked_at=now)
    won = (
        type(token)
        ._default_manager.filter(pk=token.pk, revoked=False, works_until__isnull=True)
        .update(**changes)
    )
    if not won:
        token.refresh_from_db(fields=["revoked", "works_until"])
        raise ValidationError(
            _(ALREADY_ROTATED) if token.works_until else _(NOT_ACTIVE), code="lost"
        )
    for name, value in changes.items():
        setattr(token, name, value)
    return {"previous_id": token.pk, "rotated_at": now, "previous_expires_at": until}


@sensitive_variables()
def rotate(
    token: TokenRecord,
    *,
    actor,
    expires_at: date | None,
    overlap_hours,
    ip_address: str | None,
    prefix: str,
    audit_action: AuditAction,
    validate: Callable[[date | None], None],
    build: Callable[[date | None, str, dict], TokenRecord],
) -> tuple[TokenRecord, str]:
    """The rotation every kind shares. `token` must be active and not rotated yet; the
    successor's expiry is `expires_at`, else TokenRecord.rotated_expiry(), checked by the
    kind's `validate` (a ValidationError says why). Then, in one transaction, the old token is
    retired (one of two concurrent rotations wins), `build(expires_at, value, retired)` saves
    the successor (`retired`: its rotation fields) and the rotation is audited. Returns the
    successor and its value, which exists only here."""
    require_rotatable(token)
    overlap = overlap_hours_valid(overlap_hours)
    if expires_at is None:
        expires_at = token.rotated_expiry()
    validate(expires_at)
    plaintext = token_generate(prefix)
    with transaction.atomic():
        successor = build(expires_at, plaintext, retire(token, overlap_hours=overlap))
        audit_event_record(
            action=audit_action,
            actor=actor,
            target=successor,
            ip_address=ip_address,
            details={
                "rotated_from": token.pk,
                "expires_at": str(expires_at or ""),
                "overlap_hours": overlap,
            },
        )
    return successor, plaintext


def family_ids(token: TokenRecord) -> set[int]:
    """The ids of every token of `token`'s chain of rotations: after it first (where the live
    one is), then before it; at most FAMILY_LIMIT in each direction."""
    manager = type(token)._default_manager
    ids = {token.pk}
    later, seen_later = [token.pk], 0
    while later and seen_later < FAMILY_LIMIT:
        later = [
            pk
            for pk in manager.filter(previous_id__in=later).values_list("pk", flat=True)
            if pk not in ids
        ]
        ids.update(later)
        seen_later += len(later)
    earlier, seen_earlier = token.previous_id, 0
    while earlier is not None and earlier not in ids and seen_earlier < FAMILY_LIMIT:
        ids.add(earlier)
        seen_earlier += 1
        earlier = manager.filter(pk=earlier).values_list("previous_id", flat=True).first()
    return ids


def detect_reuse(token: TokenRecord | None, *, ip_address: str | None = None) -> bool:
    """`token` (a refused credential, found by its value) was presented to rotate: if it was
    rotated out, revoke every token of its family that still works, with one audit event.
    True when it was such a reuse (the answer is a 401 either way)."""
    if token is None or token.works_until is None or not token.rotated_out:
        return False
    manager = type(token)._default_manager
    now = timezone.now()
    revoked: set[int] = set()
    with transaction.atomic():
        # A rotation of the successor committing meanwhile adds a token: look again until
        # nothing is left working (each pass revokes what the last found).
        for _ in range(5):
            ids = family_ids(token)
            alive = list(manager.filter(pk__in=ids, revoked=False).values_list("pk", flat=True))
            if not alive:
                break
            manager.filter(pk__in=alive, revoked=False).update(revoked=True, revoked_at=now)
            manager.filter(pk__in=ids, previous_expires_at__gt=now).update(previous_expires_at=now)
            revoked.update(alive)
        audit_event_record(
            action=AuditAction.TOKEN_FAMILY_REVOKE,
            actor=None,
            target=token,
            ip_address=ip_address,
            details={"reused": token.pk, "revoked": sorted(revoked)},
        )
    return True
