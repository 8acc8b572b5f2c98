"""Token format and storage, shared by every token kind.

A token is `<prefix><body><checksum>`: the body is random (CSPRNG) base62, the checksum is
CRC32 of prefix and body in base62. Secret scanners recognise the prefixes; the checksum lets a
mistyped or forged token with a known prefix be refused without touching the database.

Only a keyed digest of a token is stored (HMAC-SHA256 with TOKEN_DIGEST_KEY, not SECRET_KEY):
one indexed lookup finds it, and a leaked database gives no usable token. The one token kind
that must be recoverable (the `gitlab-deploy-token` handed to CI) is additionally kept
encrypted with authenticated encryption under TOKEN_ENCRYPTION_KEY.
"""

import base64
import hashlib
import os
import secrets
from datetime import UTC, date, timedelta

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.views.decorators.debug import sensitive_variables

from tokens_site import token_format
from tokens_site.token_format import (
    BASE62,
    BASE62_RUN,
    BODY_LENGTH,
    CHECKSUM_LENGTH,
    DEPLOY_TOKEN_PREFIX,
    PERSONAL_TOKEN_PREFIX,
)

# Prefixes secret scanners know: a token that starts with one is always one we generated.
FIXED_PREFIXES = (DEPLOY_TOKEN_PREFIX, PERSONAL_TOKEN_PREFIX)
DIGEST_LENGTH = 64  # hex of SHA-256
NONCE_BYTES = 12
# Tokens expiring within this many days are highlighted on the token pages (the emails go by
# tokens_site.expiry_notices.STAGES).
EXPIRY_WARNING_DAYS = 7
ENCRYPTION_CONTEXT = b"tokens-site:token:v1"


token_checksum = token_format.checksum


@sensitive_variables()
def token_generate(prefix: str) -> str:
    body = "".join(secrets.choice(BASE62) for _ in range(BODY_LENGTH))
    return f"{prefix}{body}{token_checksum(prefix + body)}"


# Sensitive here: the frames below it (token_format's) are hidden in error reports too.
token_is_well_formed = sensitive_variables()(token_format.is_well_formed)


@sensitive_variables()
def token_looks_generated(token: str) -> bool:
    """Starts with a fixed prefix, or has the generated shape ('-' and 32 base62 characters):
    such a value is a token (valid or not), never a password."""
    if token.startswith(FIXED_PREFIXES):
        return True
    _head, dash, tail = token.rpartition("-")
    return (
        bool(dash)
        and len(tail) == BODY_LENGTH + CHECKSUM_LENGTH
        and bool(BASE62_RUN.fullmatch(tail))
    )


@sensitive_variables()
def token_is_plausible(token: str) -> bool:
    """False for a value that cannot be a valid token, decided in memory (no lookup): one that
    starts with a fixed prefix or has the generated shape (`...-` and 32 base62 characters, as
    with a custom prefix) but not a matching checksum. Anything else (a predetermined personal
    token) may be valid and needs the lookup."""
    for prefix in FIXED_PREFIXES:
        if token.startswith(prefix):
            return token_is_well_formed(token, prefix)
    if token_looks_generated(token):
        return token_is_well_formed(token, token.rpartition("-")[0] + "-")
    return True


@sensitive_variables()
def token_digest(token: str) -> str:
    """The only form in which a token is stored."""
    return token_format.digest(token, settings.TOKEN_DIGEST_KEY)


def _cipher() -> AESGCM:
    return AESGCM(hashlib.sha256(settings.TOKEN_ENCRYPTION_KEY.encode()).digest())


@sensitive_variables()
def secret_encrypt(secret: bytes, context: bytes = ENCRYPTION_CONTEXT) -> str:
    """`secret` sealed with TOKEN_ENCRYPTION_KEY (AES-GCM; `context` binds it to its use),
    as URL-safe base64: 12 + len(secret) + 16 bytes."""
    nonce = os.urandom(NONCE_BYTES)
    sealed = _cipher().encrypt(nonce, secret, context)
    return base64.urlsafe_b64encode(nonce + sealed).decode()


class TokenDecryptionError(Exception):
    pass


@sensitive_variables()
def secret_decrypt(value: str, context: bytes = ENCRYPTION_CONTEXT) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(value.encode())
        return _cipher().decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context)
    except (ValueError, InvalidTag) as error:
        raise TokenDecryptionError(
            "A stored secret could not be decrypted: TOKEN_ENCRYPTION_KEY differs from the key "
            "it was encrypted with."
        ) from error


@sensitive_variables()
def token_encrypt(token: str) -> str:
    return secret_encrypt(token.encode())


@sensitive_variables()
def token_decrypt(value: str) -> str:
    return secret_decrypt(value).decode()


def utc_today() -> date:
    return timezone.now().astimezone(UTC).date()


def token_expired(expires_at: date | None, today: date | None = None) -> bool:
    """A token whose expiry date is D stops working at 00:00 UTC at the start of D."""
    return expires_at is not None and expires_at <= (today or utc_today())


def token_expires_soon(expires_at: date | None, today: date | None = None) -> bool:
    return expires_at is not None and (expires_at - (today or utc_today())).days <= (
        EXPIRY_WARNING_DAYS
    )


def validate_expiry_date(value: date | None, *, max_lifetime_days: int | None = None) -> None:
    """An expiry date must lie after today (UTC), and within the instance's maximum lifetime
    when one is set (then a date is required)."""
    today = utc_today()
    if value is None:
        if max_lifetime_days:
            raise ValidationError(
                ngettext(
                    "Enter an expiration date: this instance allows tokens for at most %(days)d "
                    "day (until %(date)s).",
                    "Enter an expiration date: this instance allows tokens for at most %(days)d "
                    "days (until %(date)s).",
                    max_lifetime_days,
                )
                % {"days": max_lifetime_days, "date": today + timedelta(days=max_lifetime_days)},
                code="required",
            )
        return
    if value <= today:
        raise ValidationError(
            gettext(
                "Choose a date after today: a token stops working at 00:00 UTC on its "
                "expiration date."
            ),
            code="past",
        )
    if max_lifetime_days and value > today + timedelta(days=max_lifetime_days):
        raise ValidationError(
            ngettext(
                "Choose a date no later than %(date)s: this instance allows tokens for at most "
                "%(days)d day.",
                "Choose a date no later than %(date)s: this instance allows tokens for at most "
                "%(days)d days.",
                max_lifetime_days,
            )
            % {"days": max_lifetime_days, "date": today + timedelta(days=max_lifetime_days)},
            code="too_late",
        )
