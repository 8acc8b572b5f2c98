"""The one HTTP authentication layer of the downstream endpoints (Git, API, packages, registry).

A view declares the project it serves and the ability it needs with `@credential_required`;
this module reads the credentials, finds who presents them through the Django authentication
backends (one per credential kind), decides, and answers the way clients expect:

- no or bad credentials: 401 with `WWW-Authenticate: Basic realm=...` (git and pip send
  credentials only after a 401); bad ones count towards the IP's failed-authentication ban;
- valid credentials without the scope or role: 403 with a one-line reason;
- a private project the credential may not see: 404.

A Basic secret is tried as a personal access token (the username is ignored), then as a deploy
token (the username must match), then — only where the view allows it and the instance too —
as the user's password. No session is created and no CSRF token is needed.
"""

import base64
import binascii
import functools
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import unquote

from django.conf import settings
from django.contrib.auth import authenticate, get_backends
from django.core.cache import cache
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt

from tokens_site.access import project_access
from tokens_site.audit import audit_event_record, client_ip
from tokens_site.models import (
    NO_ACCESS,
    AccessLevel,
    AuditAction,
    InstanceSettings,
    Project,
    Visibility,
)
from tokens_site.paths import record_id
from tokens_site.tokens import token_looks_generated

logger = logging.getLogger(__name__)

REALM = "Tokens"
_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
# Longer Authorization headers are refused unread (a token is < 300 characters).
MAX_AUTHORIZATION_LENGTH = 4096


class Ability(StrEnum):
    READ_REPOSITORY = "read_repository"
    WRITE_REPOSITORY = "write_repository"
    READ_REGISTRY = "read_registry"
    WRITE_REGISTRY = "write_registry"
    READ_PACKAGES = "read_package_registry"
    WRITE_PACKAGES = "write_package_registry"
    READ_API = "read_api"
    WRITE_API = "write_api"

    @property
    def reads(self) -> bool:
        return self.value.startswith("read_")


# Personal token scopes that grant each ability (the user's role is checked as well).
PERSONAL_SCOPES = {
    Ability.READ_REPOSITORY: {"read_repository", "write_repository", "api"},
    Ability.WRITE_REPOSITORY: {"write_repository", "api"},
    Ability.READ_REGISTRY: {"read_registry", "read_api", "api"},
    Ability.WRITE_REGISTRY: {"write_registry", "api"},
    Ability.READ_PACKAGES: {"read_api", "api"},
    Ability.WRITE_PACKAGES: {"api"},
    Ability.READ_API: {"read_api", "api"},
    Ability.WRITE_API: {"api"},
}
# The one deploy token scope that grants each ability; deploy tokens never push code and
# never use the API.
DEPLOY_SCOPES = {
    Ability.READ_REPOSITORY: "read_repository",
    Ability.READ_REGISTRY: "read_registry",
    Ability.WRITE_REGISTRY: "write_registry",
    Ability.READ_PACKAGES: "read_package_registry",
    Ability.WRITE_PACKAGES: "write_package_registry",
}
# The role each ability needs on the project (reading is also open on public projects).
REQUIRED_LEVEL = {
    Ability.READ_REPOSITORY: AccessLevel.REPORTER,
    Ability.WRITE_REPOSITORY: AccessLevel.DEVELOPER,
    Ability.READ_REGISTRY: AccessLevel.REPORTER,
    Ability.WRITE_REGISTRY: AccessLevel.DEVELOPER,
    Ability.READ_PACKAGES: AccessLevel.REPORTER,
    Ability.WRITE_PACKAGES: AccessLevel.DEVELOPER,
    Ability.READ_API: AccessLevel.GUEST,
    Ability.WRITE_API: AccessLevel.DEVELOPER,
}


class Kind(StrEnum):
    ANONYMOUS = "anonymous"
    PERSONAL_TOKEN = "personal_access_token"
    DEPLOY_TOKEN = "deploy_token"
    PASSWORD = "password"


@dataclass
class Principal:
    """Who a request acts as. `user` is None for deploy tokens and anonymous requests."""

    kind: Kind
    username: str = ""
    user: object = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    token: object = None
    # The user's effective role on the project, when the backend could compute it.
    level: int | None = None
    backend: str = ""  # set by django.contrib.auth.authenticate()


