"""The npm registry's endpoints (issue 18), GitLab's routes:

- project level, `/api/v4/projects/<id>/packages/npm/`: `PUT <name>` (npm publish), `GET <name>`
  (the package document), `GET <name>/-/<file>.tgz`, and dist-tags under
  `-/package/<name>/dist-tags` (`GET`; `PUT` and `DELETE .../<tag>`);
- instance level, `/api/v4/packages/npm/`: `GET <name>` and its tarballs and dist-tags, the
  package found by its scope (the top-level group) among the projects the credential reaches.

A scoped name arrives as `@scope%2fname` (npm) or `@scope/name`; both are one name here.
Credentials: npm's `_authToken` (a Bearer token: a personal, access or deploy token alone),
Basic (`_auth`), or the `PRIVATE-TOKEN:` / `Deploy-Token:` headers.
"""

from urllib.parse import unquote

from django.core.exceptions import ValidationError
from django.http import JsonResponse
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from tokens_site.access.abilities import Ability
from tokens_site.access.policy import Denied, projects_allowed
from tokens_site.audit import client_ip
from tokens_site.auth.decorators import ProjectByRef, credential_required
from tokens_site.auth.families import NPM
from tokens_site.auth.pipeline import authenticate
from tokens_site.auth.refusals import message_response, refuse
from tokens_site.models import Project
from tokens_site.packages import npm, services
from tokens_site.packages.models import Package, PackageKind, PackageTag
from tokens_site.packages.views import _content_length, _download, refusal

# A publish document carries the tarball in base64 (4/3 of its size) and the manifest.
DOCUMENT_ALLOWANCE = 1024 * 1024


def protected(ability):
    return credential_required(ability, family=NPM, load_project=ProjectByRef)


def _by_method(request) -> Ability:
    return Ability.READ_PACKAGES if request.method == "GET" else Ability.WRITE_PACKAGES


def _project_base(request, project) -> str:
    return request.build_absolute_uri(f"/api/v4/projects/{project.pk}/packages/npm")


def _instance_base(request) -> str:
    return request.build_absolute_uri("/api/v4/packages/npm")


def _not_found(name: str) -> JsonResponse:
    return message_response(404, f"404 Package {name[:214]} Not Found")


# --- Project level ----------------------------------------------------------------------------


@require_http_methods(["GET", "PUT"])
@protected(_by_method)
def package(request, project, principal, name):
    name = unquote(name)
    if request.method == "GET":
        document = npm.document_of(project, name, _project_base(request, project))
        return _not_found(name) if document is None else JsonResponse(document)
    return _publish(request, project, principal, name)


def _publish(request, project, principal, name):
    length = _content_length(request)
    try:
        limit = services.max_file_size() * 4 // 3 + DOCUMENT_ALLOWANCE
        if length is not None and length > limit:
            services.refuse_if_too_large(length * 3 // 4 - DOCUMENT_ALLOWANCE)
        body = _read_capped(request.META["wsgi.input"], length, limit)
        item = npm.publish(project=project, name=name, body=body)
    except npm.Duplicate as error:
        return message_response(403, " ".join(error.messages))
    except ValidationError as error:
        return refusal(error)
    services.audit_publish(item, principal=principal, ip_address=client_ip(request))
    return message_response(200, "Package published.")


def _send_tarball(project, name: str, file_name: str):
    item = npm.tarball_of(project, name, file_name)
    if item is None:
        return message_response(404, "404 File Not Found")
    return _download(item)


def _read_capped(stream, length: int | None, limit: int) -> bytes:
    """The body, refused (413) once past `limit`, also when it comes chunked (no length)."""
    parts, received = [], 0
    for chunk in services.stream_chunks(stream, length):
        received += len(chunk)
        if received > limit:
            services.refuse_if_too_large(received * 3 // 4 - DOCUMENT_ALLOWANCE)
            raise services.TooLarge(gettext("The publish document is too large."))
        parts.append(chunk)
    return b"".join(parts)


@require_GET
@protected(Ability.READ_PACKAGES)
def tarball(request, project, principal, name, file_name):
    return _send_tarball(project, unquote(name), unquote(file_name))


@require_GET
@protected(Ability.READ_PACKAGES)
def dist_tags(request, project, principal, name):
    name = unquote(name)
    if not Package.objects.filter(project=project, kind=PackageKind.NPM, name=name).exists():
        return _not_found(name)
    return JsonResponse(npm.tags_of(project, name))


@require_http_methods(["PUT", "DELETE"])
@protected(Ability.WRITE_PACKAGES)
def dist_tag(request, project, principal, name, tag):
    name, tag = unquote(name), unquote(tag)
    try:
        npm.check_tag(tag)
    except ValidationError as error:
        return refusal(error)
    if request.method == "DELETE":
        deleted, _ = PackageTag.objects.filter(
            project=project, kind=PackageKind.NPM, name=name, tag=tag
        ).delete()
        if not deleted:
            return message_response(404, f"404 Tag {tag} Not Found")
        return message_response(200, f"Tag {tag} removed.")
    # npm sends the version as a JSON string.
    try:
        version = npm.parse_json(request.body)
    except ValidationError:
        version = None
    if not isinstance(version, str):
        return message_response(
            400, gettext('The body must be the version as a JSON string: "1.2.3".')
        )
    target = Package.objects.filter(
        project=project, kind=PackageKind.NPM, name=name, version=version
    ).first()
    if target is None:
        return message_response(404, f"404 Version {version[:100]} of {name} Not Found")
    npm.tag_set(target, tag)
    return message_response(200, f"Tag {tag} set to {version}.")


# --- Instance level ---------------------------------------------------------------------------


def instance_level(ability: Ability):
    """Serve `name` from the newest project, in its scope's top-level group, where the
    credential may `ability`: `view(request, project, principal, name, ...)`."""

    def decorator(view):
        @csrf_exempt
        def wrapper(request, name, **kwargs):
            name = unquote(name)
            kwargs = {key: unquote(value) for key, value in kwargs.items()}
            try:
                principal = authenticate(request, NPM)
                project = _project_for(principal, name, ability)
            except Denied as denied:
                return refuse(request, denied, NPM)
            response = view(request, project, principal, name, **kwargs)
            patch_cache_control(response, private=True)
            return response

        return wrapper

    return decorator


def _project_for(principal, name: str, ability: Ability) -> Project:
    scope = name[1:].split("/", 1)[0] if name.startswith("@") else ""
    candidates = (
        Project.objects.filter(
            full_path__istartswith=f"{scope}/",
            packages__kind=PackageKind.NPM,
            packages__name=name,
        )
        .select_related("group")
        .distinct()
        .order_by("-id")
    )
    allowed = projects_allowed(principal, candidates, ability)
    if allowed:
        return allowed[0]
    if principal.is_anonymous:
        raise Denied(401, "")
    raise Denied(404, f"404 Package {name[:214]} Not Found", subject="Package")


@require_GET
@instance_level(Ability.READ_PACKAGES)
def instance_package(request, project, principal, name):
    document = npm.document_of(project, name, _instance_base(request))
    return _not_found(name) if document is None else JsonResponse(document)


@require_GET
@instance_level(Ability.READ_PACKAGES)
def instance_tarball(request, project, principal, name, file_name):
    return _send_tarball(project, name, file_name)


@require_GET
@instance_level(Ability.READ_PACKAGES)
def instance_dist_tags(request, project, principal, name):
    return JsonResponse(npm.tags_of(project, name))
