"""Reading what a request presents: HTTP Basic, and the token headers some endpoint families
accept besides it (`PRIVATE-TOKEN:`, `Authorization: Bearer`, `?private_token=`,
`Deploy-Token:`). Nothing here decides who it is; the authenticators do."""

import base64
import binascii
import re
from dataclasses import dataclass
from enum import StrEnum

from django.views.decorators.debug import sensitive_variables

_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
# Longer Authorization headers are refused unread (a token is < 300 characters).
MAX_AUTHORIZATION_LENGTH = 4096


class Source(StrEnum):
    """Where a secret came from. An authenticator accepts the sources its kind travels in."""

    BASIC = "basic"
    PRIVATE_TOKEN_HEADER = "private_token_header"
    BEARER = "bearer"
    PRIVATE_TOKEN_PARAMETER = "private_token_parameter"
    DEPLOY_TOKEN_HEADER = "deploy_token_header"


# Token sources other than Basic, and how to read each.
_READERS = {
    Source.PRIVATE_TOKEN_HEADER: lambda request: request.META.get("HTTP_PRIVATE_TOKEN"),
    Source.BEARER: lambda request: _bearer(request),
    Source.PRIVATE_TOKEN_PARAMETER: lambda request: request.GET.get("private_token"),
    Source.DEPLOY_TOKEN_HEADER: lambda request: request.META.get("HTTP_DEPLOY_TOKEN"),
}


@sensitive_variables()
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


@sensitive_variables()
def _bearer(request) -> str | None:
    scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


@dataclass(frozen=True)
class Presented:
    """What a request presents: nothing, something unusable, or a secret (with a username for
    Basic) from one source. Its repr never shows the secret."""

    username: str = ""
    secret: str = ""
    source: Source | None = None
    malformed: bool = False

    @property
    def nothing(self) -> bool:
        return not self.malformed and not self.secret

    def __repr__(self) -> str:
        state = "malformed" if self.malformed else ("nothing" if self.nothing else "secret")
        return f"Presented(source={self.source}, username={self.username!r}, {state})"


NOTHING = Presented()
MALFORMED = Presented(malformed=True)
# HTTP Basic where the family takes no Basic: malformed for it, and worth saying why
# (Family.basic_refusal).
UNTAKEN_BASIC = Presented(malformed=True, source=Source.BASIC)


@sensitive_variables()
def read_credentials(request, sources: tuple[Source, ...]) -> Presented:
    """Basic credentials (when `sources` has BASIC), else the first token source present. An
    `Authorization` header that gives none of them is malformed, never "no credential"."""
    authorization = request.META.get("HTTP_AUTHORIZATION")
    if authorization is not None and Source.BASIC in sources:
        parsed = parse_basic(authorization)
        if parsed is not None:
            return Presented(username=parsed[0], secret=parsed[1], source=Source.BASIC)
    for source in sources:
        if source is Source.BASIC:
            continue
        token = _READERS[source](request)
        if token:
            return Presented(secret=token.strip(), source=source)
    if authorization is not None:
        return UNTAKEN_BASIC if authorization[:6].lower() == "basic " else MALFORMED
    return NOTHING
