"""The dependency proxy for container images (issue 19), per top-level group, as GitLab serves
it: `docker pull <host>/<group>/dependency_proxy/containers/<image>:<tag>`. The site is the
registry for these paths (`/v2/<group>/dependency_proxy/containers/<image>/manifests/<ref>` and
`/blobs/<digest>`) and their token service (`/jwt/auth?service=dependency_proxy`); images come
from the upstream registry (tokens_site.dependency_proxy.upstream) and are cached.

Who may pull: members of the group (Guest and up) with a personal or access token that has
`read_registry` and `write_registry` (or `api`), and the group's deploy tokens with
`read_registry` and `write_registry`, as the seeds say.
"""

import re

from django.conf import settings
from django.http import FileResponse, HttpResponse, JsonResponse
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from tokens_site.access.policy import may_pull_through_proxy
from tokens_site.auth.refusals import registry_error
from tokens_site.dependency_proxy import upstream
from tokens_site.models import Group
from tokens_site.registry.service import REPOSITORY_NAME, Scope, read_token

PATH = "/dependency_proxy/containers/"
_NAME = re.compile(r"(?P<group>[^/]+)/dependency_proxy/containers/(?P<image>.+)")


def split(name: str) -> tuple[str, str] | None:
    matched = _NAME.fullmatch(name)
    return (matched.group("group"), matched.group("image")) if matched else None


def top_level_group(path: str) -> Group | None:
    return Group.objects.filter(parent__isnull=True, path__iexact=path).first()


def granted_actions(principal, scope: Scope) -> list[str]:
    """The token service's answer for a dependency proxy scope: `pull` or nothing (the rule is
    the access policy's: may_pull_through_proxy, which refuses what could never pull)."""
    parts = split(scope.name)
    group = top_level_group(parts[0]) if parts else None
    return ["pull"] if may_pull_through_proxy(principal, group) else []


def _challenge(scope: str = "") -> str:
    value = (
        f'Bearer realm="{settings.EXTERNAL_URL}/jwt/auth",'
        f'service="{settings.DEPENDENCY_PROXY_SERVICE}"'
    )
    return value + (f',scope="{scope}"' if scope else "")


def _unauthorized(scope: str = "") -> JsonResponse:
    response = registry_error(401, "UNAUTHORIZED", gettext("authentication required"))
    response["WWW-Authenticate"] = _challenge(scope)
    return response


def _claims(request) -> dict | None:
    scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    return read_token(token.strip(), settings.DEPENDENCY_PROXY_SERVICE)


def _may_pull(claims: dict, name: str) -> bool:
    return any(
        grant.get("type") == "repository"
        and grant.get("name") == name
        and "pull" in grant.get("actions", [])
        for grant in claims.get("access", [])
    )


@csrf_exempt
@never_cache
def version_check(request):
    """`GET /v2/`: the registry's version check; 401 sends the client to the token service."""
    if _claims(request) is None:
        return _unauthorized()
    return JsonResponse({})


@csrf_exempt
@never_cache
@require_http_methods(["GET", "HEAD"])
def content(request, group_path, image, kind, reference):
    name = f"{group_path.lower()}{PATH}{image}"
    scope = f"repository:{name}:pull"
    if len(name) > 255 or not REPOSITORY_NAME.fullmatch(name):
        return registry_error(
            400,
            "NAME_INVALID",
            gettext("'%(name)s' is not a valid image name.") % {"name": name[:300]},
        )
    claims = _claims(request)
    if claims is None or not _may_pull(claims, name):
        return _unauthorized(scope)
    group = top_level_group(group_path)
    if group is None:
        return registry_error(
            404, "NAME_UNKNOWN", gettext("There is no group %(group)s.") % {"group": group_path}
        )
    try:
        if kind == "manifests":
            return _manifest(request, group, image, reference)
        if not upstream.DIGEST.fullmatch(reference):
            return registry_error(
                400,
                "DIGEST_INVALID",
                gettext("'%(reference)s' is not a digest.") % {"reference": reference[:100]},
            )
        return _blob(request, group, image, reference)
    except upstream.NotFoundUpstream as error:
        code = "MANIFEST_UNKNOWN" if kind == "manifests" else "BLOB_UNKNOWN"
        return registry_error(404, code, str(error))
    except upstream.UpstreamError as error:
        return registry_error(502, "UNAVAILABLE", str(error))


def _manifest(request, group, image, reference):
    if len(reference) > 128 or not re.fullmatch(
        r"[A-Za-z0-9_][A-Za-z0-9_.-]*|sha256:[0-9a-f]{64}", reference
    ):
        return registry_error(
            400,
            "TAG_INVALID",
            gettext("'%(reference)s' is not a tag or digest.") % {"reference": reference[:100]},
        )
    manifest = upstream.fetch_manifest(group, image, reference)
    body = b"" if request.method == "HEAD" else bytes(manifest.content)
    response = HttpResponse(body, content_type=manifest.media_type)
    response["Docker-Content-Digest"] = manifest.digest
    response["Content-Length"] = str(manifest.size)
    return response


def _blob(request, group, image, digest):
    blob = upstream.fetch_blob(group, image, digest)
    if request.method == "HEAD":
        response = HttpResponse(b"", content_type="application/octet-stream")
    else:
        response = FileResponse(blob.file.open("rb"), content_type="application/octet-stream")
    response["Docker-Content-Digest"] = blob.digest
    response["Content-Length"] = str(blob.size)
    return response
