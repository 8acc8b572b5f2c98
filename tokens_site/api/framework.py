"""The small framework of the REST API: authentication with personal access tokens, scopes,
`Sudo`, JSON in and out, GitLab's error shapes and pagination.

Authentication is the site's one pipeline (tokens_site.auth), with the API family: personal
access tokens only, from `PRIVATE-TOKEN`, `Authorization: Bearer` or `?private_token=`, under
the same ban. Scopes are the access policy's (tokens_site.access).
"""

import functools
import json
import math
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from io import BytesIO
from urllib.parse import unquote, urlencode

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import (
    BadRequest,
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
    ValidationError,
)
from django.db.models import QuerySet
from django.http import HttpResponse, JsonResponse, QueryDict
from django.http.multipartparser import MultiPartParserError
from django.views.decorators.csrf import csrf_exempt

from tokens_site.access.abilities import PERSONAL_SCOPES, Ability
from tokens_site.access.policy import Denied, has_scope, is_administrator
from tokens_site.audit import audit_context
from tokens_site.auth.families import API
from tokens_site.auth.pipeline import authenticate
from tokens_site.auth.refusals import refuse
from tokens_site.paths import record_id

INTEGER = re.compile(r"-?[0-9]{1,9}")
# Dates as GitLab takes them: a calendar date, or a full date and time (RFC 3339 style, the
# shape GitLab itself sends for a deploy token's expiry). ASCII digits only: no week dates,
# no ordinal dates, no basic format (`20310101`), which `fromisoformat` would also take.
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
ISO_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})?"
)
DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100


class ApiError(Exception):
    """An answer to input the API cannot take (400, 405, 409, 413): status and GitLab's JSON
    body. Refusals (401, 403, 404) are the access policy's Denied, answered by the one
    refusal builder (tokens_site.auth.refusals)."""

    def __init__(self, status: int, body: dict) -> None:
        super().__init__(body)
        self.status = status
        self.body = body

    @classmethod
    def message(cls, status: int, message) -> "ApiError":
        return cls(status, {"message": message})


def not_found(what: str) -> Denied:
    return Denied.not_found(what)


def bad_request(error: str) -> ApiError:
    return ApiError(400, {"error": error})


def forbidden(reason: str = "") -> Denied:
    return Denied(403, reason)


def json_response(data, status: int = 200, headers: dict | None = None) -> JsonResponse:
    response = JsonResponse(data, status=status, safe=False)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def unauthorized() -> Denied:
    return Denied(401, "")


def error_response(error: ApiError) -> HttpResponse:
    return json_response(error.body, status=error.status)


# --- Credentials ------------------------------------------------------------------------------


def _sudo_target(request, principal):
    """The user named by `Sudo:` (or `?sudo=`), when an administrator's sudo token asks."""
    wanted = request.META.get("HTTP_SUDO") or request.GET.get("sudo")
    if not wanted:
        return None
    if "\x00" in wanted:
        raise not_found("User")
    if "sudo" not in principal.scopes:
        raise Denied.insufficient_scope(frozenset({"sudo"}))
    if not is_administrator(principal.user):
        raise forbidden("Must be admin to use sudo")
    users = get_user_model().objects
    found = first_by_id(users, wanted) or users.filter(username=wanted).first()
    if found is None:
        raise not_found("User")
    if not found.is_active:
        raise forbidden("The user you are trying to impersonate is blocked")
    return found


def first_by_id(queryset, value: str, field: str = "pk"):
    """The record whose `field` is the id `value` spells, or None (also when `value` is not
    an id at all: ids are ASCII digits)."""
    number = record_id(value)
    return queryset.filter(**{field: number}).first() if number is not None else None


def _authenticate(request, needed: Ability) -> None:
    """Set request.user (and request.api_token) from the token, or raise Denied."""
    request.api_token = None
    principal = authenticate(request, API)
    if principal.is_anonymous:
        request.user = AnonymousUser()
        return
    if not has_scope(principal, needed):
        raise Denied.insufficient_scope(PERSONAL_SCOPES[needed])
    request.api_token = principal.token
    target = _sudo_target(request, principal)
    request.user = target or principal.user
    request.impersonator = principal.user if target is not None else None


