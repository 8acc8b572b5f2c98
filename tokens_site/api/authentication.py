"""Django REST framework's side of the one authentication pipeline (tokens_site.auth): the
API family (personal access tokens from `PRIVATE-TOKEN`, `Authorization: Bearer` or
`?private_token=`, under the same ban), then GitLab's `Sudo`."""

from django.contrib.auth import get_user_model
from rest_framework.authentication import BaseAuthentication

from tokens_site.access.lookups import first_by_id
from tokens_site.access.policy import Denied, require_impersonable, require_sudo
from tokens_site.auth.families import API
from tokens_site.auth.pipeline import authenticate


class PipelineAuthentication(BaseAuthentication):
    """`request.user` is the token's user (or the one `Sudo` names), `request.auth` the
    Principal. No credentials: anonymous (the permission decides). Refused credentials raise
    the pipeline's Denied, answered by the one refusal builder (exceptions.py)."""

    def authenticate(self, request):
        view = (request.parser_context or {}).get("view")
        principal = authenticate(
            request._request, API, detects_reuse=getattr(view, "detects_reuse", False)
        )
        if principal.is_anonymous:
            return None
        target = sudo_target(request._request, principal)
        return (target or principal.user, principal)

    def authenticate_header(self, request) -> str:
        return API.challenge


def sudo_target(request, principal):
    """The user named by `Sudo:` (or `?sudo=`), when an administrator's sudo token asks (the
    access policy's rules: require_sudo, require_impersonable)."""
    wanted = request.META.get("HTTP_SUDO") or request.GET.get("sudo")
    if not wanted:
        return None
    if "\x00" in wanted:
        raise Denied.not_found("User")
    require_sudo(principal)
    users = get_user_model().objects
    found = first_by_id(users, wanted) or users.filter(username=wanted).first()
    if found is None:
        raise Denied.not_found("User")
    require_impersonable(found)
    return found
