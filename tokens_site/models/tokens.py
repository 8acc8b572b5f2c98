"""What every token kind stores (`TokenRecord`), and the one definition of an active token."""

from datetime import UTC, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from tokens_site.models.instance import MAX_ROTATION_OVERLAP_HOURS, InstanceSettings
from tokens_site.tokens import DIGEST_LENGTH, token_expired, token_expires_soon, utc_today

DESCRIPTION_MAX_LENGTH = 255  # GitLab's limit for a token's description
# English (what the REST API says, and tests read; its 255 is DESCRIPTION_MAX_LENGTH), translated
# where it is shown: `gettext(DESCRIPTION_TOO_LONG)`, or DESCRIPTION_TOO_LONG_SHOWN (lazy) where
# defined at import time.
DESCRIPTION_TOO_LONG = gettext_noop("Description is too long: use at most 255 characters.")
DESCRIPTION_TOO_LONG_SHOWN = _(DESCRIPTION_TOO_LONG)
# How long the pages keep listing a token after it was revoked or expired.
RECENTLY_INACTIVE_DAYS = 30
LAST_USED_IPS = 5  # how many distinct client addresses a token remembers
# What the Rotate confirmations say of the new expiry (TokenRecord.rotated_expiry).
ROTATED_EXPIRY = _(
    "The new one lasts as long as this one did, counted from today (within the longest "
    "lifetime allowed)."
)


def active_condition(today=None, now=None) -> Q:
    """The one definition of an active token, in SQL: neither revoked nor expired (expired
    from 00:00 UTC on the expiry date), nor rotated out past its overlap. `TokenRecord.is_active`
    is the same rule in Python."""
    today = today or utc_today()
    now = now or timezone.now()
    return Q(
        Q(expires_at__isnull=True) | Q(expires_at__gt=today),
        Q(works_until__isnull=True) | Q(works_until__gt=now),
        revoked=False,
    )


def expired_condition(today=None) -> Q:
    """Not revoked, but past its expiry date."""
    return Q(revoked=False, expires_at__lte=today or utc_today())


class TokenQuerySet(models.QuerySet):
    def active(self, today=None):
        return self.filter(active_condition(today))

    def inactive(self, today=None):
        return self.exclude(active_condition(today))

    def current(self):
        """The tokens the tables list as active: active, and not rotated out (a rotated-out
        token working through its overlap shows on its successor's row)."""
        return self.active().filter(works_until__isnull=True)

    def recently_inactive(self, now=None):
        """Revoked or expired within the last RECENTLY_INACTIVE_DAYS days (the pages' inactive
        tables), most recent first. Tokens revoked before revocation times were recorded are
        left out."""
        now = now or timezone.now()
        today = now.astimezone(UTC).date()
        since = now - timedelta(days=RECENTLY_INACTIVE_DAYS)
        revoked = Q(revoked=True, revoked_at__gt=since)
        expired = Q(
            revoked=False,
            works_until__isnull=True,  # a rotated token is listed by when it was rotated out
            expires_at__lte=today,
            expires_at__gt=today - timedelta(days=RECENTLY_INACTIVE_DAYS),
        )
        rotated = Q(revoked=False, works_until__lte=now, works_until__gt=since)
        ended = Coalesce("revoked_at", "works_until", Cast("expires_at", models.DateTimeField()))
        return self.filter(revoked | expired | rotated).order_by(ended.desc(), "-id")