def api_view(
    *,
    read: Ability = Ability.READ_API,
    write: Ability = Ability.WRITE_API,
    methods: tuple[str, ...] = ("GET",),
    authenticated: bool = True,
):
    """An API endpoint. GET needs the scopes of the `read` ability, other methods `write`'s;
    `authenticated=False` lets anonymous visitors read what is public. The view gets the
    request (with `user` and `api_token`) and the URL's arguments, percent-decoded."""

    def decorator(view: Callable):
        def respond(request, *args, **kwargs) -> HttpResponse:
            try:
                if request.method not in methods:
                    raise ApiError.message(405, "405 Method Not Allowed")
                _authenticate(request, read if request.method == "GET" else write)
                if not request.user.is_authenticated and (authenticated or request.method != "GET"):
                    raise unauthorized()
                decoded = {name: unquote(value) for name, value in kwargs.items()}
                impersonator = getattr(request, "impersonator", None)
                if impersonator is None:
                    return view(request, *args, **decoded)
                with audit_context(sudo_by=impersonator.get_username()):
                    return view(request, *args, **decoded)
            except Denied as denied:
                return refuse(request, denied, API)
            except PermissionDenied as error:  # a service's refusal
                return refuse(request, forbidden(str(error)), API)
            except ApiError as error:
                return error_response(error)
            except ValidationError as error:
                return error_response(validation_error(error))

        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            response = respond(request, *args, **kwargs)
            # Answers hold private data and, on create and rotate, a token: no cache keeps them.
            response["Cache-Control"] = "no-store"
            return response

        return wrapper

    return decorator


def validation_error(error: ValidationError) -> ApiError:
    """A service's refusal: 409 when something already exists, else 400 with the messages
    by field, as GitLab sends them."""
    if hasattr(error, "error_dict"):
        items = [item for errors in error.error_dict.values() for item in errors]
    else:
        items = error.error_list
    if any(item.code == "exists" for item in items):
        return ApiError.message(409, " ".join(error.messages))
    if hasattr(error, "error_dict"):
        return ApiError.message(400, error.message_dict)
    return ApiError.message(400, " ".join(error.messages))


# --- Input ------------------------------------------------------------------------------------


def body(request) -> dict:
    """The request's parameters: a JSON object, or form fields (`scopes[]=a&scopes[]=b`,
    URL-encoded or multipart) on POST and PUT alike."""
    try:
        if request.content_type == "application/json":
            return _json_object(request.body)
        return _fields(_form(request))
    except RequestDataTooBig as error:
        raise ApiError.message(413, "413 Request Entity Too Large") from error
    except (MultiPartParserError, SuspiciousOperation, BadRequest) as error:
        raise bad_request(f"The request body is not a valid form: {error}") from error


def _json_object(raw: bytes) -> dict:
    try:
        data = json.loads(raw or b"{}")
    except (ValueError, UnicodeDecodeError) as error:
        raise bad_request(f"The request body is not valid JSON: {error}") from error
    except RecursionError as error:
        raise bad_request("The request body is nested too deeply.") from error
    if not isinstance(data, dict):
        raise bad_request("The request body must be a JSON object.")
    return data


def _form(request) -> QueryDict:
    """Form fields of the body. Django parses them only for POST; GitLab's API takes them on
    PUT as well (`curl -X PUT -d access_level=40`)."""
    if request.method == "POST":
        return request.POST
    if request.content_type == "application/x-www-form-urlencoded":
        return QueryDict(request.body, encoding="utf-8")
    if request.content_type == "multipart/form-data":
        return request.parse_file_upload(request.META, BytesIO(request.body))[0]
    return QueryDict()


def _fields(form: QueryDict) -> dict:
    data: dict = {}
    for key in form:
        values = form.getlist(key)
        if key.endswith("[]"):
            data[key[:-2]] = values
        else:
            data[key] = values[-1]
    return data


