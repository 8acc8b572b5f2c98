"""`/jwt/auth`: the container registry's token service (Docker registry token authentication).

`docker login` / `skopeo` send Basic credentials (a deploy token with its username, or any
username with a personal access token), the `service` and one `scope` per repository; the
answer grants only the actions the credential has. Bad credentials get 401; good ones without
rights get a token with no actions (the registry then refuses the operation).
"""

from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from tokens_site.audit import client_ip
from tokens_site.http_auth import (
    ANONYMOUS,
    BANNED_MESSAGE,
    REALM,
    Denied,
    check_instance_policy,
    identify,
    ip_is_banned,
    read_credentials,
    record_failure,
)
from tokens_site.registry.service import InvalidScope, issue_token, parse_scope

# Each scope costs a query; docker and skopeo ask for one to three (a push that mounts
# blobs from other repositories names those too).
MAX_SCOPES = 20


def _error(status: int, code: str, message: str) -> JsonResponse:
    response = JsonResponse({"errors": [{"code": code, "message": message}]}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = f'Basic realm="{REALM}"'
    return response


@require_GET
def token(request):
    ip = client_ip(request)
    if ip_is_banned(ip):
        return _error(403, "DENIED", BANNED_MESSAGE)
    service = request.GET.get("service", settings.REGISTRY_SERVICE)
    if service != settings.REGISTRY_SERVICE:
        return _error(400, "UNSUPPORTED", f"Unknown service '{service}'.")
    asked = request.GET.getlist("scope")
    if len(asked) > MAX_SCOPES:
        return _error(400, "INVALID_SCOPE", f"Ask for at most {MAX_SCOPES} scopes at once.")
    try:
        scopes = [parse_scope(value) for value in asked]
    except InvalidScope as error:
        return _error(400, "INVALID_SCOPE", str(error))
    presented = read_credentials(request)
    if presented.nothing:
        principal = ANONYMOUS
    else:
        principal = None if presented.malformed else identify(request, presented, passwords=False)
        if principal is None:
            record_failure(ip)
            return _error(401, "UNAUTHORIZED", "HTTP Basic: Access denied.")
        try:
            check_instance_policy(principal)
        except Denied as denied:
            return _error(denied.status, "DENIED", denied.reason)
    return JsonResponse(issue_token(principal, scopes))
