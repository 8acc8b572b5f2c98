"""Audit events: every state change worth auditing is recorded through this one function."""

import functools
import ipaddress
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.db import models

from tokens_site.models import AuditAction, AuditEvent

logger = logging.getLogger(__name__)


@functools.lru_cache(maxsize=4096)  # the same few addresses come again and again
def parse_address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address, also as some proxies forward it with a port: `1.2.3.4:5678`,
    `[2001:db8::1]:443` or `[2001:db8::1]`. An IPv4 address in IPv6 form (`::ffff:1.2.3.4`, how
    a dual-stack socket sees an IPv4 peer) is that IPv4 address."""
    value = value.strip()
    if value.startswith("["):
        value = value[1:].partition("]")[0]
    elif value.count(":") == 1:
        value = value.partition(":")[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    return getattr(address, "ipv4_mapped", None) or address


def _trusted(address, networks) -> bool:
    return any(address in network for network in networks)


def _from_trusted_proxy(raw_peer: str, peer) -> bool:
    """Whether the request's peer is one of TRUSTED_PROXIES: an address among its networks,
    or gunicorn's unix socket (no peer address) when it lists `unix`."""
    if peer is None:
        return raw_peer == "" and settings.TRUSTED_UNIX_SOCKET_PROXY
    networks = settings.TRUSTED_PROXY_NETWORKS
    return bool(networks) and _trusted(peer, networks)


def client_ip(request) -> str | None:
    """The address the request came from: the peer gunicorn saw, or, when that peer is one of
    TRUSTED_PROXIES, the nearest address in X-Forwarded-For that is not a trusted proxy."""
    raw_peer = request.META.get("REMOTE_ADDR", "")
    peer = parse_address(raw_peer)
    if not _from_trusted_proxy(raw_peer, peer):
        return str(peer) if peer else None
    for hop in reversed(request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")):
        address = parse_address(hop)
        if address is None:
            break
        if not _trusted(address, settings.TRUSTED_PROXY_NETWORKS):
            return str(address)
    return str(peer) if peer else None


# An IPv6 client is usually given a whole /64: it is banned as one.
IPV6_BAN_PREFIX = 64


def ban_key(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """What failures are counted against for `address`: itself, or its IPv6 /64."""
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/{IPV6_BAN_PREFIX}", strict=False))
    return str(address)


_unknown_client_reported = False


def ban_address(request) -> str | None:
    """What the request's failed attempts count against (see ban_key): the client's, never a
    trusted proxy's. A request from a proxy whose `X-Forwarded-For` names no client (missing
    or malformed) counts against no one: banning the proxy would lock out everyone behind it.
    Nor does one whose client is unknown (gunicorn on a unix socket, without `unix` in
    TRUSTED_PROXIES), which is said in the log once."""
    global _unknown_client_reported
    address = parse_address(client_ip(request) or "")
    if address is None:
        if request.META.get("REMOTE_ADDR") == "" and not _unknown_client_reported:
            _unknown_client_reported = True
            logger.warning(
                "Requests reach this server without a client address (a unix socket?): "
                "failed attempts cannot be counted per address. Add `unix` to "
                "TRUSTED_PROXIES so the proxy's X-Forwarded-For is used."
            )
        return None
    if _trusted(address, settings.TRUSTED_PROXY_NETWORKS):
        return None
    return ban_key(address)


# Details every event recorded in the current request carries (see audit_context).
_request_details: ContextVar[dict | None] = ContextVar("audit_request_details", default=None)


@contextmanager
def audit_context(**details) -> Iterator[None]:
    """Add `details` to every event recorded inside the block: e.g. the administrator behind
    an API request made with `Sudo`, which the services, acting as the impersonated user,
    do not know about."""
    token = _request_details.set({**(_request_details.get() or {}), **details})
    try:
        yield
    finally:
        _request_details.reset(token)


def audit_event_record(
    *,
    action: AuditAction,
    actor=None,
    target: models.Model | None = None,
    target_type: str = "",
    target_label: str = "",
    ip_address: str | None = None,
    details: dict | None = None,
) -> AuditEvent:
    """Record one event. `target` names a record; `target_type`/`target_label` name anything
    else (an IP address). `__str__` of the target must never contain a secret."""
    if target is not None:
        target_type = target_type or target._meta.model_name
        target_label = target_label or str(target)
    actor = actor if actor is not None and actor.is_authenticated else None
    return AuditEvent.objects.create(
        action=action,
        actor=actor,
        actor_username=actor.get_username() if actor else "",
        target_type=target_type,
        target_id=str(target.pk) if target is not None else "",
        target_label=target_label,
        ip_address=ip_address,
        details={**(_request_details.get() or {}), **(details or {})},
    )
