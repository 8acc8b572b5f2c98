"""The failed-authentication ban: after `failed_auth_ban_limit` failures from one address
within the period, the address is refused everywhere credentials are checked (Git, packages,
the registry's token service, the API, sign-in) for the ban's duration. GitLab's Rack::Attack
rule for Git and the registry, applied to every credential path.

Every check asks the store (tokens_site.auth.store: tables, never a cache): a ban holds on
every worker and host from the moment it is made. Failures are counted atomically, so in a burst at
most `limit + workers * threads` failed attempts reach a credential check: those already past
the ban check when the limit was reached. Switching the ban off in the instance settings stops
both counting and refusing. Trusted reverse proxies are never counted or banned, whatever their
`X-Forwarded-For` holds.
"""

import ipaddress
import logging

from django.utils.translation import gettext, gettext_noop

from tokens_site.audit import IPV6_BAN_PREFIX, audit_event_record, ban_key, parse_address
from tokens_site.auth.store import store
from tokens_site.models import AuditAction, InstanceSettings

logger = logging.getLogger(__name__)

# Marked here, translated when the refusal is written (tokens_site.auth.pipeline.BANNED).
BANNED_MESSAGE = gettext_noop(
    "Too many failed authentication attempts from this IP address. Try again later."
)


def ban_enforced() -> bool:
    return InstanceSettings.current().failed_auth_ban_enabled


def is_banned(ip: str | None) -> bool:
    if ip is None or not ban_enforced():
        return False
    return store().is_banned(ip)


def record_failure(ip: str | None) -> None:
    """Count one failed attempt from `ip`; at the limit, ban it (once, with an audit event)."""
    instance = InstanceSettings.current()
    if ip is None or not instance.failed_auth_ban_enabled:
        return
    failures = store().count_failure(ip, period_seconds=instance.failed_auth_ban_period_seconds)
    if failures < instance.failed_auth_ban_limit:
        return
    if store().ban(
        ip, duration_seconds=instance.failed_auth_ban_duration_seconds, failures=failures
    ):
        logger.warning("Banned %s after %s failed authentication attempts", ip, failures)
        audit_event_record(
            action=AuditAction.IP_BAN,
            target_type="ip_address",
            target_label=ip,
            # An IPv6 /64 is recorded by its first address: the column holds addresses only.
            ip_address=ip.partition("/")[0],
            details={
                "failures": failures,
                "period_seconds": instance.failed_auth_ban_period_seconds,
                "ban_seconds": instance.failed_auth_ban_duration_seconds,
            },
        )


def ban_lift(*, ip: str, actor=None, ip_address: str | None = None) -> bool:
    """Lift the ban of `ip` — an address (any spelling: `2001:DB8:0::1`), or an IPv6 /64 as
    listed — and forget its failures. False when it was not banned; ValueError when `ip` is
    neither."""
    text = ip.strip()
    if "/" in text:
        network = ipaddress.ip_network(text, strict=False)
        if network.version != 6 or network.prefixlen != IPV6_BAN_PREFIX:
            raise ValueError(
                gettext("%(address)s is not an address, nor an IPv6 /%(prefix)s.")
                % {"address": text, "prefix": IPV6_BAN_PREFIX}
            )
        ip = str(network)
    else:
        address = parse_address(text)
        if address is None:
            raise ValueError(gettext("%(address)s is not an IP address.") % {"address": text})
        ip = ban_key(address)
    lifted = store().lift(ip)
    if lifted:
        audit_event_record(
            action=AuditAction.IP_UNBAN,
            actor=actor,
            target_type="ip_address",
            target_label=ip,
            ip_address=ip_address,
        )
    return lifted
