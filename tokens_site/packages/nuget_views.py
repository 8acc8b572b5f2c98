"""The NuGet v3 feed's endpoints (issue 18), GitLab's routes:

- project level, `/api/v4/projects/<id>/packages/nuget/`: `index.json` (the service index),
  `PUT` (push a .nupkg, multipart as `nuget push` / `dotnet nuget push` send it),
  `PUT symbolpackage` (.snupkg), `metadata/<id>/index.json` and `metadata/<id>/<version>.json`
  (registrations), `download/<id>/index.json` and `download/<id>/<version>/<file>` (the flat
  container: .nupkg and .nuspec), `query` (search);
- group level, `/api/v4/groups/<id>/-/packages/nuget/`: the same, read-only, over every project
  of the group and its subgroups that the credential may read.

Credentials: Basic (a deploy token with its username, or any username and a personal or access
token; NuGet sends them after the first 401), or the `PRIVATE-TOKEN:` / `Deploy-Token:` headers.
"""

import re
from urllib.parse import unquote

from django.core.exceptions import SuspiciousOperation, ValidationError
from django.http import HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from tokens_site.access.abilities import Ability
from tokens_site.access.lookups import find
from tokens_site.access.policy import Denied, projects_allowed
from tokens_site.audit import client_ip
from tokens_site.auth.decorators import ProjectByRef, credential_required
from tokens_site.auth.families import PACKAGES
from tokens_site.auth.pipeline import authenticate
from tokens_site.auth.refusals import message_response, refuse
from tokens_site.models import Group, Project
from tokens_site.packages import nuget, nuget_v2, services
from tokens_site.packages.views import _content_length, _download, refusal
from tokens_site.paths import record_id

FORM_ALLOWANCE = 64 * 1024
SEARCH_TAKE_MAX = 100


def _project_base(request, project) -> str:
    return request.build_absolute_uri(f"/api/v4/projects/{project.pk}/packages/nuget")


def _group_base(request, group) -> str:
    return request.build_absolute_uri(f"/api/v4/groups/{group.pk}/-/packages/nuget")


def project_feed(ability: Ability):
    """A project's feed: `view(request, [project], base, principal, **kwargs)`."""

    def decorator(view):
        @credential_required(ability, family=PACKAGES, load_project=ProjectByRef)
        def wrapper(request, project, principal, **kwargs):
            return view(request, [project], _project_base(request, project), principal, **kwargs)

        return wrapper

    return decorator


def group_feed(view):
    """A group's feed (read-only): every project below the group the credential may read."""

    @csrf_exempt
    def wrapper(request, group_ref, **kwargs):
        try:
            principal = authenticate(request, PACKAGES)
            group = find(Group.objects.all(), unquote(group_ref))
            below = Project.objects.below(group).select_related("group") if group else []
            projects = projects_allowed(principal, below, Ability.READ_PACKAGES)
            if not projects:
                raise Denied(401, "") if principal.is_anonymous else Denied.not_found("Group")
        except Denied as denied:
            return refuse(request, denied, PACKAGES)
        response = view(request, projects, _group_base(request, group), principal, **kwargs)
        patch_cache_control(response, private=True)
        return response

    return wrapper


# --- Reading ----------------------------------------------------------------------------------


def service_index(request, projects, base, principal, *, publish: bool):
    return JsonResponse(nuget.service_index(base, publish=publish))


def registration_index(request, projects, base, principal, package_id):
    packages = nuget.packages_named(projects, unquote(package_id))
    if not packages:
        return message_response(404, "404 Package Not Found")
    return JsonResponse(nuget.registration_index(base, packages))


def registration_leaf(request, projects, base, principal, package_id, version):
    package = _version(projects, package_id, version)
    if package is None:
        return message_response(404, "404 Package Not Found")
    return JsonResponse(nuget.registration_leaf(base, package))


def versions(request, projects, base, principal, package_id):
    packages = nuget.packages_named(projects, unquote(package_id))
    if not packages:
        return message_response(404, "404 Package Not Found")
    return JsonResponse({"versions": [package.version.lower() for package in packages]})


