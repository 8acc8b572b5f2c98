"""The personal access token authenticator: any username (ignored) with the token, in Basic or
in the API's token headers. The principal is the token's user, limited by its scopes. A
rotated-out token is refused like any other, and left on the request for reuse detection."""

from django.views.decorators.debug import sensitive_variables

from personal_tokens.selectors import personal_token_lookup, personal_token_works
from personal_tokens.services import personal_token_touch
from tokens_site.auth.authenticators import NOT_PROVEN, Authenticator, Outcome
from tokens_site.auth.bans import ban_enforced
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
            if token.works_until is not None:
                # A rotated-out value: the API's rotate endpoints detect its reuse
                # (tokens_site.rotation.detect_reuse); anywhere else, a plain refusal.
                request.rotated_out_token = token
            return NOT_PROVEN
        banned = ban_in_force(token.address_banned_until)
        if not (banned and ban_enforced()):  # a refused request is no use of the token
            personal_token_touch(token, address=address)
        principal = Principal(
            kind=self.kind,
            username=token.user.get_username(),
            user=token.user,
            scopes=frozenset(token.scopes),
            token=token,
        )
        return Outcome(principal, address_banned=banned)
