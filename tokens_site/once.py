"""Forms that must take effect at most once (those that create a token).

The page that renders the form embeds a signed, single-use key; the POST that acts on it claims
the key in the shared cache first. Reloading the response (which re-posts) or going Back and
submitting again finds the key claimed and creates nothing. The key holds no secret; the token
itself is never stored anywhere but as its digest.
"""

import secrets

from django.core import signing
from django.core.cache import cache

FIELD_NAME = "form_once"
MAX_AGE_SECONDS = 24 * 60 * 60
_SALT = "tokens_site.once"


def once_key_issue(request) -> str:
    return signing.dumps({"user": request.user.pk, "key": secrets.token_urlsafe(16)}, salt=_SALT)


def once_key_claim(request) -> bool:
    """True exactly once per key issued to this user; False for a reused, forged, expired or
    foreign key."""
    try:
        payload = signing.loads(
            request.POST.get(FIELD_NAME, ""), salt=_SALT, max_age=MAX_AGE_SECONDS
        )
    except signing.BadSignature:
        return False
    if payload.get("user") != request.user.pk:
        return False
    return cache.add(f"form-once:{payload['key']}", True, timeout=MAX_AGE_SECONDS)
