"""The one builder of refusals (401, 403, 404) for every endpoint family, in the shape its
clients read, with the challenge that makes them send credentials, logged in one line.

- text (Git, whoami): the reason as plain text, which git prints as `remote: <reason>`;
- message (packages): GitLab's `{"message": ...}`, the reason also as the HTTP reason phrase
  (what twine shows);
- registry (`/jwt/auth`): distribution's `{"errors": [{"code", "message"}]}`;
- api (`/api/v4`): GitLab's `{"message": "401 Unauthorized"}`, `"403 Forbidden - <reason>"`,
  `"404 Project Not Found"`, or its `insufficient_scope` error.

A 401 always carries `WWW-Authenticate` (git and pip send credentials only after one); no
refusal is cached.

Reasons are made when the answer is written, in the language active then (Git, packages, the
registry: the client's), except the REST API's, always English, as the log line is
(tokens_site.auth.reasons). The status line stays ASCII: an HTTP reason phrase is Latin-1, so a
translated reason goes only in the body (`reason_phrase()`).
"""

from __future__ import annotations

import logging
from enum import StrEnum
from http import HTTPStatus
from typing import TYPE_CHECKING

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.utils import translation
from django.utils.functional import Promise

from tokens_site.access.policy import Denied
from tokens_site.audit import ban_address
from tokens_site.auth.reasons import in_english

if TYPE_CHECKING:
    from tokens_site.auth.families import Family

logger = logging.getLogger("tokens_site.auth")

REALM = "Tokens"
BASIC_CHALLENGE = f'Basic realm="{REALM}"'
BEARER_CHALLENGE = f'Bearer realm="{REALM}"'

# distribution's error codes for the token service's refusals.
REGISTRY_CODES = {401: "UNAUTHORIZED", 403: "DENIED", 404: "NAME_UNKNOWN"}
INSUFFICIENT_SCOPE = "The request requires higher privileges than provided by the access token."
# What the log says of a 401 (the answer itself never says what was wrong).
UNAUTHORIZED_LOG_REASON = "no usable credentials"


class Style(StrEnum):
    TEXT = "text"
    MESSAGE = "message"
    REGISTRY = "registry"
    API = "api"


def message_response(status: int, message: str) -> JsonResponse:
    """GitLab's `{"message": ...}`; on errors the message is the HTTP reason phrase as well,
    which is what twine shows (as PyPI does), in English (see reason_phrase())."""
    response = JsonResponse({"message": str(message)}, status=status)
    if status >= 400:
        response.reason_phrase = reason_phrase(status, message)
    return response


def _english_active() -> bool:
    language = translation.get_language() or settings.LANGUAGE_CODE
    return language.split("-")[0] == settings.LANGUAGE_CODE.split("-")[0]


def reason_phrase(status: int, message: str) -> str:
    """The status line's reason phrase for `message`: its first line in English and ASCII (a
    reason phrase is Latin-1; twine and npm show it). A lazy message is made in English for it;
    one already made in another language (not ASCII) leaves the status's own phrase, and the
    translation goes in the body only."""
    if isinstance(message, Promise):
        text = in_english(message)
    elif message.isascii() or _english_active():
        text = message
    else:
        text = HTTPStatus(status).phrase
    phrase = text.splitlines()[0] if text else ""
    return phrase.encode("ascii", "replace").decode()[:200]


def registry_error(status: int, code: str, message: str) -> JsonResponse:
    """distribution's error body: `code` is for programs (never translated), `message` for
    people."""
    return JsonResponse({"errors": [{"code": code, "message": str(message)}]}, status=status)


def status_message(status: int, reason: str = "") -> str:
    """GitLab's API message for a status: `403 Forbidden`, `403 Forbidden - <reason>`."""
    phrase = f"{status} {HTTPStatus(status).phrase}"
    return f"{phrase} - {reason}" if reason else phrase


def api_body(denied: Denied) -> dict:
    """GitLab's API answer to a refusal."""
    if denied.scopes and denied.status == 403:
        return {
            "error": "insufficient_scope",
            "error_description": INSUFFICIENT_SCOPE,
            "scope": " ".join(sorted(denied.scopes)),
        }
    if denied.status == 404:
        return {"message": f"404 {denied.subject} Not Found" if denied.subject else "404 Not Found"}
    reason = "" if denied.status == 401 else denied.reason
    return {"message": status_message(denied.status, reason)}


def refusal_response(denied: Denied, family: Family) -> HttpResponse:
    """The answer of `family`'s endpoints to a refused request. A 401's reason is the
    family's own (it never says what was wrong with the credentials). The REST API's is
    English, whatever language the request would get."""
    if family.style is Style.API:
        with translation.override(settings.LANGUAGE_CODE):
            return _refusal_response(denied, family)
    return _refusal_response(denied, family)


def _refusal_response(denied: Denied, family: Family) -> HttpResponse:
    status = denied.status
    reason = family.unauthorized_message if status == 401 else denied.reason
    if family.style is Style.TEXT:
        response = HttpResponse(
            f"{reason}\n", status=status, content_type="text/plain; charset=utf-8"
        )
    elif family.style is Style.MESSAGE:
        response = message_response(status, reason)
    elif family.style is Style.REGISTRY:
        response = registry_error(status, REGISTRY_CODES.get(status, "DENIED"), reason)
    elif status == 401 and family.basic_refusal and denied.reason == family.basic_refusal:
        response = JsonResponse({"message": status_message(401, denied.reason)}, status=401)
    else:
        response = JsonResponse(api_body(denied), status=status)
    if status == 401:
        response["WWW-Authenticate"] = family.challenge
    response["Cache-Control"] = "no-store"
    return response


def refuse(request, denied: Denied, family: Family) -> HttpResponse:
    """The response to a Denied raised on `family`'s endpoints, logged in one line."""
    response = refusal_response(denied, family)
    log_refusal(request, response, denied, family)
    return response


def log_refusal(request, response: HttpResponse, denied: Denied, family: Family) -> None:
    """One line per refusal, with its reason and address, never a traceback and never a
    credential. It stands for django.request's own "Unauthorized: <path>" line, which Django
    skips for a response marked as logged."""
    response._has_been_logged = True
    logger.info(
        "Refused %s %s (%s) from %s: %s %s",
        request.method,
        request.path,
        family.name,
        ban_address(request) or "-",
        response.status_code,
        in_english(denied.reason) or UNAUTHORIZED_LOG_REASON,
    )
