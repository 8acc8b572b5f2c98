"""Authentication backend for deploy tokens: `authenticate(request, username=..., token=...)`.
A deploy token authenticates only as its (username, token) pair; it is never a user."""

import hmac

from django.contrib.auth.backends import BaseBackend

from deploy_tokens.models import PREFIX, DeployToken, Scope
from tokens_site.http_auth import Kind, Principal
from tokens_site.lookups import CompiledLookup, instance_from
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
    *Scope.values,
)

_by_digest = CompiledLookup(
    lambda digest: (
        DeployToken.objects.order_by().filter(token_digest=digest).values_list(*TOKEN_FIELDS)
    )
)


def deploy_token_authenticate(username: str | None, plaintext: str) -> DeployToken | None:
    """The active deploy token with this value and this username, or None. One query on one
    table (its project or group id is all reach needs); a malformed value costs none.
    `username=None` is for the `Deploy-Token:` header, which carries the token alone."""
    if not token_is_well_formed(plaintext, PREFIX):
        return None
    row = _by_digest.row(token_digest(plaintext))
    if row is None:
        return None
    token = instance_from(DeployToken, dict(zip(TOKEN_FIELDS, row, strict=True)))
    if not token.is_active:
        return None
    if username is not None and not hmac.compare_digest(username.encode(), token.username.encode()):
        return None
    return token


class DeployTokenBackend(BaseBackend):
    credential_kind = Kind.DEPLOY_TOKEN

    def authenticate(
        self,
        request,
        username: str | None = None,
        token: str | None = None,
        from_header: bool = False,
        **kwargs,
    ):
        if not token or (username is None and not from_header):
            return None
        found = deploy_token_authenticate(None if from_header else username, token)
        if found is None:
            return None
        return Principal(
            kind=Kind.DEPLOY_TOKEN,
            username=found.username,
            scopes=frozenset(found.scopes),
            token=found,
        )

    def get_user(self, user_id):
        return None  # never a session
