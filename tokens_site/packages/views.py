"""The package registry's endpoints under `/api/v4/projects/<id>/packages/`:

- PyPI: `POST .../pypi` (twine upload), `GET .../pypi/simple/` and `.../pypi/simple/<name>/`
  (pip: PEP 503 HTML or PEP 691 JSON by `Accept`), `GET .../pypi/files/<sha256>/<file>`;
- generic: `PUT` and `GET .../generic/<name>/<version>/<file>` (curl).

Credentials: Basic (a deploy token with its username, or a personal access token), or the
`PRIVATE-TOKEN:` / `Deploy-Token:` headers; the rules are the authentication layer's.
"""

import html
from urllib.parse import unquote

from django.core.exceptions import SuspiciousOperation, ValidationError
from django.http import FileResponse, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.urls import reverse
from django.utils.translation import gettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from packaging.utils import canonicalize_name

from tokens_site.access.abilities import Ability
from tokens_site.audit import client_ip
from tokens_site.auth.decorators import ProjectByRef, credential_required
from tokens_site.auth.families import PACKAGES
from tokens_site.auth.refusals import message_response
from tokens_site.packages import services
from tokens_site.packages.models import Package, PackageFile, PackageKind
from tokens_site.paths import record_id

PEP691_JSON = "application/vnd.pypi.simple.v1+json"
PEP691_HTML = "application/vnd.pypi.simple.v1+html"
PEP691_LATEST_JSON = "application/vnd.pypi.simple.latest+json"
PEP691_LATEST_HTML = "application/vnd.pypi.simple.latest+html"
PLAIN_HTML = "text/html"
FORM_FIELDS_ALLOWANCE = 64 * 1024  # twine's form fields around the file, when checking the size


def _content_length(request) -> int | None:
    value = request.META.get("CONTENT_LENGTH", "")
    return record_id(value)


def refusal(error: ValidationError) -> JsonResponse:
    """A refused upload: its reasons (translated when they were made) in the body; the status
    line keeps an English, ASCII reason phrase (message_response)."""
    if isinstance(error, services.TooLarge):
        return message_response(413, " ".join(error.messages))
    return message_response(400, " ".join(error.messages))


def protected(ability):
    return credential_required(ability, family=PACKAGES, load_project=ProjectByRef)


# --- PyPI -------------------------------------------------------------------------------------


@require_POST
@protected(Ability.WRITE_PACKAGES)
def pypi_upload(request, project, principal):
    declared = _content_length(request) or 0
    try:
        services.refuse_if_too_large(declared - FORM_FIELDS_ALLOWANCE)
        form, files = _upload_form(request)
        if form.get(":action", "file_upload") != "file_upload":
            raise ValidationError(gettext("Only the file_upload action is supported."))
        upload = files.get("content")
        missing = [field for field in ("name", "version") if not form.get(field)]
        if upload is None:
            missing.append("content")
        if missing:
            raise ValidationError(
                gettext("Missing fields: %(fields)s.") % {"fields": ", ".join(missing)}
            )
        item = services.pypi_file_add(
            project=project,
            name=form["name"],
            version=form["version"],
            file_name=upload.name,
            chunks=upload.chunks(),
            sha256=form.get("sha256_digest", ""),
            requires_python=form.get("requires_python", ""),
        )
    except ValidationError as error:
        return refusal(error)
    services.audit_publish(item, principal=principal, ip_address=client_ip(request))
    return message_response(201, "201 Created")


def _upload_form(request):
    """twine's multipart form and files; a body that is not one is a 400 with a reason."""
    try:
        return request.POST, request.FILES
    except MultiPartParserError as error:
        raise ValidationError(
            gettext("The upload is not a valid multipart/form-data body: %(error)s")
            % {"error": error}
        ) from error
    except SuspiciousOperation as error:  # too many fields or files
        raise ValidationError(
            gettext("The upload form was refused: %(error)s") % {"error": error}
        ) from error


def _simple_content_type(request) -> str:
    """PEP 691 content negotiation: the JSON or HTML serialization the client prefers (pip asks
    for JSON), answered with the concrete version for a `latest` request."""
    preferences = {}
    for part in request.META.get("HTTP_ACCEPT", "").split(","):
        kind, *parameters = [piece.strip() for piece in part.split(";")]
        quality = 1.0
        for parameter in parameters:
            if parameter.startswith("q="):
                try:
                    quality = float(parameter[2:])
                except ValueError:
                    quality = 0.0
        preferences[kind] = max(quality, preferences.get(kind, 0.0))
    json_quality = max(preferences.get(PEP691_JSON, 0.0), preferences.get(PEP691_LATEST_JSON, 0.0))
    versioned_html_quality = max(
        preferences.get(PEP691_HTML, 0.0), preferences.get(PEP691_LATEST_HTML, 0.0)
    )
    plain_html_quality = max(preferences.get(PLAIN_HTML, 0.0), preferences.get("*/*", 0.0))
    if json_quality > 0 and json_quality >= max(versioned_html_quality, plain_html_quality):
        return PEP691_JSON
    if versioned_html_quality > 0 and versioned_html_quality >= plain_html_quality:
        return PEP691_HTML
    return PLAIN_HTML


