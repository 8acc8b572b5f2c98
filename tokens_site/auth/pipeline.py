"""The one function that turns a request into a principal or a refusal, for every endpoint
family (Git, packages, the registry's token service, the API, whoami):

1. the credentials are read from the family's sources (tokens_site.auth.credentials);
2. nothing presented: anonymous (the policy decides what anonymous may do);
3. the family's authenticators try the secret in order; the first that proves it wins (the
   endpoint's project, where it is looked up by path, is read by the same statement);
4. the client's address must not be banned (tokens_site.auth.bans) — else 403, whatever the
   credentials. A token's lookup reads the ban in its own statement: "not banned" spares the
   ban its own query, "banned" is confirmed by that query, the one every other banned
   request is answered after (a password — checked on its own before it runs, since the
   account's lockout counts it —, an anonymous request, a secret no lookup found), so a
   banned address's right and wrong tokens cost the same statements;
5. none proved it: 401, and one more failure for the address (and, where the endpoint asks,
   a rotated-out token's reuse is detected: tokens_site.rotation);
6. the token's use is recorded (throttled), and the instance's policy for the credential's
   kind applies (tokens_site.access.policy).

A banned address gets the same 403, after the same statements, for a right and a wrong
credential, so it learns nothing from what it sends. Credentials a browser sends on another
site's behalf are refused unread (see OTHER_SITE). Authorization of what the principal asks
for is the access policy's (`authorize`).
"""

import logging

from django.db import DatabaseError
from django.utils.translation import gettext_lazy
from django.views.decorators.debug import sensitive_variables

from tokens_site.access.policy import Denied, check_instance_policy
from tokens_site.audit import ban_address
from tokens_site.auth.authenticators import NOT_PROVEN, Outcome
from tokens_site.auth.bans import BANNED_MESSAGE, ban_enforced, record_failure
from tokens_site.auth.credentials import Presented, Source, read_credentials
from tokens_site.auth.families import API, Family
from tokens_site.auth.principal import ANONYMOUS, Principal
from tokens_site.auth.store import store
from tokens_site.language import activate_for
from tokens_site.lookups import Companion, alongside
from tokens_site.rotation import detect_reuse

logger = logging.getLogger(__name__)

BANNED = Denied(403, gettext_lazy(BANNED_MESSAGE))  # lazy: in the language of each answer
# How browsers mark a request another site made them send (an <img> or a form pointing here):
# its credentials are never checked and never counted, so that a page elsewhere can neither
# get its visitors' address banned (`<img src=".../api/v4/user?private_token=x">`) nor guess
# through them. git, pip, docker and API clients send no such header.
OTHER_SITE = frozenset({"cross-site", "same-site"})


class _Ban:
    """The ban of one request's address, checked at most once."""

    def __init__(self, address: str | None) -> None:
        self.address = address
        self.known = address is None or not ban_enforced()

    def learn(self, banned: bool | None) -> None:
        """What a token's lookup read of the ban (None: it read nothing). Not banned: known.
        Banned: left to check(), as for a wrong token (see the module's docstring)."""
        if banned is False:
            self.known = True

    def check(self) -> None:
        """Refuse now if the address is banned (one query, unless known already)."""
        if not self.known:
            self.known = True
            if store().is_banned(self.address):
                raise BANNED


@sensitive_variables("presented")
def identify(
    request, presented: Presented, family: Family, ban: _Ban, companion: Companion | None
) -> Outcome:
    """The outcome of the first of the family's authenticators that proves the secret; else
    a refusal (naming a rotated-out token, if one was found). `companion` is read by the
    first compiled lookup an authenticator makes (tokens_site.lookups)."""
    refused = NOT_PROVEN
    for authenticator in family.authenticators:
        if not authenticator.accepts(presented):
            continue
        if not authenticator.reads_ban:
            ban.check()
        with alongside(companion):
            outcome = authenticator.authenticate(request, presented, ban.address)
        ban.learn(outcome.address_banned)
        if outcome.principal is not None:
            return outcome
        if outcome.rotated_out is not None:
            refused = outcome
    return refused


@sensitive_variables("presented")
def authenticate(
    request, family: Family, *, detects_reuse: bool = False, companion: Companion | None = None
) -> Principal:
    """Who `request` acts as on `family`'s endpoints; raises Denied (401 or 403) otherwise.
    `detects_reuse` (the API's rotate endpoints): a rotated-out token refused here revokes
    its family (tokens_site.rotation.detect_reuse); the answer is the same 401. `companion`:
    a row the endpoint needs (Git's project), read by the statement that looks the credential
    up (or, for an anonymous request, the address's ban) if it makes a compiled one; a
    credential refused unread leaves it unread."""
    ban = _Ban(ban_address(request))
    presented = read_credentials(request, family.sources)
    if presented.nothing and not any(name in request.META for name in family.refused_headers):
        with alongside(companion):  # anonymous: the endpoint's row is needed all the same
            ban.check()
        return ANONYMOUS
    if not presented.nothing and request.META.get("HTTP_SEC_FETCH_SITE") in OTHER_SITE:
        raise Denied(401, "")
    outcome = NOT_PROVEN
    if not presented.nothing and not presented.malformed:
        outcome = identify(request, presented, family, ban, companion)
    ban.check()
    principal = outcome.principal
    if principal is None:
        if not presented.nothing:  # a refused kind's header alone is no guess
            record_failure(ban.address)
        if detects_reuse and outcome.rotated_out is not None:
            _detect_reuse(outcome.rotated_out, ban.address)
        if presented.malformed and family.basic_refusal and presented.source is Source.BASIC:
            raise Denied(401, family.basic_refusal)
        raise Denied(401, "")
    if principal.token is not None:  # a use of the token (throttled: TokenRecord.touch)
        principal.token.touch(address=ban.address)
    try:
        check_instance_policy(principal)
    except Denied:
        if family is not API:  # a known user is refused in their language; the API is English
            activate_for(principal.user)
        raise
    return principal


def _detect_reuse(token, address: str | None) -> None:
    try:
        detect_reuse(token, ip_address=address)
    except DatabaseError:  # the refusal stands; the next attempt revokes the family
        logger.exception("Could not revoke the family of a reused token")