def content(request, projects, base, principal, package_id, version, file_name):
    package = _version(projects, package_id, version)
    file_name = unquote(file_name).lower()
    if package is None:
        return message_response(404, "404 Package Not Found")
    if file_name == f"{package.name}.nuspec":
        response = HttpResponse(package.metadata.get("nuspec", ""), content_type="application/xml")
        response["Content-Disposition"] = f'attachment; filename="{file_name}"'
        return response
    item = next((item for item in package.files.all() if item.file_name == file_name), None)
    if item is None:
        return message_response(404, "404 File Not Found")
    return _download(item)


def query(request, projects, base, principal):
    skip = _number(request.GET.get("skip"), 0)
    take = min(_number(request.GET.get("take"), 20), SEARCH_TAKE_MAX)
    prerelease = request.GET.get("prerelease", "true").lower() != "false"
    found = nuget.search(base, projects, request.GET.get("q", "")[:200], skip, take, prerelease)
    return JsonResponse(found)


def _number(value: str | None, default: int) -> int:
    number = record_id(value or "")
    return number if number is not None and number < 10**6 else default


def _version(projects, package_id: str, version: str):
    """The newest package `package_id` `version` (either may be in any case; the version may end
    in `.json`, as registration leaves are named) among `projects`."""
    version = unquote(version).removesuffix(".json")
    try:
        version = nuget.normalize_version(version)
    except ValidationError:
        return None
    return next(
        (
            package
            for package in reversed(nuget.packages_named(projects, unquote(package_id)))
            if package.version.lower() == version.lower()
        ),
        None,
    )


READERS = {
    "service_index": service_index,
    "registration_index": registration_index,
    "registration_leaf": registration_leaf,
    "versions": versions,
    "content": content,
    "query": query,
}


def _reader(name: str, **fixed):
    read = READERS[name]

    def project_view(request, projects, base, principal, **kwargs):
        return read(request, projects, base, principal, **fixed, **kwargs)

    project_view.__name__ = name
    return (
        require_GET(project_feed(Ability.READ_PACKAGES)(project_view)),
        require_GET(group_feed(project_view)),
    )


project_service_index, _ = _reader("service_index", publish=True)
_, group_service_index = _reader("service_index", publish=False)
project_registration_index, group_registration_index = _reader("registration_index")
project_registration_leaf, group_registration_leaf = _reader("registration_leaf")
project_versions, group_versions = _reader("versions")
project_content, group_content = _reader("content")
project_query, group_query = _reader("query")


# --- Pushing ----------------------------------------------------------------------------------


def _push(request, projects, base, principal, *, symbols: bool):
    [project] = projects
    length = _content_length(request)
    try:
        if length is not None:
            services.refuse_if_too_large(length - FORM_ALLOWANCE)
        upload = _uploaded_file(request)
        item = nuget.push(project=project, chunks=upload.chunks(), symbols=symbols)
    except nuget.Duplicate as error:
        return message_response(409, " ".join(error.messages))
    except nuget.MissingPackage as error:
        return message_response(404, " ".join(error.messages))
    except ValidationError as error:
        if getattr(error, "code", None) == "exists":
            return message_response(409, " ".join(error.messages))
        return refusal(error)
    services.audit_publish(item, principal=principal, ip_address=client_ip(request))
    return message_response(201, "Created")


def _uploaded_file(request):
    """The .nupkg of NuGet's multipart body (its one file, named `package` by nuget.exe). A PUT
    body is not parsed by Django on its own: it is here, the same way as a POST's."""
    if not request.content_type.startswith("multipart/form-data"):
        raise ValidationError(
            gettext(
                "The push must be multipart/form-data with the .nupkg as its file, as "
                "`nuget push` and `dotnet nuget push` send it."
            )
        )
    try:
        _fields, files = request.parse_file_upload(request.META, request)
    except MultiPartParserError as error:
        raise ValidationError(
            gettext("The push is not a valid multipart/form-data body: %(error)s")
            % {"error": error}
        ) from error
    except SuspiciousOperation as error:
        raise ValidationError(
            gettext("The push was refused: %(error)s") % {"error": error}
        ) from error
    upload = files.get("package") or next(iter(files.values()), None)
    if upload is None:
        raise ValidationError(
            gettext(
                "The push has no package file: send the .nupkg as multipart/form-data, as "
                "`nuget push` and `dotnet nuget push` do."
            )
        )
    return upload


