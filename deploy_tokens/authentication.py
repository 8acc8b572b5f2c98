"""The deploy token authenticator: the pair (username, token) in Basic, or the token alone in
a `Deploy-Token:` header (package endpoints) or as a Bearer token (npm's `_authToken`, which
has no username; only families that list Source.BEARER read it). Never a user: the principal
is the token, which reaches its project, or every project below its group."""

from django.views.decorators.debug import sensitive_variables

from deploy_tokens.selectors import deploy_token_find_active
from tokens_site.auth.authenticators import NOT_PROVEN, Authenticator, Outcome
from tokens_site.auth.credentials import Presented, Source
from tokens_site.auth.principal import Kind, Principal
from tokens_site.auth.store import ban_in_force


class DeployTokenAuthenticator(Authenticator):
    kind = Kind.DEPLOY_TOKEN
    sources = frozenset({Source.BASIC, Source.DEPLOY_TOKEN_HEADER, Source.BEARER})
    reads_ban = True

    @sensitive_variables("presented")
    def authenticate(self, request, presented: Presented, address: str | None) -> Outcome:
        username = presented.username if presented.source is Source.BASIC else None
        token = deploy_token_find_active(presented.secret, username=username, address=address)
        if token is None:
            return NOT_PROVEN
        principal = Principal(
            kind=self.kind, username=token.username, scopes=frozenset(token.scopes), token=token
        )
        return Outcome(principal, address_banned=ban_in_force(token.address_banned_until))
