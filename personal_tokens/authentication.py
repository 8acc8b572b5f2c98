"""The personal access token authenticator: any username (ignored) with the token, in Basic or
in the API's token headers. The principal is the token's user, limited by its scopes. A
rotated-out token is refused like any other; the outcome names it, for reuse detection."""

from django.views.decorators.debug import sensitive_variables

from personal_tokens.selectors import personal_token_lookup, personal_token_works
from tokens_site.auth.authenticators import NOT_PROVEN, Authenticator, Outcome
from tokens_site.auth.credentials import Presented, Source
from tokens_site.auth.principal import Kind, Principal
from tokens_site.auth.store import ban_in_force


class PersonalTokenAuthenticator(Authenticator):
    kind = Kind.PERSONAL_TOKEN
    sources = frozenset(
        {
            Source.BASIC,
            Source.PRIVATE_TOKEN_HEADER,
            Source.BEARER,
            Source.PRIVATE_TOKEN_PARAMETER,
        }
    )
    reads_ban = True

    @sensitive_variables("presented")
    def authenticate(self, request, presented: Presented, address: str | None) -> Outcome:
        token = personal_token_lookup(presented.secret, address=address)
        if token is None:
            return NOT_PROVEN
        if not personal_token_works(token):
            # A rotated-out value: the API's rotate endpoints detect its reuse (the pipeline's
            # `detects_reuse`); anywhere else, a plain refusal.
            return Outcome(None, rotated_out=token if token.works_until is not None else None)
        principal = Principal(
            kind=self.kind,
            username=token.user.get_username(),
            user=token.user,
            scopes=frozenset(token.scopes),
            token=token,
        )
        return Outcome(principal, address_banned=ban_in_force(token.address_banned_until))