ANONYMOUS = Principal(kind=Kind.ANONYMOUS)


class Denied(Exception):
    """A refusal with its HTTP status and a reason a person can act on."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


# --- Reading credentials -----------------------------------------------------------------


def parse_basic(header: str) -> tuple[str, str] | None:
    """`Basic base64(username:secret)` → (username, secret); None for anything malformed: not
    Basic, bad base64, not UTF-8, no colon, an empty secret, control characters, too long."""
    if len(header) > MAX_AUTHORIZATION_LENGTH:
        return None
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    username, colon, secret = decoded.partition(":")
    if not colon or not secret or _CONTROL_CHARACTERS.search(decoded):
        return None
    return username, secret


@dataclass(frozen=True)
class Presented:
    """What a request presents: nothing, something unusable, or a username and a secret.
    `header_kind` is set for secrets from a token header (not Basic): the one credential kind
    that header carries (such a secret is never a password, and a deploy token in
    `Deploy-Token:` comes without a username)."""

    username: str = ""
    secret: str = ""
    malformed: bool = False
    header_kind: Kind | None = None

    @property
    def nothing(self) -> bool:
        return not self.malformed and not self.secret


@dataclass(frozen=True)
class TokenHeader:
    """Where a view also accepts a token besides Basic, and of which kind it is."""

    read: Callable[[object], str | None]
    kind: Kind


def _header(name: str) -> Callable[[object], str | None]:
    return lambda request: request.META.get(name)


def _bearer(request) -> str | None:
    scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


PRIVATE_TOKEN_HEADER = TokenHeader(_header("HTTP_PRIVATE_TOKEN"), Kind.PERSONAL_TOKEN)
BEARER_HEADER = TokenHeader(_bearer, Kind.PERSONAL_TOKEN)
PRIVATE_TOKEN_PARAMETER = TokenHeader(
    lambda request: request.GET.get("private_token"), Kind.PERSONAL_TOKEN
)
DEPLOY_TOKEN_HEADER = TokenHeader(_header("HTTP_DEPLOY_TOKEN"), Kind.DEPLOY_TOKEN)


def read_credentials(
    request, headers: tuple[TokenHeader, ...] = (), *, basic: bool = True
) -> Presented:
    """Basic credentials (unless `basic` is off), else the first token header present. An
    `Authorization` header that gives neither is malformed, never "no credential"."""
    authorization = request.META.get("HTTP_AUTHORIZATION")
    if authorization is not None and basic:
        parsed = parse_basic(authorization)
        if parsed is not None:
            return Presented(username=parsed[0], secret=parsed[1])
    for header in headers:
        token = header.read(request)
        if token:
            return Presented(secret=token.strip(), header_kind=header.kind)
    if authorization is not None:
        return Presented(malformed=True)
    return Presented()


# --- Failed-authentication ban ------------------------------------------------------------


def _ban_key(ip: str) -> str:
    return f"auth-ban:{ip}"


# Addresses this process found not banned, and when (time.monotonic()). For
# BAN_CHECK_CACHE_SECONDS such an address is not asked about again: a busy client costs one
# shared-cache read per second instead of one per request, and a ban made by another process
# takes effect here within that second.
_not_banned: dict[str, float] = {}
_NOT_BANNED_MAX_ENTRIES = 10_000


def ip_is_banned(ip: str | None) -> bool:
    if ip is None:
        return False
    now = time.monotonic()
    checked = _not_banned.get(ip)
    if checked is not None and now - checked < settings.BAN_CHECK_CACHE_SECONDS:
        return False
    if cache.get(_ban_key(ip)) is not None:
        _not_banned.pop(ip, None)
        return True
    if len(_not_banned) >= _NOT_BANNED_MAX_ENTRIES:
        _not_banned.clear()
    _not_banned[ip] = now
    return False


def record_failure(ip: str | None) -> None:
    """Count a failed attempt; at the limit within the period, ban the IP for a while. The
    counters live in the shared cache, so every server process honours the ban."""
    instance = InstanceSettings.current()
    if ip is None or not instance.failed_auth_ban_enabled:
        return
    key = f"auth-failures:{ip}"
    cache.add(key, 0, timeout=instance.failed_auth_ban_period_seconds)
    try:
        failures = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=instance.failed_auth_ban_period_seconds)
        failures = 1
    if failures >= instance.failed_auth_ban_limit and cache.add(
        _ban_key(ip), True, timeout=instance.failed_auth_ban_duration_seconds
    ):
        _not_banned.pop(ip, None)
        logger.warning("Banned %s after %s failed authentication attempts", ip, failures)
        audit_event_record(
            action=AuditAction.IP_BAN,
            target_type="ip_address",
            target_label=ip,
            ip_address=ip,
            details={
                "failures": failures,
                "period_seconds": instance.failed_auth_ban_period_seconds,
                "ban_seconds": instance.failed_auth_ban_duration_seconds,
            },
        )


# --- Who is it, and may they? -------------------------------------------------------------


@functools.cache
def token_backends() -> dict[Kind, object]:
    """The configured authentication backends of the token kinds, by kind (read once)."""
    return {
        backend.credential_kind: backend
        for backend in get_backends()
        if getattr(backend, "credential_kind", None) is not None
    }


def identify(request, presented: Presented, *, passwords: bool) -> Principal | None:
    """The principal for the presented secret, in the documented order, or None. The token
    backends are called directly (no per-request signature matching); a password goes through
    django.contrib.auth.authenticate() like any sign-in."""
    backends = token_backends()
    secret = presented.secret
    if presented.header_kind is Kind.DEPLOY_TOKEN:
        return backends[Kind.DEPLOY_TOKEN].authenticate(request, token=secret, from_header=True)
    principal = backends[Kind.PERSONAL_TOKEN].authenticate(request, token=secret)
    if principal is not None or presented.header_kind is not None:
        return principal
    principal = backends[Kind.DEPLOY_TOKEN].authenticate(
        request, username=presented.username, token=secret
    )
    if (
        principal is None
        and passwords
        and not token_looks_generated(secret)
        and InstanceSettings.current().git_password_authentication_enabled
    ):
        user = authenticate(request, username=presented.username, password=secret)
        if user is not None:
            principal = Principal(kind=Kind.PASSWORD, username=user.username, user=user)
    return principal


EXTERNAL_AUTHORIZATION_REFUSAL = "Deploy tokens cannot be used while external authorization is on."


def check_instance_policy(principal: Principal) -> None:
    """Raise Denied (403) when the instance settings refuse this kind of credential on every
    endpoint, whatever it asks for: deploy tokens while external authorization is on."""
    if (
        principal.kind is Kind.DEPLOY_TOKEN
        and InstanceSettings.current().external_authorization_enabled
    ):
        raise Denied(403, EXTERNAL_AUTHORIZATION_REFUSAL)


def authorize(principal: Principal, project: Project, ability: Ability) -> None:
    """Raise Denied (403 or 404) unless `principal` may exercise `ability` on `project`."""
    if principal.kind is Kind.DEPLOY_TOKEN:
        token = principal.token
        if not token.reaches(project):
            raise Denied(404, "The project was not found.")
        scope = DEPLOY_SCOPES.get(ability)
        if scope is None:
            verb = "push code" if ability is Ability.WRITE_REPOSITORY else "use the API"
            raise Denied(403, f"Deploy tokens cannot {verb}: they only read the repository.")
        if scope not in principal.scopes:
            raise Denied(403, f"Insufficient scope: this deploy token needs {scope}.")
        return

    open_to_read = ability.reads and (
        project.visibility == Visibility.PUBLIC
        or (project.visibility == Visibility.INTERNAL and principal.user is not None)
    )
    if principal.kind is Kind.ANONYMOUS:
        if not open_to_read:
            raise Denied(401, "Authentication required.")
        return

    level = principal.level
    if level is None:
        level = project_access(principal.user, project).level
    if level == NO_ACCESS and not open_to_read and project.visibility == Visibility.PRIVATE:
        raise Denied(404, "The project was not found.")
    if principal.kind is Kind.PERSONAL_TOKEN:
        # After the 404: a token's scopes must not tell whether a private project exists.
        wanted = PERSONAL_SCOPES[ability]
        if not wanted & principal.scopes:
            needs = " or ".join(sorted(wanted))
            raise Denied(403, f"Insufficient scope: this token needs {needs}.")
    needed = REQUIRED_LEVEL[ability]
    if level < needed and not open_to_read:
        raise Denied(
            403,
            f"You need at least the {AccessLevel(needed).label} role in this project "
            f"to {describe(ability)} (you have {role_name(level)}).",
        )


def describe(ability: Ability) -> str:
    return {
        Ability.READ_REPOSITORY: "read its code",
        Ability.WRITE_REPOSITORY: "push code",
        Ability.READ_REGISTRY: "pull images",
        Ability.WRITE_REGISTRY: "push images",
        Ability.READ_PACKAGES: "download packages",
        Ability.WRITE_PACKAGES: "upload packages",
        Ability.READ_API: "read it",
        Ability.WRITE_API: "change it",
    }[ability]


def role_name(level: int) -> str:
    return AccessLevel(level).label if level else "no role"


# --- Responses and the decorator ----------------------------------------------------------


def text_response(status: int, message: str) -> HttpResponse:
    response = HttpResponse(f"{message}\n", status=status, content_type="text/plain; charset=utf-8")
    if status == 401:
        response["WWW-Authenticate"] = f'Basic realm="{REALM}"'
    return response


UNAUTHORIZED_MESSAGE = (
    "HTTP Basic: Access denied. Use a personal access token or a deploy token (with its "
    "username) as the password."
)
BANNED_MESSAGE = "Too many failed authentication attempts from this IP address. Try again later."


def load_project_by_full_path(request, kwargs) -> Project | None:
    return (
        Project.objects.select_related("group")
        .only("id", "full_path", "visibility", "group__id", "group__traversal")
        .by_full_path(kwargs.pop("full_path"))
        .first()
    )


def load_project_by_ref(request, kwargs) -> Project | None:
    """`project_ref` is a project's id or its URL-encoded full path (API style)."""
    ref = unquote(kwargs.pop("project_ref"))
    projects = Project.objects.select_related("group").only(
        "id", "full_path", "visibility", "group__id", "group__traversal"
    )
    number = record_id(ref)
    if number is not None:
        return projects.filter(pk=number).first()
    return projects.by_full_path(ref).first()


