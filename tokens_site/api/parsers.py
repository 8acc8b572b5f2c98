"""Request bodies as GitLab's API takes them: a JSON object, or form fields (URL-encoded or
multipart, on POST and PUT alike, with `scopes[]=a&scopes[]=b` lists). Every parser gives a
plain dict, so one serializer validates all three; their errors are GitLab's 400s."""

import json

from django.core.exceptions import BadRequest, RequestDataTooBig, SuspiciousOperation
from django.http import QueryDict
from django.http.multipartparser import MultiPartParserError
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from tokens_site.api.exceptions import RequestTooLarge


def fields(form: QueryDict) -> dict:
    """Form fields as a dict: `name[]` keys are lists, others their last value."""
    data: dict = {}
    for key in form:
        values = form.getlist(key)
        if key.endswith("[]"):
            data[key[:-2]] = values
        else:
            data[key] = values[-1]
    return data


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        try:
            return json.loads(raw or b"{}")
        except RecursionError as error:
            raise ParseError("The request body is nested too deeply.") from error
        except (ValueError, UnicodeDecodeError) as error:
            raise ParseError(f"The request body is not valid JSON: {error}") from error


class FormParser(parsers.FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return fields(super().parse(stream, media_type, parser_context))
        except (SuspiciousOperation, BadRequest) as error:  # too many fields
            raise ParseError(f"The request body is not a valid form: {error}") from error


class MultiPartParser(parsers.MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            parsed = super().parse(stream, media_type, parser_context)
        except RequestDataTooBig as error:
            raise RequestTooLarge() from error
        except ParseError as error:
            raise ParseError(f"The request body is not a valid form: {error.detail}") from error
        except (MultiPartParserError, SuspiciousOperation, BadRequest) as error:
            raise ParseError(f"The request body is not a valid form: {error}") from error
        return parsers.DataAndFiles(fields(parsed.data), parsed.files)
