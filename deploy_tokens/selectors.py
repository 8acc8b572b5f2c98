"""Reads of deploy tokens: the token a credential names, and the one CI jobs get."""

import hmac

from django.views.decorators.debug import sensitive_variables

from deploy_tokens.models import GITLAB_DEPLOY_TOKEN_NAME, PREFIX, SCOPES, DeployToken
from tokens_site.auth.store import ADDRESS_SENTINEL, NO_ADDRESS, ban_expiry_of
from tokens_site.lookups import CompiledLookup, instance_from
from tokens_site.models import Project
from tokens_site.tokens import token_digest, token_is_well_formed

# What authenticating and checking reach need; nothing else is read.
TOKEN_FIELDS = (
    "id",
    "name",
    "username",
    "project_id",
    "group_id",
    "expires_at",
    "revoked",
    "works_until",
    "last_used_at",
    "last_used_ips",
    *SCOPES,
)

_by_digest = CompiledLookup(
    lambda digest, address: (
        DeployToken.objects.order_by()
        .filter(token_digest=digest)
        .annotate(address_banned_until=ban_expiry_of(address))
        .values_list(*TOKEN_FIELDS, "address_banned_until")
    ),
    sentinels=("__digest__", ADDRESS_SENTINEL),
)


@sensitive_variables("plaintext")
def deploy_token_find_active(
    plaintext: str, *, username: str | None, address: str | None = None
) -> DeployToken | None:
    """The active deploy token with this value and this username, or None; its
    `address_banned_until` is when the ban of `address` (the client presenting it) ends, if
    there is one. One query on one table (its project or group id is all reach needs, and the
    address's ban comes in the same statement); a malformed value costs none.
    `username=None` is for the `Deploy-Token:` header, which carries the token alone."""
    if not token_is_well_formed(plaintext, PREFIX):
        return None
    row = _by_digest.row(token_digest(plaintext), address or NO_ADDRESS)
    if row is None:
        return None
    token = instance_from(DeployToken, dict(zip(TOKEN_FIELDS, row[:-1], strict=True)))
    token.address_banned_until = row[-1]
    if not token.is_active:
        return None
    if username is not None and not hmac.compare_digest(username.encode(), token.username.encode()):
        return None
    return token


def ci_deploy_token_for(project: Project) -> DeployToken | None:
    """The active `gitlab-deploy-token` that CI jobs of `project` get: the project's own first,
    else the one of the nearest group above it; the newest when there are several."""
    candidates = (
        DeployToken.objects.active()
        .reaching(project)
        .filter(name=GITLAB_DEPLOY_TOKEN_NAME)
        .exclude(token_encrypted="")
        .select_related("group")
    )
    return min(
        candidates,
        key=lambda token: (
            token.project_id is None,
            -len(token.group.traversal) if token.group_id else 0,
            -token.created_at.timestamp(),
        ),
        default=None,
    )
