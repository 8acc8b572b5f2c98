"""GitLab's error shapes for everything the API refuses:

- refusals (401, 403, 404: the access policy's Denied, Django's) go to the one refusal
  builder (tokens_site.auth.refusals): `{"message": "401 Unauthorized"}`, `403 Forbidden -
  <reason>`, `404 Project Not Found`, `insufficient_scope`;
- bad input: `400 {"error": "name is missing, visibility does not have a valid value"}` (as
  Grape words a parameter's failure), or a service's `{"message": {"path": [...]}}`; `409`
  for what already exists; `405`, `413`, `415` as `{"message": "<status> <phrase>"}`.
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response

from tokens_site.access.policy import Denied
from tokens_site.auth.families import API
from tokens_site.auth.refusals import refuse, status_message


class RequestTooLarge(exceptions.APIException):
    status_code = 413


class KeysetUnavailable(exceptions.APIException):
    status_code = 405
    default_detail = "Keyset pagination is not yet available for this type of request"


def _message(status: int, detail: str = "") -> Response:
    return Response({"message": status_message(status, detail)}, status=status)


# How Grape says what is wrong with a parameter, by DRF's error code.
PARAMETER_ERRORS = {
    "required": "is missing",
    "null": "is missing",
    "blank": "is empty",
    "invalid_choice": "does not have a valid value",
}


def parameter_errors(detail) -> str:
    """`name is missing, visibility does not have a valid value` from a serializer's errors."""
    if not isinstance(detail, dict):
        return " ".join(str(item) for item in detail) if isinstance(detail, list) else str(detail)
    parts = []
    for name, errors in detail.items():
        errors = errors if isinstance(errors, list) else [errors]
        first = errors[0]
        while isinstance(first, dict | list) and first:  # a list's item: the field's name
            first = next(iter(first.values())) if isinstance(first, dict) else first[0]
        words = PARAMETER_ERRORS.get(getattr(first, "code", ""))
        if name == "non_field_errors":
            parts.append(str(first))
        elif words:
            parts.append(f"{name} {words}")
        else:
            parts.append(f"{name} is invalid: {first}")
    return ", ".join(parts)


def service_refusal(error: DjangoValidationError) -> Response:
    """A service's refusal: 409 when something already exists, else 400 with the messages
    by field, as GitLab sends them."""
    items = (
        [item for errors in error.error_dict.values() for item in errors]
        if hasattr(error, "error_dict")
        else error.error_list
    )
    if any(item.code == "exists" for item in items):
        return Response({"message": " ".join(error.messages)}, status=409)
    if hasattr(error, "error_dict"):
        return Response({"message": error.message_dict}, status=400)
    return Response({"message": " ".join(error.messages)}, status=400)


def exception_handler(exc, context):
    request = context["request"]._request
    if isinstance(exc, Http404 | exceptions.NotFound):
        exc = Denied(404, "There is no such endpoint.")
    elif isinstance(exc, DjangoPermissionDenied):  # a service's refusal
        exc = Denied(403, str(exc))
    if isinstance(exc, Denied):
        return refuse(request, exc, API)
    if isinstance(exc, DjangoValidationError):
        return service_refusal(exc)
    if isinstance(exc, RequestDataTooBig | RequestTooLarge):
        return _message(413)

    if isinstance(exc, exceptions.ValidationError):
        return Response({"error": parameter_errors(exc.detail)}, status=400)
    if isinstance(exc, exceptions.ParseError):
        return Response({"error": str(exc.detail)}, status=400)
    if isinstance(exc, KeysetUnavailable):
        return _message(405, str(exc.detail))
    if isinstance(exc, exceptions.APIException):
        return _message(exc.status_code)
    return None
