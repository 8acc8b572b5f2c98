"""What every `/api/v4` endpoint shares, on Django REST framework: the one authentication
pipeline (authentication.py), token scopes (permissions.py), GitLab's errors
(exceptions.py), bodies (parsers.py) and pagination (pagination.py); answers never cached;
what is done with `Sudo` audited with the administrator's name."""

from contextlib import ExitStack
from urllib.parse import unquote

from django.conf import settings
from rest_framework.exceptions import MethodNotAllowed, ParseError
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.response import Response
from rest_framework.views import APIView

from tokens_site.access.abilities import Ability
from tokens_site.api.exceptions import RequestTooLarge
from tokens_site.api.pagination import GitLabPagination, query_values
from tokens_site.api.serializers import Rotate
from tokens_site.audit import audit_context, client_ip


class JSONOnly(BaseContentNegotiation):
    """The API answers JSON whatever the client's `Accept` says, as GitLab does."""

    def select_parser(self, request, parsers):
        media_type = request.content_type.split(";")[0].strip().lower()
        for parser in parsers:
            if parser.media_type == media_type:
                return parser
        return None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class ApiView(APIView):
    """An endpoint: reads need `read_ability`'s scopes, writes `write_ability`'s; anonymous
    visitors may read where `anonymous_reads` (what is public). URL arguments arrive
    percent-decoded (`tanuki%2Fbackend` is `tanuki/backend`)."""

    read_ability: Ability | None = Ability.READ_API
    write_ability: Ability | None = Ability.WRITE_API
    anonymous_reads = False
    keyset_key = "pk"  # what keyset pagination orders a list by (see pagination.py)
    ordering = None  # the list's `order_by`/`sort` choices (see ordering.py)
    # An endpoint of one token (`:token_id` or `self`): the token itself needs only
    # `itself_ability` there (None: any scope), see permissions.py.
    about_a_token = False
    itself_ability: Ability | None = None
    # A rotate endpoint: a rotated-out token presented here revokes its family (the
    # pipeline's `detects_reuse`, read by authentication.py).
    detects_reuse = False
    content_negotiation_class = JSONOnly
    http_method_names = ["get", "post", "put", "delete", "head"]

    def dispatch(self, request, *args, **kwargs):
        self._audit = ExitStack()  # what is done with Sudo is audited as such, see initial()
        with self._audit:
            decoded = {name: unquote(value) for name, value in kwargs.items()}
            return super().dispatch(request, *args, **decoded)

    def initial(self, request, *args, **kwargs) -> None:
        # A method the endpoint does not have is a 405 whoever asks: before credentials are
        # read (a wrong method with a wrong token counts no failure).
        method = request.method.lower()
        if method not in self.http_method_names or not hasattr(self, method):
            raise MethodNotAllowed(request.method)
        length = request.META.get("CONTENT_LENGTH") or "0"
        if length.isdigit() and int(length) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            raise RequestTooLarge()
        super().initial(request, *args, **kwargs)
        principal = request.auth
        if principal is not None and principal.user != request.user:
            self._audit.enter_context(audit_context(sudo_by=principal.user.get_username()))

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        # Answers hold private data and, on create and rotate, a token: no cache keeps them.
        response["Cache-Control"] = "no-store"
        return response

    # --- Helpers of the endpoints ---

    @property
    def ip_address(self) -> str | None:
        return client_ip(self.request._request)

    @property
    def token(self):
        """The personal access token that authenticated, if any."""
        return self.request.auth.token if self.request.auth is not None else None

    def parameters(self, serializer_class) -> dict:
        """The body's parameters, validated by `serializer_class`."""
        data = self.request.data
        if not isinstance(data, dict):
            raise ParseError("The request body must be a JSON object.")
        serializer = serializer_class(data=data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def rotation(self) -> dict:
        """A rotate endpoint's parameters: `expires_at` and `overlap_hours`."""
        data = self.parameters(Rotate)
        return {"expires_at": data["expires_at"], "overlap_hours": data.get("overlap_hours")}

    def query(self, serializer_class) -> dict:
        """The query string's parameters, validated by `serializer_class`."""
        serializer = serializer_class(data=query_values(self.request))
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def listed(self, records, serializer_class) -> Response:
        """One page of `records` (a queryset, or a list), in the order the caller asked for
        among the view's `ordering`, with GitLab's pagination headers."""
        if self.ordering is not None:
            order = self.query(self.ordering.query)
            records = self.ordering.apply(records, order, self.keyset_key)
        paginator = GitLabPagination()
        page = paginator.paginate_queryset(records, self.request, self)
        return paginator.get_paginated_response(serializer_class(page, many=True).data)
