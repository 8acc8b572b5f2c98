"""The token format alone, without Django: what a token looks like and how its checksum is
made. Kept apart from tokens_site.tokens (which adds storage, encryption and Django's
`sensitive_variables` over these functions) so that the push-protection hook, a process git
starts for every push, imports it in milliseconds (tokens_site/git_http/pre_receive.py).

A token is `<prefix><body><checksum>`: the body is random (CSPRNG) base62, the checksum is
CRC32 of prefix and body in base62.
"""

import hashlib
import hmac
import re
import string
import zlib

BASE62 = string.digits + string.ascii_letters
BASE62_RUN = re.compile(r"[0-9A-Za-z]*")
DEPLOY_TOKEN_PREFIX = "gldt-"
PERSONAL_TOKEN_PREFIX = "glpat-"  # the default; instance settings may choose another
BODY_LENGTH = 26
CHECKSUM_LENGTH = 6  # 62**6 > 2**32: any CRC32 fits
PREFIX_MAX_LENGTH = 20  # of a custom personal prefix (InstanceSettings)


def base62(number: int, width: int) -> str:
    digits = []
    while number:
        number, remainder = divmod(number, 62)
        digits.append(BASE62[remainder])
    return "".join(reversed(digits)).rjust(width, BASE62[0])


def checksum(prefix_and_body: str) -> str:
    return base62(zlib.crc32(prefix_and_body.encode()), CHECKSUM_LENGTH)


def is_well_formed(token: str, prefix: str) -> bool:
    """True when `token` is exactly what tokens.token_generate(prefix) makes: checked in
    memory."""
    if len(token) != len(prefix) + BODY_LENGTH + CHECKSUM_LENGTH or not token.startswith(prefix):
        return False
    body, given = token[len(prefix) : -CHECKSUM_LENGTH], token[-CHECKSUM_LENGTH:]
    if not BASE62_RUN.fullmatch(body):
        return False
    return hmac.compare_digest(given, checksum(prefix + body))


def digest(token: str, key: str) -> str:
    """The keyed digest a token is stored as (tokens.token_digest gives it TOKEN_DIGEST_KEY)."""
    value = token.encode("utf-8", "surrogateescape")
    return hmac.new(key.encode(), value, hashlib.sha256).hexdigest()
