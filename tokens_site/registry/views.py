"""`/jwt/auth`: the container registry's token service (Docker registry token authentication).

`docker login` / `skopeo` send Basic credentials (a deploy token with its username, or any
username with a personal access token), the `service` and one `scope` per repository; the
answer grants only the actions the credential has. Bad credentials get 401; good ones without
rights get a token with no actions (the registry then refuses the operation). The answer is a
bearer credential: no cache may keep it.
"""

from django.conf import settings
from django.http import JsonResponse
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from tokens_site.access.policy import Denied
from tokens_site.auth.families import REGISTRY
from tokens_site.auth.pipeline import authenticate
from tokens_site.auth.refusals import refuse, registry_error
from tokens_site.dependency_proxy.views import granted_actions as proxy_actions
from tokens_site.registry.service import InvalidScope, issue_token, parse_scope

# Each scope costs a query; docker and skopeo ask for one to three (a push that mounts
# blobs from other repositories names those too).
MAX_SCOPES = 20


@never_cache
@require_GET
def token(request):
    service = request.GET.get("service", settings.REGISTRY_SERVICE)
    if service not in (settings.REGISTRY_SERVICE, settings.DEPENDENCY_PROXY_SERVICE):
        return registry_error(
            400, "UNSUPPORTED", gettext("Unknown service '%(service)s'.") % {"service": service}
        )
    asked = request.GET.getlist("scope")
    if len(asked) > MAX_SCOPES:
        return registry_error(
            400,
            "INVALID_SCOPE",
            gettext("Ask for at most %(limit)s scopes at once.") % {"limit": MAX_SCOPES},
        )
    try:
        scopes = [parse_scope(value) for value in asked]
    except InvalidScope as error:
        return registry_error(400, "INVALID_SCOPE", str(error))
    try:
        principal = authenticate(request, REGISTRY)
        if service == settings.DEPENDENCY_PROXY_SERVICE:
            # The dependency proxy's rules (tokens_site.dependency_proxy.views).
            answer = issue_token(principal, scopes, service=service, grant=proxy_actions)
        else:
            answer = issue_token(principal, scopes)
    except Denied as denied:
        return refuse(request, denied, REGISTRY)
    return JsonResponse(answer)
