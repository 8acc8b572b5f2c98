"""Reads of personal access tokens: the active token a credential names, with the ban of the
address presenting it read in the same statement (nothing is written here; recording its use
is the pipeline's, through TokenRecord.touch)."""

from django.contrib.auth import get_user_model
from django.views.decorators.debug import sensitive_variables

from personal_tokens.models import PersonalAccessToken
from personal_tokens.rules import could_be_personal_token
from tokens_site.auth.store import ADDRESS_SENTINEL, NO_ADDRESS, ban_expiry_of
from tokens_site.lookups import CompiledLookup, attach, instance_from
from tokens_site.tokens import token_digest

# What authenticating needs of a token and of its user; nothing else is read.
TOKEN_FIELDS = (
    "id",
    "name",
    "scopes",
    "expires_at",
    "revoked",
    "works_until",
    "previous_id",
    "last_used_at",
    "last_used_ips",
    "user_id",
)
USER_FIELDS = ("username", "is_active", "is_staff", "is_superuser")  # and its id: user_id

_by_digest = CompiledLookup(
    lambda digest, address: (
        PersonalAccessToken.objects.order_by()
        .filter(token_digest=digest)
        .annotate(address_banned_until=ban_expiry_of(address))
        .values_list(
            *TOKEN_FIELDS,
            *(f"user__{name}" for name in USER_FIELDS),
            "address_banned_until",
        )
    ),
    sentinels=("__digest__", ADDRESS_SENTINEL),
)


@sensitive_variables("plaintext")
def personal_token_lookup(
    plaintext: str, *, address: str | None = None
) -> PersonalAccessToken | None:
    """The token with this value, whatever its state, with its user; else None. Its
    `address_banned_until` is when the ban of `address` (the client presenting it) ends, if
    there is one.

    One query (the token with its user, only the columns the check needs, and the address's
    ban). A value with one of our prefixes or our shape and a wrong checksum is refused before
    any query.
    """
    if not could_be_personal_token(plaintext):
        return None
    row = _by_digest.row(token_digest(plaintext), address or NO_ADDRESS)
    if row is None:
        return None
    token = instance_from(PersonalAccessToken, dict(zip(TOKEN_FIELDS, row, strict=False)))
    token.address_banned_until = row[-1]
    user = dict(zip(USER_FIELDS, row[len(TOKEN_FIELDS) : -1], strict=True))
    attach(token, "user", instance_from(get_user_model(), {"id": token.user_id, **user}))
    return token


def personal_token_works(token: PersonalAccessToken) -> bool:
    """Active, and of an active user."""
    return token.is_active and token.user.is_active


@sensitive_variables("plaintext")
def personal_token_find_active(
    plaintext: str, *, address: str | None = None
) -> PersonalAccessToken | None:
    """The active token with this value, of an active user (personal_token_lookup); else
    None."""
    token = personal_token_lookup(plaintext, address=address)
    return token if token is not None and personal_token_works(token) else None
