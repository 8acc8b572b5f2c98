"""Forms that must take effect at most once (those that create a token).

The page that renders the form embeds a signed, single-use key; the POST that acts on it claims
the key first, in storage that never evicts (a table: tokens_site.auth.store).
Reloading the response (which re-posts) or going Back and submitting again finds the key
claimed and creates nothing. The key holds no secret; the token itself is never stored
anywhere but as its digest.
"""

import enum
import secrets

from django.core import signing
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from tokens_site.auth.store import store

FIELD_NAME = "form_once"
MAX_AGE_SECONDS = 24 * 60 * 60
_SALT = "tokens_site.once"

# English here (tests read it); translated where it is said (once_key_refusal).
EXPIRED_MESSAGE = gettext_noop("This form has expired; reload the page and try again.")


class ShownOnce(str):
    """A token's value on its way into the one page that shows it. Its repr() hides it, so
    that a log line that dumps the template context (Django logs every failed variable lookup
    at DEBUG, with the whole context) or an error report never carries it."""

    def __repr__(self) -> str:
        return "'<the new token, shown once>'"


class OnceKey(enum.Enum):
    CLAIMED = "claimed"  # this request may act on the form
    USED = "used"  # the form was submitted before (a reload, or Back and submit again)
    EXPIRED = "expired"  # missing, forged, older than MAX_AGE_SECONDS, or issued to someone else


def once_key_issue(request) -> str:
    return signing.dumps({"user": request.user.pk, "key": secrets.token_urlsafe(16)}, salt=_SALT)


def _valid_key(request) -> str | None:
    """The key of the request's form when it is genuine, current and this user's, else None."""
    try:
        payload = signing.loads(
            request.POST.get(FIELD_NAME, ""), salt=_SALT, max_age=MAX_AGE_SECONDS
        )
    except signing.BadSignature:  # SignatureExpired included
        return None
    if not isinstance(payload, dict) or payload.get("user") != request.user.pk:
        return None
    return payload.get("key")


def once_key_take(request) -> OnceKey:
    """Claim the request's form key: CLAIMED exactly once per key issued to this user."""
    key = _valid_key(request)
    if key is None:
        return OnceKey.EXPIRED
    claimed = store().claim_once(key, ttl_seconds=MAX_AGE_SECONDS)
    return OnceKey.CLAIMED if claimed else OnceKey.USED


def once_key_refusal(state: OnceKey, noun: str) -> str:
    """What to tell someone whose form was not acted on."""
    if state is OnceKey.EXPIRED:
        return _(EXPIRED_MESSAGE)
    return _(
        "That form was already submitted. A %(noun)s's value is shown only once, right after it "
        "is created; create a new token if you did not save it."
    ) % {"noun": noun}
