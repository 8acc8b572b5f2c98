"""Authentication backend for personal access tokens: `authenticate(request, token=...)`.
The token's username in Basic credentials is ignored."""

from django.contrib.auth.backends import BaseBackend

from personal_tokens.selectors import personal_token_authenticate
from tokens_site.http_auth import Kind, Principal


class PersonalAccessTokenBackend(BaseBackend):
    credential_kind = Kind.PERSONAL_TOKEN

    def authenticate(self, request, token: str | None = None, **kwargs):
        found = personal_token_authenticate(token) if token else None
        if found is None:
            return None
        return Principal(
            kind=Kind.PERSONAL_TOKEN,
            username=found.user.username,
            user=found.user,
            scopes=frozenset(found.scopes),
            token=found,
        )

    def get_user(self, user_id):
        return None  # never a session
