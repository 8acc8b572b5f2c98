"""Audit events: every state change worth auditing is recorded through this one function."""

import functools
import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.db import models

from tokens_site.models import AuditAction, AuditEvent


@functools.lru_cache(maxsize=4096)  # the same few addresses come again and again
def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """An address, also as some proxies forward it with a port: `1.2.3.4:5678`,
    `[2001:db8::1]:443` or `[2001:db8::1]`."""
    value = value.strip()
    if value.startswith("["):
        value = value[1:].partition("]")[0]
    elif value.count(":") == 1:
        value = value.partition(":")[0]
    try:
        return ipaddress.ip_address(value)
    except ValueError:
        return None


def _trusted(address, networks) -> bool:
    return any(address in network for network in networks)


def client_ip(request) -> str | None:
    """The address the request came from: the peer gunicorn saw, or, when that peer is one of
    TRUSTED_PROXIES, the nearest address in X-Forwarded-For that is not a trusted proxy."""
    peer = _address(request.META.get("REMOTE_ADDR", ""))
    networks = settings.TRUSTED_PROXY_NETWORKS
    if peer is None or not networks or not _trusted(peer, networks):
        return str(peer) if peer else None
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
    for hop in reversed(forwarded):
        address = _address(hop)
        if address is None:
            break
        if not _trusted(address, networks):
            return str(address)
    return str(peer)


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
