"""Required two-factor authentication: the instance's setting ("everyone") and each group's
("members of this group, its subgroups and their projects"). A user it applies to who has no
app and no key gets a grace period, counted from the first page they see once it applies
(EnforcementGrace; the shortest period of the settings that apply): during it every page
reminds them, after it every page but the set-up and sign-out sends them to the set-up.

The check runs for signed-in browser sessions only (the middleware below); Git, the API, the
registry and packages are never redirected: they take tokens, which keep working."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Exists, F, OuterRef, Subquery
from django.db.models.lookups import StartsWith
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tokens_site.models import Group, InstanceSettings, Membership
from two_factor.models import EnforcementGrace
from two_factor.selectors import has_two_factor

INSTANCE = _("this instance")


@dataclass(frozen=True)
class Requirement:
    """Who requires it of the user (INSTANCE or group names), and by when."""

    required_by: tuple[str, ...]
    deadline: datetime

    def overdue(self, now: datetime | None = None) -> bool:
        return (now or timezone.now()) >= self.deadline


def requiring_groups(user_id):
    """The groups that require two-factor authentication of the user `user_id` (an id, or an
    outer reference to one): those with the setting at or above a group or project the user
    is a member of."""
    below = Membership.objects.filter(user_id=user_id).filter(
        StartsWith(F("group__traversal"), OuterRef("traversal"))
        | StartsWith(F("project__group__traversal"), OuterRef("traversal"))
    )
    return Group.objects.filter(require_two_factor_authentication=True).filter(Exists(below))


def requirement_for(user, now: datetime | None = None) -> Requirement | None:
    """What requires two-factor authentication of `user`, who has not set it up; None when
    nothing does, or they have. The grace period starts on the first call that finds a
    requirement, and is forgotten once nothing requires it (a requirement imposed again
    later gives a new one). One query, and a second to name the groups only when one
    requires it."""
    if not user.is_authenticated:
        return None
    now = now or timezone.now()
    row = (
        get_user_model()
        .objects.filter(pk=user.pk)
        .annotate(
            enabled=has_two_factor(),
            grace_started=Subquery(
                EnforcementGrace.objects.filter(user=OuterRef("pk")).values("started_at")
            ),
            group_required=Exists(requiring_groups(OuterRef(OuterRef("pk")))),
        )
        .values("enabled", "grace_started", "group_required")
        .first()
    )
    if row is None or row["enabled"]:
        return None
    instance = InstanceSettings.current()
    periods: list[int] = []
    required_by: list[str] = []
    if instance.require_two_factor_authentication:
        periods.append(instance.two_factor_grace_period)
        required_by.append(INSTANCE)
    if row["group_required"]:
        groups = requiring_groups(user.pk).order_by("traversal")
        for name, hours in groups.values_list("name", "two_factor_grace_period"):
            periods.append(hours)
            required_by.append(name)
    started = row["grace_started"]
    if not periods:
        if started is not None:
            EnforcementGrace.objects.filter(user=user).delete()
        return None
    if started is None:
        started = EnforcementGrace.objects.get_or_create(user=user, defaults={"started_at": now})[
            0
        ].started_at
    return Requirement(
        required_by=tuple(required_by), deadline=started + timedelta(hours=min(periods))
    )


# The endpoints of clients that authenticate with tokens, never with the session: a
# browser's cookie sent along changes nothing there.
TOKEN_ENDPOINTS = ("/api/", "/v2/", "/jwt/")


def _exempt(path: str) -> bool:
    """Whether an overdue user may still go to `path`: the set-up (and its recovery codes),
    sign-out, static files, and the token clients' endpoints."""
    allowed = (
        reverse("two_factor:settings"),
        reverse("sign_out"),
        reverse("admin:logout"),
        settings.STATIC_URL,
        *TOKEN_ENDPOINTS,
    )
    return path.startswith(allowed) or ".git/" in path


class TwoFactorEnforcementMiddleware:
    """After AuthenticationMiddleware: puts the user's Requirement on the request
    (`request.two_factor_requirement`, for the reminder on every page) and, once it is
    overdue, redirects every page but the exempt ones to the set-up. Requests without a
    session cookie (Git, the API, registries, packages) are not looked at."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        request.two_factor_requirement = None
        if settings.SESSION_COOKIE_NAME in request.COOKIES and request.user.is_authenticated:
            requirement = requirement_for(request.user)
            request.two_factor_requirement = requirement
            if requirement is not None and requirement.overdue() and not _exempt(request.path):
                return redirect("two_factor:settings")
        return self.get_response(request)


def requirement_context(request) -> dict:
    """Template context processor: the reminder's requirement, if any."""
    return {"two_factor_requirement": getattr(request, "two_factor_requirement", None)}
