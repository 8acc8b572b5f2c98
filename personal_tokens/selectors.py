from personal_tokens.models import PersonalAccessToken
from personal_tokens.services import personal_token_touch
from tokens_site.tokens import token_digest, token_is_plausible


def personal_token_authenticate(plaintext: str) -> PersonalAccessToken | None:
    """The active token with this value, of an active user, with its use recorded; else None.
    A value with one of our prefixes and a wrong checksum is refused before any lookup."""
    if not token_is_plausible(plaintext):
        return None
    token = (
        PersonalAccessToken.objects.select_related("user")
        .filter(token_digest=token_digest(plaintext))
        .first()
    )
    if token is None or not token.is_active or not token.user.is_active:
        return None
    personal_token_touch(token)
    return token