def _simple_response(request, title: str, links: list[dict], json_body: dict) -> HttpResponse:
    content_type = _simple_content_type(request)
    if content_type == PEP691_JSON:
        response = JsonResponse(json_body, content_type=PEP691_JSON)
    else:
        anchors = "".join(
            f'<a href="{html.escape(link["url"])}"'
            + (
                f' data-requires-python="{html.escape(link["requires_python"])}"'
                if link.get("requires_python")
                else ""
            )
            + f">{html.escape(link['text'])}</a><br>\n"
            for link in links
        )
        page = (
            '<!DOCTYPE html>\n<html><head><meta name="pypi:repository-version" content="1.0">'
            f"<title>{html.escape(title)}</title></head>\n<body><h1>{html.escape(title)}</h1>\n"
            f"{anchors}</body></html>\n"
        )
        response = HttpResponse(page, content_type=f"{content_type}; charset=utf-8")
    response["Vary"] = "Accept"
    return response


@require_GET
@protected(Ability.READ_PACKAGES)
def pypi_simple_index(request, project, principal):
    names = (
        Package.objects.filter(project=project, kind=PackageKind.PYPI)
        .order_by("name")
        .values_list("name", flat=True)
        .distinct()
    )
    base = request.build_absolute_uri(reverse("api:pypi_simple", args=[str(project.pk)]))
    links = [{"url": f"{base}{name}/", "text": name} for name in names]
    return _simple_response(
        request,
        "Simple index",
        links,
        {"meta": {"api-version": "1.0"}, "projects": [{"name": name} for name in names]},
    )


def _simple_package_path(project, normalized: str) -> str:
    return f"{reverse('api:pypi_simple', args=[str(project.pk)])}{normalized}/"


@require_GET
@protected(Ability.READ_PACKAGES)
def pypi_simple_package(request, project, principal, name):
    normalized = canonicalize_name(unquote(name))
    if unquote(name) != normalized or not request.path.endswith("/"):
        # As pypi.org does: one URL per project, its normalized name (pip follows the redirect).
        return HttpResponsePermanentRedirect(
            request.build_absolute_uri(_simple_package_path(project, normalized))
        )
    files = list(
        PackageFile.objects.filter(
            package__project=project, package__kind=PackageKind.PYPI, package__name=normalized
        ).order_by("package__created_at", "file_name")
    )
    if not files:
        return message_response(404, f"404 Package {normalized} Not Found")
    links = []
    for item in files:
        path = reverse("api:pypi_file", args=[str(project.pk), item.sha256, item.file_name])
        url = request.build_absolute_uri(path)
        links.append(
            {
                "url": f"{url}#sha256={item.sha256}",
                "text": item.file_name,
                "requires_python": item.requires_python,
                "file": item,
                "plain_url": url,
            }
        )
    json_body = {
        "meta": {"api-version": "1.0"},
        "name": normalized,
        "files": [
            {
                "filename": link["file"].file_name,
                "url": link["plain_url"],
                "hashes": {"sha256": link["file"].sha256},
                **({"requires-python": link["requires_python"]} if link["requires_python"] else {}),
            }
            for link in links
        ],
    }
    return _simple_response(request, f"Links for {normalized}", links, json_body)


def _download(item: PackageFile) -> FileResponse:
    return FileResponse(item.file.open("rb"), as_attachment=True, filename=item.file_name)


@require_GET
@protected(Ability.READ_PACKAGES)
def pypi_file(request, project, principal, sha256, file_name):
    item = PackageFile.objects.filter(
        package__project=project,
        package__kind=PackageKind.PYPI,
        sha256=sha256,
        file_name=unquote(file_name),
    ).first()
    if item is None:
        return message_response(404, "404 File Not Found")
    return _download(item)


# --- Generic packages -------------------------------------------------------------------------


def _generic_ability(request) -> Ability:
    return Ability.WRITE_PACKAGES if request.method == "PUT" else Ability.READ_PACKAGES


@require_http_methods(["GET", "PUT"])
@protected(_generic_ability)
def generic_file(request, project, principal, name, version, file_name):
    name, version, file_name = unquote(name), unquote(version), unquote(file_name)
    if request.method == "GET":
        item = PackageFile.objects.filter(
            package__project=project,
            package__kind=PackageKind.GENERIC,
            package__name=name,
            package__version=version,
            file_name=file_name,
        ).first()
        if item is None:
            return message_response(404, "404 File Not Found")
        return _download(item)
    length = _content_length(request)
    try:
        services.validate_generic(name, version, file_name)
        if length is not None:
            services.refuse_if_too_large(length)
        # The raw WSGI stream: read in chunks, so nothing is ever held whole in memory.
        item = services.generic_file_add(
            project=project,
            name=name,
            version=version,
            file_name=file_name,
            chunks=services.stream_chunks(request.META["wsgi.input"], length),
        )
    except ValidationError as error:
        if getattr(error, "code", None) == "exists":
            return message_response(409, " ".join(error.messages))
        return refusal(error)
    services.audit_publish(item, principal=principal, ip_address=client_ip(request))
    return message_response(201, "201 Created")