def credential_required(
    ability: Ability | Callable[[object], Ability],
    *,
    load_project: Callable | None = load_project_by_full_path,
    passwords: bool = False,
    headers: tuple[TokenHeader, ...] = (),
    respond: Callable[[int, str], HttpResponse] = text_response,
):
    """Protect a downstream view of one project. The view is called as
    `view(request, project, principal, **remaining_url_kwargs)`. With `load_project=None` the
    view serves no project: any valid credential passes (project is None, anonymous gets 401).

    `ability` may be a function of the request (e.g. Git's `?service=`); `passwords` lets a
    user's password through (Git over HTTP only, and only when the instance allows it);
    `headers` add token headers besides Basic (packages); `respond` shapes errors.
    """

    def decorator(view):
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            ip = client_ip(request)
            if ip_is_banned(ip):
                return respond(403, BANNED_MESSAGE)
            try:
                wanted = ability(request) if callable(ability) else ability
            except Denied as denied:
                return respond(denied.status, denied.reason)
            presented = read_credentials(request, headers)
            if presented.nothing:
                principal = ANONYMOUS
            else:
                principal = (
                    None
                    if presented.malformed
                    else identify(request, presented, passwords=passwords)
                )
                if principal is None:
                    record_failure(ip)
                    return respond(401, UNAUTHORIZED_MESSAGE)
                try:
                    check_instance_policy(principal)
                except Denied as denied:
                    return respond(denied.status, denied.reason)
            # Only now the project: refused credentials cost no query at all.
            project = load_project(request, kwargs) if load_project else None
            if project is None:
                if principal is ANONYMOUS:
                    return respond(401, UNAUTHORIZED_MESSAGE)
                if load_project is None:
                    return view(request, None, principal, *args, **kwargs)
                return respond(404, "The project was not found.")
            try:
                authorize(principal, project, wanted)
            except Denied as denied:
                if denied.status == 401:
                    return respond(401, UNAUTHORIZED_MESSAGE)
                return respond(denied.status, denied.reason)
            return view(request, project, principal, *args, **kwargs)

        return wrapper

    return decorator
