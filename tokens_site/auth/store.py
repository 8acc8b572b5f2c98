"""Where failed-attempt counters, address bans and used form keys are kept: database tables
(tokens_site.models.security), never a cache. A cache may drop entries under pressure (Django's
database cache culls a third of its entries at 300), and with them a ban.

Every write is one atomic statement (`INSERT ... ON CONFLICT ... RETURNING`, which PostgreSQL
and SQLite both speak), so concurrent workers and threads count every failure exactly once
and make a ban exactly once. Every check reads the table itself (no process remembers "not
banned"): a ban holds on every worker and host from the moment it is made. A token lookup
reads its address's ban in the same statement (`ban_expiry_of()`), so checking the ban of a
request that presents a token costs no query of its own.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Subquery
from django.utils import timezone

from tokens_site.lookups import CompiledLookup
from tokens_site.models import AddressBan, FailedAuthCounter, FormKeyClaim

# Stands for a client address while a lookup is compiled (see CompiledLookup).
ADDRESS_SENTINEL = "0.0.0.0"  # noqa: S104 (never bound, never compared)
# What a lookup is given when there is no address to check (a trusted proxy's own request).
NO_ADDRESS = ""


@dataclass(frozen=True)
class Ban:
    ip_address: str
    created_at: datetime
    expires_at: datetime
    failures: int


def ban_expiry_of(address: str) -> Subquery:
    """When the ban of `address` ends (NULL: never banned), as a column of another lookup."""
    return Subquery(AddressBan.objects.filter(ip_address=address).values("expires_at")[:1])


def ban_in_force(expires_at: datetime | None) -> bool:
    return expires_at is not None and expires_at > timezone.now()


class DatabaseStore:
    _ban_expiry = CompiledLookup(
        lambda ip: AddressBan.objects.order_by().filter(ip_address=ip).values_list("expires_at"),
        sentinel=ADDRESS_SENTINEL,
    )

    @staticmethod
    def _table(model) -> str:
        return connection.ops.quote_name(model._meta.db_table)

    @staticmethod
    def _moment(value: datetime):
        """A datetime as this database's driver takes it in raw SQL (naive UTC on SQLite)."""
        return connection.ops.adapt_datetimefield_value(value)

    def is_banned(self, ip: str) -> bool:
        row = self._ban_expiry.row(ip)
        return row is not None and ban_in_force(row[0])

    def count_failure(self, ip: str, *, period_seconds: int) -> int:
        """One more failure from `ip`; returns how many failures of the last `period_seconds`
        it counts, as a sliding window over fixed periods: the current period's, plus the
        previous period's weighed by how much of the last `period_seconds` it still covers. A
        burst just before a period ends and one just after it add up, as they happened within
        one period."""
        now = timezone.now()
        elapsed, index = math.modf(now.timestamp() / period_seconds)
        table = self._table(FailedAuthCounter)
        same_period = f"{table}.period_seconds = excluded.period_seconds"
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (ip_address, period_seconds, window_index, failures, "  # noqa: S608
                f"previous_failures, last_failed_at) VALUES (%s, %s, %s, 1, 0, %s) "
                f"ON CONFLICT (ip_address) DO UPDATE SET "
                f"previous_failures = CASE WHEN NOT ({same_period}) THEN 0 "
                f"WHEN {table}.window_index = excluded.window_index "
                f"THEN {table}.previous_failures "
                f"WHEN {table}.window_index = excluded.window_index - 1 THEN {table}.failures "
                f"ELSE 0 END, "
                f"failures = CASE WHEN {same_period} "
                f"AND {table}.window_index = excluded.window_index "
                f"THEN {table}.failures + 1 ELSE 1 END, "
                f"period_seconds = excluded.period_seconds, "
                f"window_index = excluded.window_index, "
                f"last_failed_at = excluded.last_failed_at "
                f"RETURNING failures, previous_failures",
                [ip, period_seconds, int(index), self._moment(now)],
            )
            failures, previous = cursor.fetchone()
        return failures + math.floor(previous * (1 - elapsed))

    def ban(self, ip: str, *, duration_seconds: int, failures: int) -> bool:
        """Ban `ip` unless it is banned already; True when this call made the ban."""
        now = timezone.now()
        table = self._table(AddressBan)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (ip_address, created_at, expires_at, failures) "  # noqa: S608
                f"VALUES (%s, %s, %s, %s) ON CONFLICT (ip_address) DO UPDATE SET "
                f"created_at = excluded.created_at, expires_at = excluded.expires_at, "
                f"failures = excluded.failures WHERE {table}.expires_at <= %s "
                f"RETURNING ip_address",
                [
                    ip,
                    self._moment(now),
                    self._moment(now + timedelta(seconds=duration_seconds)),
                    failures,
                    self._moment(now),
                ],
            )
            return cursor.fetchone() is not None

    def lift(self, ip: str) -> bool:
        """End the ban of `ip` and forget its failures; False when it was not banned."""
        banned = AddressBan.objects.filter(ip_address=ip, expires_at__gt=timezone.now()).exists()
        AddressBan.objects.filter(ip_address=ip).delete()
        FailedAuthCounter.objects.filter(ip_address=ip).delete()
        return banned

    def bans(self) -> list[Ban]:
        return [
            Ban(ban.ip_address, ban.created_at, ban.expires_at, ban.failures)
            for ban in AddressBan.objects.filter(expires_at__gt=timezone.now())
        ]

    def claim_once(self, key: str, *, ttl_seconds: int) -> bool:
        """Claim a single-use key: True the first time (within `ttl_seconds`)."""
        now = timezone.now()
        table = self._table(FormKeyClaim)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (once_key, expires_at) VALUES (%s, %s) "  # noqa: S608
                f"ON CONFLICT (once_key) DO UPDATE SET expires_at = excluded.expires_at "
                f"WHERE {table}.expires_at <= %s RETURNING once_key",
                [key, self._moment(now + timedelta(seconds=ttl_seconds)), self._moment(now)],
            )
            return cursor.fetchone() is not None

    def purge(self, *, counter_age_seconds: int) -> int:
        """Delete what no longer counts: ended bans, used form keys past their age, counters
        whose period ended. Returns how many rows went."""
        now = timezone.now()
        removed = AddressBan.objects.filter(expires_at__lte=now).delete()[0]
        removed += FormKeyClaim.objects.filter(expires_at__lte=now).delete()[0]
        cutoff = now - timedelta(seconds=counter_age_seconds)
        removed += FailedAuthCounter.objects.filter(last_failed_at__lte=cutoff).delete()[0]
        return removed


_STORE = DatabaseStore()


def store() -> DatabaseStore:
    return _STORE
