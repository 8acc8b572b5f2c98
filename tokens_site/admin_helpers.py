"""Pieces the token admins share: the state filter, the shown-once page, revoking in bulk."""

from collections.abc import Callable, Iterable

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.template.response import TemplateResponse
from django.views.decorators.cache import never_cache

from tokens_site.tokens import utc_today


class TokenStateFilter(admin.SimpleListFilter):
    """Active / expired / revoked, for any model with `revoked` and `expires_at`."""

    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("active", "Active"), ("expired", "Expired"), ("revoked", "Revoked")]

    def queryset(self, request, queryset):
        today = utc_today()
        not_expired = Q(expires_at__isnull=True) | Q(expires_at__gt=today)
        if self.value() == "active":
            return queryset.filter(not_expired, revoked=False)
        if self.value() == "expired":
            return queryset.filter(revoked=False, expires_at__lte=today)
        if self.value() == "revoked":
            return queryset.filter(revoked=True)
        return queryset


def without_delete_selected(actions: dict) -> dict:
    """Tokens are revoked, not deleted: the rows stay for the audit trail."""
    actions.pop("delete_selected", None)
    return actions


def render_token_created(request, model_admin, obj, *, title: str, plaintext: str, username=""):
    """The admin's answer to "add token": the value, once, never cached."""
    opts = model_admin.model._meta
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "opts": opts,
        "original": obj,
        "username": username,
        "plaintext": plaintext,
    }
    response = TemplateResponse(request, "admin/token_created.html", context)
    return never_cache(lambda request: response)(request)


def revoke_each(model_admin, request, tokens: Iterable, *, revoke: Callable, noun: str) -> None:
    revoked, problems = 0, []
    for token in tokens:
        try:
            revoke(token)
            revoked += 1
        except (ValidationError, PermissionDenied) as error:
            problems.extend(error.messages if isinstance(error, ValidationError) else [str(error)])
    if revoked:
        plural = "" if revoked == 1 else "s"
        model_admin.message_user(request, f"Revoked {revoked} {noun}{plural}.", messages.SUCCESS)
    for problem in problems:
        model_admin.message_user(request, problem, messages.WARNING)
