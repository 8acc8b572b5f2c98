"""What every token kind stores (`TokenRecord`), and the one definition of an active token."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from tokens_site.tokens import DIGEST_LENGTH, token_expired, token_expires_soon, utc_today

DESCRIPTION_MAX_LENGTH = 255  # GitLab's limit for a token's description
DESCRIPTION_TOO_LONG = f"Description is too long: use at most {DESCRIPTION_MAX_LENGTH} characters."


def active_condition(today=None) -> Q:
    """The one definition of an active token, in SQL: neither revoked nor expired (expired
    from 00:00 UTC on the expiry date). `TokenRecord.is_active` is the same rule in Python."""
    today = today or utc_today()
    return Q(Q(expires_at__isnull=True) | Q(expires_at__gt=today), revoked=False)


def expired_condition(today=None) -> Q:
    """Not revoked, but past its expiry date."""
    return Q(revoked=False, expires_at__lte=today or utc_today())


class TokenQuerySet(models.QuerySet):
    def active(self, today=None):
        return self.filter(active_condition(today))

    def inactive(self, today=None):
        return self.exclude(active_condition(today))


class TokenRecord(models.Model):
    """What every token kind stores: a name and an optional description, the digest of its
    value (never the value), an optional expiry date, whether it was revoked, and when it was
    made."""

    name = models.CharField(max_length=255)
    description = models.CharField(
        max_length=DESCRIPTION_MAX_LENGTH,
        blank=True,
        default="",
        error_messages={"max_length": DESCRIPTION_TOO_LONG},
    )
    token_digest = models.CharField(max_length=DIGEST_LENGTH, unique=True, editable=False)
    expires_at = models.DateField(null=True, blank=True, db_index=True)
    revoked = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]

    @property
    def is_expired(self) -> bool:
        return token_expired(self.expires_at)

    @property
    def expires_soon(self) -> bool:
        return token_expires_soon(self.expires_at)

    @property
    def is_active(self) -> bool:
        """Neither revoked nor expired: the rule of `active_condition`, on a loaded row."""
        return not self.revoked and not self.is_expired

    def revoke_once(self) -> bool:
        """Mark it revoked with a conditional UPDATE. True for the call that revoked it; False
        when it already was (a double click, two administrators, a rotation racing a
        revocation), so that the caller reports it instead of auditing it twice."""
        updated = type(self)._default_manager.filter(pk=self.pk, revoked=False).update(revoked=True)
        self.revoked = True
        return bool(updated)
