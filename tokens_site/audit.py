"""Audit events: every state change worth auditing is recorded through this one function."""

import ipaddress

from django.db import models

from tokens_site.models import AuditAction, AuditEvent


def client_ip(request) -> str | None:
    """The address the request came from (the peer gunicorn saw)."""
    address = request.META.get("REMOTE_ADDR", "")
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


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
        details=details or {},
    )
