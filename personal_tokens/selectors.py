from django.contrib.auth import get_user_model

from personal_tokens.models import PersonalAccessToken, could_be_personal_token
from personal_tokens.services import personal_token_touch
from tokens_site.lookups import CompiledLookup, attach, instance_from
from tokens_site.tokens import token_digest

# What authenticating needs of a token and of its user; nothing else is read.
TOKEN_FIELDS = ("id", "name", "scopes", "expires_at", "revoked", "last_used_at", "user_id")
USER_FIELDS = ("username", "is_active", "is_staff", "is_superuser")  # and its id: user_id

_by_digest = CompiledLookup(
    lambda digest: (
        PersonalAccessToken.objects.order_by()
        .filter(token_digest=digest)
        .values_list(*TOKEN_FIELDS, *(f"user__{name}" for name in USER_FIELDS))
    )
)


def personal_token_authenticate(plaintext: str) -> PersonalAccessToken | None:
    """The active token with this value, of an active user, with its use recorded; else None.

    One query (the token with its user, only the columns the check needs). A value with one of
    our prefixes or our shape and a wrong checksum is refused before any query.
    """
    if not could_be_personal_token(plaintext):
        return None
    row = _by_digest.row(token_digest(plaintext))
    if row is None:
        return None
    token = instance_from(PersonalAccessToken, dict(zip(TOKEN_FIELDS, row, strict=False)))
    user = dict(zip(USER_FIELDS, row[len(TOKEN_FIELDS) :], strict=True))
    attach(token, "user", instance_from(get_user_model(), {"id": token.user_id, **user}))
    if not token.is_active or not token.user.is_active:
        return None
    personal_token_touch(token)
    return token