@require_http_methods(["PUT"])
@project_feed(Ability.WRITE_PACKAGES)
def push(request, projects, base, principal):
    return _push(request, projects, base, principal, symbols=False)


@require_http_methods(["PUT"])
@project_feed(Ability.WRITE_PACKAGES)
def push_symbols(request, projects, base, principal):
    return _push(request, projects, base, principal, symbols=True)


@csrf_exempt
def group_push(request, group_ref):
    """A group's feed takes no push (GitLab's neither)."""
    response = message_response(
        405,
        gettext(
            "A group's NuGet feed is read-only: push to a project's feed "
            "(/api/v4/projects/<id>/packages/nuget/index.json)."
        ),
    )
    response["Allow"] = "GET"
    return response


# --- The v2 feed (NuGet 2.x) ------------------------------------------------------------------

V2_ROUTES = (
    (re.compile(r"\$metadata"), "metadata"),
    (re.compile(r"FindPackagesById\(\)"), "find"),
    (re.compile(r"Search\(\)"), "search"),
    (re.compile(r"Packages(?:\(\))?"), "filter"),
    (re.compile(r"Packages\((?P<key>.*)\)"), "entry"),
    (re.compile(r"download/(?P<package_id>[^/]+)/(?P<version>[^/]+)"), "download"),
)
ATOM_TYPE = "application/atom+xml;type=feed;charset=utf-8"


@require_GET
@project_feed(Ability.READ_PACKAGES)
def v2(request, projects, base, principal, rest=""):
    """Every v2 request, under `…/nuget/v2/` or (NuGet 2.x given the v3 URL)
    `…/nuget/index.json/`: dispatched on the rest of the path, decoded."""
    root = f"{base}/v2"
    rest = unquote(rest)
    if not rest:
        return HttpResponse(nuget_v2.service_document(root), content_type="application/xml")
    for pattern, name in V2_ROUTES:
        matched = pattern.fullmatch(rest)
        if matched:
            return _v2_answer(request, projects, root, name, **matched.groupdict())
    return message_response(404, "404 Not Found: not a NuGet v2 feed request.")


def _v2_answer(request, projects, root, name, **parts):
    query = request.GET
    skip, top = nuget_v2.page(query)
    if name == "metadata":
        return HttpResponse(nuget_v2.metadata_document(), content_type="application/xml")
    if name == "download":
        return content(
            request,
            projects,
            root,
            None,
            parts["package_id"],
            parts["version"],
            f"{parts['package_id'].lower()}.{parts['version'].lower()}.nupkg",
        )
    if name == "entry":
        identity = nuget_v2.key(parts["key"])
        package = _version(projects, *identity) if identity else None
        if package is None:
            return message_response(404, "404 Package Not Found")
        return HttpResponse(
            nuget_v2.entry_document(root, package),
            content_type="application/atom+xml;type=entry;charset=utf-8",
        )
    if name == "find":
        package_id = nuget_v2.parameter(query.get("id"))
        found = nuget_v2.packages(projects, package_id=package_id, skip=skip, top=top)
        return HttpResponse(
            nuget_v2.feed(root, "FindPackagesById", found, nuget_v2.latest_of(projects, found)),
            content_type=ATOM_TYPE,
        )
    if name == "search":
        found = nuget_v2.packages(
            projects,
            term=nuget_v2.parameter(query.get("searchTerm"))[:200],
            prerelease=query.get("includePrerelease", "false").lower() == "true",
            skip=skip,
            top=top,
        )
        return HttpResponse(
            nuget_v2.feed(root, "Search", found, nuget_v2.latest_of(projects, found)),
            content_type=ATOM_TYPE,
        )
    package_id = nuget_v2.filtered_id(query.get("$filter", ""))
    found = nuget_v2.packages(projects, package_id=package_id, skip=skip, top=top)
    return HttpResponse(
        nuget_v2.feed(root, "Packages", found, nuget_v2.latest_of(projects, found)),
        content_type=ATOM_TYPE,
    )


@csrf_exempt
def v2_root(request, project_ref):
    """`…/nuget/v2`: the v2 service document, or a push (NuGet 2.x PUTs to its source)."""
    if request.method == "PUT":
        return push(request, project_ref=project_ref)
    return v2(request, project_ref=project_ref)
