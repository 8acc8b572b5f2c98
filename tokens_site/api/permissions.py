"""Who may call an API endpoint at all: the token's scopes (the access policy's `has_scope`),
and whether anonymous visitors may read it. What a caller may see or change on a record is
the access policy's, asked by the querysets and services the views use."""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from tokens_site.access.abilities import PERSONAL_SCOPES
from tokens_site.access.policy import Denied, has_scope, token_acts_on_itself


class TokenScopes(BasePermission):
    """Reads need the view's `read_ability`, writes its `write_ability` (None: any token),
    unless the view is about one token and it is the one making the call (the policy's
    token_acts_on_itself: any token sees and revokes itself, rotates itself by
    self_rotate). Anonymous visitors may read where the view says `anonymous_reads`; else
    401."""

    def has_permission(self, request, view) -> bool:
        reading = request.method in SAFE_METHODS
        principal = request.auth
        if principal is None:
            if reading and view.anonymous_reads:
                return True
            raise Denied(401, "")
        needed = view.read_ability if reading else view.write_ability
        if needed is None or has_scope(principal, needed):
            return True
        token_id = view.kwargs.get("token_id", "self")
        if view.about_a_token and token_acts_on_itself(principal, token_id, view.itself_ability):
            return True
        raise Denied.insufficient_scope(PERSONAL_SCOPES[needed])
