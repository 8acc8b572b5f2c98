"""Security keys and passkeys (WebAuthn), on py_webauthn: the options a browser needs to
register a key or to sign in with one, and the check of what it answers.

The relying party is the site as EXTERNAL_URL names it: its host is the RP ID and its origin
the only origin accepted. Browsers refuse WebAuthn on an IP address, so with EXTERNAL_URL at
an address (http://127.0.0.1:8000) security keys are unavailable, and the page says why.

Each ceremony's challenge lives in the user's session until the answer comes back, and is
used once: a replayed or stale answer fails. Every failure is a KeyRefused with a message
for the user; nothing a browser sends can raise anything else."""

import hashlib
import ipaddress
import time
from base64 import urlsafe_b64decode
from dataclasses import dataclass
from urllib.parse import urlsplit

import webauthn
from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.debug import sensitive_variables
from webauthn.helpers import bytes_to_base64url, parse_authentication_credential_json
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from tokens_site.auth.store import store
from two_factor.models import SecurityKey

REGISTRATION_CHALLENGE = "two_factor_key_registration"
SIGN_IN_CHALLENGE = "two_factor_key_sign_in"
TIMEOUT_MS = 120_000
# A challenge is answered within this long of the page that asked, and only once (claimed in
# the single-use store, so two requests sharing one session cannot both use it).
CHALLENGE_MAX_AGE_SECONDS = 10 * 60
# What a malformed answer can make the parsers raise (deep nesting: RecursionError).
MALFORMED = (WebAuthnException, ValueError, TypeError, KeyError, RecursionError)
# A browser's answer is a few hundred bytes of JSON; attestation certificates make it a few
# kilobytes. Anything longer is refused unread.
MAX_ANSWER_LENGTH = 32 * 1024
# In English; translated where they are shown (`_(REFUSED)`).
UNAVAILABLE = gettext_noop(
    "Security keys need the site at a host name, not an IP address: set EXTERNAL_URL to a "
    "name such as http://localhost:8000 and open the site there."
)
REFUSED = gettext_noop("The security key's answer was not accepted. Try again, or use another key.")


class KeyRefused(Exception):
    """A refused registration or sign-in, with a message for the user."""


@dataclass(frozen=True)
class RelyingParty:
    id: str
    origin: str
    name: str = "Tokens"


def relying_party() -> RelyingParty | None:
    """The site as WebAuthn sees it, or None where browsers do not allow WebAuthn."""
    parts = urlsplit(settings.EXTERNAL_URL)
    host = parts.hostname or ""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return RelyingParty(id=host, origin=f"{parts.scheme}://{parts.netloc}") if host else None
    return None


def _descriptors(keys) -> list[PublicKeyCredentialDescriptor]:
    return [PublicKeyCredentialDescriptor(id=_decode(key.credential_id)) for key in keys]


def _decode(value: str) -> bytes:
    return urlsafe_b64decode(value + "=" * (-len(value) % 4))


def registration_options(request, user) -> str:
    """The options for navigator.credentials.create(), as JSON; the challenge is kept in the
    session. The user's keys are excluded, so one key is not registered twice."""
    party = relying_party()
    options = webauthn.generate_registration_options(
        rp_id=party.id,
        rp_name=party.name,
        user_name=user.get_username(),
        user_id=str(user.pk).encode(),
        user_display_name=user.get_full_name() or user.get_username(),
        timeout=TIMEOUT_MS,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.DISCOURAGED,
            user_verification=UserVerificationRequirement.DISCOURAGED,
        ),
        exclude_credentials=_descriptors(SecurityKey.objects.filter(user=user)),
    )
    _challenge_keep(request, REGISTRATION_CHALLENGE, options.challenge)
    return webauthn.options_to_json(options)


def sign_in_options(request, user) -> str | None:
    """The options for navigator.credentials.get() naming `user`'s keys, as JSON (None: no
    keys, or no WebAuthn here); the challenge is kept in the session."""
    party = relying_party()
    keys = list(SecurityKey.objects.filter(user=user))
    if party is None or not keys:
        return None
    options = webauthn.generate_authentication_options(
        rp_id=party.id,
        timeout=TIMEOUT_MS,
        allow_credentials=_descriptors(keys),
        user_verification=UserVerificationRequirement.DISCOURAGED,
    )
    _challenge_keep(request, SIGN_IN_CHALLENGE, options.challenge)
    return webauthn.options_to_json(options)


def _challenge_keep(request, key: str, challenge: bytes) -> None:
    request.session[key] = {"challenge": bytes_to_base64url(challenge), "at": int(time.time())}


def _challenge(request, key: str) -> bytes:
    """The session's challenge for one ceremony: forgotten as it is read, refused when old or
    already used."""
    kept = request.session.pop(key, None)
    expired = KeyRefused(_("The security key request expired. Try again."))
    if not isinstance(kept, dict) or not isinstance(kept.get("challenge"), str):
        raise expired
    if time.time() - kept.get("at", 0) > CHALLENGE_MAX_AGE_SECONDS:
        raise expired
    challenge = _decode(kept["challenge"])
    claim = hashlib.sha256(b"webauthn-challenge:" + challenge).hexdigest()
    if not store().claim_once(claim, ttl_seconds=CHALLENGE_MAX_AGE_SECONDS * 2):
        raise expired
    return challenge


def _checked_length(answer: str) -> str:
    if not answer or len(answer) > MAX_ANSWER_LENGTH:
        raise KeyRefused(_(REFUSED))
    return answer


@dataclass(frozen=True)
class NewKey:
    credential_id: str
    public_key: bytes
    sign_count: int


@sensitive_variables("answer")
def registration_verify(request, answer: str) -> NewKey:
    """Check the browser's answer to registration_options(): the new credential, or
    KeyRefused."""
    challenge = _challenge(request, REGISTRATION_CHALLENGE)
    party = relying_party()
    if party is None:
        raise KeyRefused(_(UNAVAILABLE))
    try:
        verified = webauthn.verify_registration_response(
            credential=_checked_length(answer),
            expected_challenge=challenge,
            expected_rp_id=party.id,
            expected_origin=party.origin,
        )
    except MALFORMED as error:
        raise KeyRefused(_(REFUSED)) from error
    return NewKey(
        credential_id=bytes_to_base64url(verified.credential_id),
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
    )


@sensitive_variables("answer")
def sign_in_verify(request, user, answer: str) -> SecurityKey:
    """Check the browser's answer to sign_in_options(): the key of `user` that signed, with
    its counter updated, or KeyRefused (another user's key, a bad signature, a replay, a
    counter that went back)."""
    challenge = _challenge(request, SIGN_IN_CHALLENGE)
    party = relying_party()
    if party is None:
        raise KeyRefused(_(UNAVAILABLE))
    try:
        credential = parse_authentication_credential_json(_checked_length(answer))
        key = SecurityKey.objects.filter(
            user=user, credential_id=bytes_to_base64url(credential.raw_id)
        ).first()
        if key is None:
            raise KeyRefused(_(REFUSED))
        verified = webauthn.verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=party.id,
            expected_origin=party.origin,
            credential_public_key=bytes(key.public_key),
            credential_current_sign_count=key.sign_count,
        )
    except MALFORMED as error:
        raise KeyRefused(_(REFUSED)) from error
    key.sign_count = verified.new_sign_count
    return key