class TokenRecord(models.Model):
    """What every token kind stores: a name and an optional description, the digest of its
    value (never the value), an optional expiry date, whether it was revoked, and when it was
    made."""

    name = models.CharField(max_length=255)
    description = models.CharField(
        max_length=DESCRIPTION_MAX_LENGTH,
        blank=True,
        default="",
        error_messages={"max_length": DESCRIPTION_TOO_LONG_SHOWN},
    )
    token_digest = models.CharField(max_length=DIGEST_LENGTH, unique=True, editable=False)
    expires_at = models.DateField(null=True, blank=True, db_index=True)
    revoked = models.BooleanField(default=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    # The last distinct client addresses that used it, newest first (at most LAST_USED_IPS).
    last_used_ips = models.JSONField(default=list, blank=True, editable=False)
    # Rotation (tokens_site.rotation). A token rotated out works until `works_until` (the
    # overlap chosen; the rotation's moment without one). Its successor records it
    # (`previous`), when it replaced it (`rotated_at`), and until when the old value works
    # (`previous_expires_at`: the tables' "rotating — old value works until ...").
    works_until = models.DateTimeField(null=True, blank=True, editable=False)
    previous = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    rotated_at = models.DateTimeField(null=True, blank=True, editable=False)
    previous_expires_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]

    def save(self, *args, **kwargs) -> None:
        """A new token made without a date expires as the instance requires (see
        InstanceSettings.default_token_expiry): whatever makes it (service, command, console)."""
        if self._state.adding and self.expires_at is None:
            self.expires_at = InstanceSettings.current().default_token_expiry()
        super().save(*args, **kwargs)

    @property
    def is_expired(self) -> bool:
        return token_expired(self.expires_at)

    @property
    def expires_soon(self) -> bool:
        return token_expires_soon(self.expires_at)

    @property
    def rotated_out(self) -> bool:
        """Rotated, and past its overlap."""
        return self.works_until is not None and self.works_until <= timezone.now()

    @property
    def is_active(self) -> bool:
        """Neither revoked nor expired nor rotated out: the rule of `active_condition`, on a
        loaded row."""
        return not self.revoked and not self.is_expired and not self.rotated_out

    @property
    def previous_works(self) -> bool:
        """Made by a rotation whose old value still works (the overlap)."""
        return self.previous_expires_at is not None and self.previous_expires_at > timezone.now()

    def revoke_once(self) -> bool:
        """Mark it revoked with a conditional UPDATE. True for the call that revoked it; False
        when it already was (a double click, two administrators, a rotation racing a
        revocation), so that the caller reports it instead of auditing it twice. Revoking ends
        a rotation's overlap at once: the old value of this token's rotation, or this one's
        working days after it was rotated."""
        now = timezone.now()
        manager = type(self)._default_manager
        updated = manager.filter(pk=self.pk, revoked=False).update(revoked=True, revoked_at=now)
        if updated:
            self.revoked_at = now
            # This token in its overlap: it stops now (for reuse detection too), and its
            # successor's "rotating" note ends.
            if manager.filter(pk=self.pk, works_until__gt=now).update(works_until=now):
                self.works_until = now
                manager.filter(previous_id=self.pk, previous_expires_at__gt=now).update(
                    previous_expires_at=now
                )
            self._end_earlier_values(now)
        self.revoked = True
        return bool(updated)

    def _end_earlier_values(self, now) -> None:
        """Revoking ends every older value of this token's chain still in its overlap. An
        overlap is at most 7 days (tokens_site.rotation), so the walk back stops at the first
        rotation older than that: nothing before it can still work."""
        manager = type(self)._default_manager
        horizon = now - timedelta(hours=MAX_ROTATION_OVERLAP_HOURS)
        rotated_at, earlier = self.rotated_at, self.previous_id
        while earlier is not None and rotated_at is not None and rotated_at > horizon:
            row = manager.filter(pk=earlier).values("previous_id", "rotated_at").first()
            if row is None:
                break
            manager.filter(pk=earlier, revoked=False, works_until__gt=now).update(
                revoked=True, revoked_at=now, works_until=now
            )
            manager.filter(previous_id=earlier, previous_expires_at__gt=now).update(
                previous_expires_at=now
            )
            earlier, rotated_at = row["previous_id"], row["rotated_at"]
        if self.previous_expires_at is not None and self.previous_expires_at > now:
            manager.filter(pk=self.pk).update(previous_expires_at=now)
            self.previous_expires_at = now

    def rotated_expiry(self):
        """The successor's expiry when a rotation names no date (issue 16): as long a lifetime
        as this token had (creation to expiry), from today, within the longest allowed. A
        token without a date gives one without a date only where none is required; else the
        longest allowed lifetime."""
        instance = InstanceSettings.current()
        longest = instance.longest_token_lifetime_days()
        today = utc_today()
        if self.expires_at is None:
            needed = (
                instance.require_token_expiry or instance.personal_access_token_max_lifetime_days
            )
            return today + timedelta(days=longest) if needed else None
        lifetime = max((self.expires_at - self.created_at.astimezone(UTC).date()).days, 1)
        return today + timedelta(days=min(lifetime, longest))

    def touch(self, *, address: str | None = None, now=None) -> bool:
        """Record that the token was just used, and from `address` (its last LAST_USED_IPS
        distinct addresses, newest first): at most once per LAST_USED_UPDATE_INTERVAL_SECONDS.
        No query when the loaded time is recent, else one conditional UPDATE (so two processes
        racing write once, and never move the time backwards)."""
        now = now or timezone.now()
        interval = timedelta(seconds=settings.LAST_USED_UPDATE_INTERVAL_SECONDS)
        if self.last_used_at is not None and now - self.last_used_at < interval:
            return False
        addresses = self.last_used_ips or []
        if address is not None:
            addresses = [address, *(ip for ip in addresses if ip != address)][:LAST_USED_IPS]
        updated = (
            type(self)
            ._default_manager.filter(pk=self.pk)
            .filter(Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - interval))
            .update(last_used_at=now, last_used_ips=addresses)
        )
        if updated:
            self.last_used_at, self.last_used_ips = now, addresses
        return bool(updated)

    @property
    def ended_by(self) -> str | None:
        """Why it stopped working: "rotated" (out, at once or after its overlap), "revoked"
        or "expired"; None if active."""
        if self.works_until is not None and (
            self.rotated_out if not self.revoked else self.revoked_at == self.works_until
        ):
            return "rotated"
        if self.revoked:
            return "revoked"
        return "expired" if self.is_expired else None

    @property
    def ended_on(self):
        """When it stopped working: revoked or rotated out (a time), or expired (a date);
        None if active."""
        if self.revoked:
            return self.revoked_at
        if self.rotated_out:
            return self.works_until
        return self.expires_at if self.is_expired else None
