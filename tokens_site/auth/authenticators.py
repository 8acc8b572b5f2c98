"""One authenticator per credential kind. An authenticator takes what a request presents and
answers with the principal it proves, or none; it never raises for bad input and never says
why (a refused credential is refused the same way whatever was wrong with it). A token's
lookup also reads the ban of the client's address in the same statement, and says so in its
outcome; the pipeline checks the ban itself for the others, before they run.

The token kinds' authenticators live with their apps (`personal_tokens.authentication`,
`deploy_tokens.authentication`); the password's is here. A new credential kind is one class
like these, and one entry in the families that accept it (tokens_site.auth.families).
"""

from dataclasses import dataclass

from django.contrib.auth import authenticate
from django.views.decorators.debug import sensitive_variables

from tokens_site.auth.credentials import Presented, Source
from tokens_site.auth.principal import Kind, Principal
from tokens_site.models import InstanceSettings
from tokens_site.tokens import token_looks_generated
from two_factor.selectors import two_factor_enabled


@dataclass(frozen=True)
class Outcome:
    """What an authenticator found: the principal (None: not this kind, or refused), whether
    the client's address is banned when its lookup read that too (None: not read), and a
    refused token that was rotated out (for reuse detection: tokens_site.rotation)."""

    principal: Principal | None
    address_banned: bool | None = None
    rotated_out: object = None


NOT_PROVEN = Outcome(principal=None)


class Authenticator:
    """`kind`: what it proves; `sources`: where its secrets travel (it is asked only about
    secrets from those); `reads_ban`: whether its lookup reads the address's ban (if not, the
    pipeline checks the ban before it runs)."""

    kind: Kind
    sources: frozenset[Source]
    reads_ban: bool = False

    def accepts(self, presented: Presented) -> bool:
        return presented.source in self.sources

    def authenticate(self, request, presented: Presented, address: str | None) -> Outcome:
        raise NotImplementedError


class PasswordAuthenticator(Authenticator):
    """A user's password in HTTP Basic, through django.contrib.auth.authenticate() like any
    sign-in (so a failure counts toward the account's lockout, and a locked account is
    refused). Only where a family lists it (Git over HTTP), only while the instance allows
    passwords for Git, and never for an account with two-factor authentication. A value
    shaped like a token is a token, right or wrong: it never reaches the slow password
    hasher."""

    kind = Kind.PASSWORD
    sources = frozenset({Source.BASIC})

    @sensitive_variables("presented")
    def authenticate(self, request, presented: Presented, address: str | None) -> Outcome:
        if token_looks_generated(presented.secret):
            return NOT_PROVEN
        if not InstanceSettings.current().git_password_authentication_enabled:
            return NOT_PROVEN
        user = authenticate(request, username=presented.username, password=presented.secret)
        # With two-factor authentication on, a password alone proves nothing outside the web
        # sign-in: refused like a wrong one (the refusal says to use a personal access token,
        # and never tells a right password from a wrong one).
        if user is None or two_factor_enabled(user):
            return NOT_PROVEN
        return Outcome(Principal(kind=self.kind, username=user.get_username(), user=user))
