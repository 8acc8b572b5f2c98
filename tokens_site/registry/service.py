"""The Docker registry token service: which actions on which repositories a credential gets,
signed into a short-lived JWT the registry verifies with our certificate.

A repository name is `<project full path>[/<image>]`; it belongs to the project with the longest
matching path. The rules are the access policy's (tokens_site.access.policy.authorize):
deploy tokens pull with `read_registry` and push with `write_registry`; personal tokens pull with
`read_registry`, `read_api` or `api` (and Reporter, or a public project) and push with
`write_registry` or `api` (and Developer); anonymous requests pull public projects.
"""

import re
import secrets
import time
from dataclasses import dataclass

import jwt
from django.conf import settings
from django.utils.translation import gettext
from django.views.decorators.debug import sensitive_variables

from tokens_site.access.abilities import Ability
from tokens_site.access.policy import allowed_abilities, may_read_registry_catalog
from tokens_site.auth.principal import Principal
from tokens_site.models import Project
from tokens_site.registry.keys import key_id, signing_key

TOKEN_TTL_SECONDS = 300
CLOCK_SKEW_SECONDS = 10
# distribution's grammar (reference/regexp.go): lowercase path components, each alphanumeric runs
# joined by one '.', one '_', '__' or any run of '-', separated by '/'; at most 255 characters.
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
REPOSITORY_NAME = re.compile(rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*")
REPOSITORY_NAME_MAX_LENGTH = 255
KNOWN_ACTIONS = {"pull", "push", "delete", "*"}


class InvalidScope(ValueError):
    pass


@dataclass
class Scope:
    type: str
    name: str
    actions: list[str]


def parse_scope(value: str) -> Scope:
    """`repository:tanuki/app:pull,push` (or `registry:catalog:*`)."""
    kind, _, rest = value.partition(":")
    name, _, actions = rest.rpartition(":")
    requested = [action for action in actions.split(",") if action]
    if kind not in {"repository", "registry"} or not name or not requested:
        raise InvalidScope(
            gettext(
                "'%(scope)s' is not a scope: use repository:<name>:<actions>, "
                "e.g. repository:group/project:pull,push."
            )
            % {"scope": value}
        )
    if kind == "repository" and len(name) > REPOSITORY_NAME_MAX_LENGTH:
        raise InvalidScope(
            gettext("The repository name is too long: at most %(limit)s characters.")
            % {"limit": REPOSITORY_NAME_MAX_LENGTH}
        )
    if kind == "repository" and not REPOSITORY_NAME.fullmatch(name):
        raise InvalidScope(
            gettext("'%(name)s' is not a valid repository name (lowercase path).") % {"name": name}
        )
    unknown = set(requested) - KNOWN_ACTIONS
    if unknown:
        raise InvalidScope(
            gettext("Unknown actions in '%(scope)s': %(actions)s.")
            % {"scope": value, "actions": ", ".join(sorted(unknown))}
        )
    return Scope(type=kind, name=name, actions=requested)


def project_for(repository: str) -> Project | None:
    """The project a repository name belongs to: the longest project path it starts with.
    Paths are unique ignoring case, so one indexed `lower(full_path) IN (...)` finds it."""
    parts = repository.split("/")
    candidates = ["/".join(parts[:n]) for n in range(len(parts), 1, -1)]
    found = {
        project.full_path.lower(): project
        for project in Project.objects.select_related("group").by_full_paths(candidates)
    }
    return next((found[c] for c in candidates if c in found), None)


def granted_actions(principal: Principal, scope: Scope) -> list[str]:
    if scope.type == "registry":
        wants_catalog = scope.name == "catalog" and "*" in scope.actions
        return ["*"] if wants_catalog and may_read_registry_catalog(principal) else []
    project = project_for(scope.name)
    if project is None:
        return []
    wanted = {
        action: ability
        for action, ability in (("pull", Ability.READ_REGISTRY), ("push", Ability.WRITE_REGISTRY))
        if action in scope.actions or "*" in scope.actions
    }
    granted = allowed_abilities(principal, project, wanted.values())
    return [action for action, ability in wanted.items() if ability in granted]


@sensitive_variables()
def sign(subject: str, access: list[dict], service: str = "") -> tuple[str, int]:
    """A registry token for `access` ([{"type", "name", "actions"}]) and when it was issued,
    for `service` (the container registry unless told)."""
    now = int(time.time())
    claims = {
        "iss": settings.REGISTRY_ISSUER,
        "sub": subject,
        "aud": service or settings.REGISTRY_SERVICE,
        "iat": now,
        "nbf": now - CLOCK_SKEW_SECONDS,
        "exp": now + TOKEN_TTL_SECONDS,
        "jti": secrets.token_urlsafe(16),
        "access": access,
    }
    return jwt.encode(claims, signing_key(), algorithm="RS256", headers={"kid": key_id()}), now


@sensitive_variables()
def read_token(token: str, service: str) -> dict | None:
    """The claims of a token `sign` made for `service` (signature, audience, issuer and time
    checked), or None. The registry reads its own; the dependency proxy, served here, these."""
    try:
        return jwt.decode(
            token,
            signing_key().public_key(),
            algorithms=["RS256"],
            audience=service,
            issuer=settings.REGISTRY_ISSUER,
        )
    except jwt.PyJWTError:
        return None


@sensitive_variables()
def issue_token(
    principal: Principal, scopes: list[Scope], *, service: str = "", grant=granted_actions
) -> dict:
    """The token service's answer: a signed JWT granting what the principal may do (`grant`:
    the service's rules; the container registry's unless told)."""
    access = [
        {"type": scope.type, "name": scope.name, "actions": grant(principal, scope)}
        for scope in scopes
    ]
    subject = "" if principal.is_anonymous else principal.username
    token, now = sign(subject, access, service)
    issued = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    return {
        "token": token,
        "access_token": token,
        "expires_in": TOKEN_TTL_SECONDS,
        "issued_at": issued,
    }
