"""Who a request acts as: a plain value, not a web concern. The authentication pipeline makes
one; the access policy, the endpoints and the services read it."""

from dataclasses import dataclass, field
from enum import StrEnum


class Kind(StrEnum):
    ANONYMOUS = "anonymous"
    PERSONAL_TOKEN = "personal_access_token"
    DEPLOY_TOKEN = "deploy_token"
    PASSWORD = "password"


@dataclass(frozen=True)
class Principal:
    """`user` is the account the request acts as: None for deploy tokens and anonymous
    requests. `scopes` limit what a token may do (a password or a session has none: its
    user's role alone decides). `token` is the token record that authenticated, if any."""

    kind: Kind
    username: str = ""
    user: object = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    token: object = None

    @property
    def is_anonymous(self) -> bool:
        return self.kind is Kind.ANONYMOUS


ANONYMOUS = Principal(kind=Kind.ANONYMOUS)