def text(data: dict, name: str, *, required: bool = False, default: str = "") -> str:
    value = data.get(name)
    if value is None:
        if required:
            raise bad_request(f"{name} is missing")
        return default
    if not isinstance(value, str | int) or isinstance(value, bool) or "\x00" in str(value):
        raise bad_request(f"{name} is invalid")
    return str(value)


def integer(data: dict, name: str, *, required: bool = False) -> int | None:
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise bad_request(f"{name} is missing")
        return None
    if isinstance(value, bool) or not INTEGER.fullmatch(str(value)):
        raise bad_request(f"{name} is invalid: use a whole number")
    return int(value)


def boolean(data: dict, name: str, default: bool = False) -> bool:
    value = data.get(name)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if str(value).lower() in {"true", "1", "yes"}:
        return True
    if str(value).lower() in {"false", "0", "no"}:
        return False
    raise bad_request(f"{name} is invalid")


def string_list(data: dict, name: str, *, required: bool = False) -> list[str]:
    value = data.get(name)
    if value is None:
        if required:
            raise bad_request(f"{name} is missing")
        return []
    if isinstance(value, str):
        value = [part for part in value.split(",") if part]
    if not isinstance(value, list) or not all(
        isinstance(item, str) and "\x00" not in item for item in value
    ):
        raise bad_request(f"{name} is invalid")
    return value


def date_value(data: dict, name: str) -> date | None:
    """A date (`YYYY-MM-DD`), or a date and time (`YYYY-MM-DDTHH:MM:SSZ`, any offset; none means
    UTC), whose UTC date is taken. Empty or absent: None."""
    value = data.get(name)
    if value in (None, ""):
        return None
    text_value = value if isinstance(value, str) else ""
    try:
        if ISO_DATE.fullmatch(text_value):
            return date.fromisoformat(text_value)
        if ISO_DATETIME.fullmatch(text_value):
            moment = datetime.fromisoformat(text_value)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            return moment.astimezone(UTC).date()
    except (ValueError, OverflowError):
        pass
    raise bad_request(
        f"{name} is invalid: use a date (YYYY-MM-DD) or a date and time (YYYY-MM-DDTHH:MM:SSZ)"
    )


# --- Output -----------------------------------------------------------------------------------


def paginate(request, queryset: QuerySet | list, serialize: Callable[[list], list]) -> JsonResponse:
    """GitLab's offset pagination: `page`, `per_page` (1 to 100), and the headers python-gitlab
    follows (`Link` with rel="next", `X-Total`, `X-Next-Page`, ...)."""
    page = integer(request.GET, "page")
    page = 1 if page is None else page
    per_page = integer(request.GET, "per_page")
    per_page = DEFAULT_PER_PAGE if per_page is None else per_page
    if page < 1:
        raise bad_request("page does not have a valid value: use 1 or more")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise bad_request(f"per_page does not have a valid value: use 1 to {MAX_PER_PAGE}")
    total = len(queryset) if isinstance(queryset, list) else queryset.count()
    pages = max(1, math.ceil(total / per_page))
    items = list(queryset[(page - 1) * per_page : page * per_page])
    headers = {
        "X-Total": str(total),
        "X-Total-Pages": str(pages),
        "X-Page": str(page),
        "X-Per-Page": str(per_page),
        "X-Next-Page": str(page + 1) if page < pages else "",
        "X-Prev-Page": str(page - 1) if page > 1 else "",
    }

    def link(number: int, rel: str) -> str:
        query = request.GET.copy()
        query["page"] = str(number)
        query["per_page"] = str(per_page)
        query.pop("private_token", None)  # never echo a credential into a URL
        url = request.build_absolute_uri(request.path_info) + "?" + urlencode(query, doseq=True)
        return f'<{url}>; rel="{rel}"'

    links = [link(page + 1, "next")] if page < pages else []
    links += [link(page - 1, "prev")] if page > 1 else []
    links += [link(1, "first"), link(pages, "last")]
    headers["Link"] = ", ".join(links)
    return json_response(serialize(items), headers=headers)


def no_content() -> HttpResponse:
    return HttpResponse(status=204)
