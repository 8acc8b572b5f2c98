"""GitLab's two paginations, for every list of the API:

- offset (the default): `page`, `per_page` (default 20; more than 100 is taken as 100) and the
  headers python-gitlab follows: `X-Total`, `X-Total-Pages`, `X-Page`, `X-Per-Page`,
  `X-Next-Page`, `X-Prev-Page` and `Link` (`next`, `prev`, `first`, `last`);
- keyset (`pagination=keyset`, ordered by id: `order_by=id`, `sort=asc|desc`): each page
  starts after the last id of the one before (`id_after`/`id_before` in the `Link` rel="next"
  URL), so a far page costs what the first does; no totals are counted. The id is the view's
  `keyset_key` (a member's is its user's id).

Query parameters left empty (`?page=`) count as not given, as on GitLab.
"""

import math

from rest_framework import serializers
from rest_framework.pagination import BasePagination
from rest_framework.response import Response

from tokens_site.api.exceptions import KeysetUnavailable
from tokens_site.api.fields import LARGEST_ID

DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100


def query_values(request) -> dict:
    """The query string's parameters that have a value (the last, when repeated)."""
    return {name: value for name, value in request.query_params.items() if value != ""}


class PageQuery(serializers.Serializer):
    page = serializers.IntegerField(min_value=1, max_value=LARGEST_ID, default=1)
    per_page = serializers.IntegerField(min_value=1, max_value=LARGEST_ID, default=DEFAULT_PER_PAGE)
    pagination = serializers.ChoiceField(["offset", "keyset"], default="offset")
    id_after = serializers.IntegerField(min_value=0, max_value=LARGEST_ID, required=False)
    id_before = serializers.IntegerField(min_value=0, max_value=LARGEST_ID, required=False)


class KeysetQuery(PageQuery):
    """What keyset pagination reads as well: the order, which a list documents (and checks)
    with its own choices (ordering.py)."""

    order_by = serializers.CharField(required=False)
    sort = serializers.ChoiceField(["asc", "desc"], required=False)


class GitLabPagination(BasePagination):
    def paginate_queryset(self, queryset, request, view=None):
        values = query_values(request)
        query = PageQuery(data=values)
        query.is_valid(raise_exception=True)
        self.keyset = query.validated_data["pagination"] == "keyset"
        if self.keyset:
            query = KeysetQuery(data=values)
            query.is_valid(raise_exception=True)
        self.params = query.validated_data
        self.request = request
        self.per_page = min(self.params["per_page"], MAX_PER_PAGE)
        if self.keyset:
            return self._keyset_page(queryset, view)
        self.page = self.params["page"]
        self.total = len(queryset) if isinstance(queryset, list) else queryset.count()
        self.pages = max(1, math.ceil(self.total / self.per_page))
        start = (self.page - 1) * self.per_page
        return list(queryset[start : start + self.per_page])

    def _keyset_page(self, queryset, view) -> list:
        """By the view's `keyset_key`, in the direction asked, else the list's default."""
        key = getattr(view, "keyset_key", "pk")
        if self.params.get("order_by", "id") != "id" or isinstance(queryset, list):
            raise KeysetUnavailable()
        default_sort = getattr(getattr(view, "ordering", None), "default_sort", "asc")
        self.descending = self.params.get("sort", default_sort) == "desc"
        if "id_after" in self.params:
            queryset = queryset.filter(**{f"{key}__gt": self.params["id_after"]})
        if "id_before" in self.params:
            queryset = queryset.filter(**{f"{key}__lt": self.params["id_before"]})
        ordered = queryset.order_by(f"-{key}" if self.descending else key)
        rows = list(ordered[: self.per_page + 1])
        more = len(rows) > self.per_page
        self.last_id = getattr(rows[self.per_page - 1], key) if more else None
        return rows[: self.per_page]

    def _link(self, rel: str, **changes) -> str:
        query = self.request.query_params.copy()
        query.pop("private_token", None)  # never echo a credential into a URL
        for name, value in changes.items():
            query[name] = str(value)
        url = self.request.build_absolute_uri(self.request.path_info)
        return f'<{url}?{query.urlencode()}>; rel="{rel}"'

    def get_paginated_response(self, data) -> Response:
        if self.keyset:
            headers = {"X-Per-Page": str(self.per_page)}
            if self.last_id is not None:
                # The bound of the direction moves on; a bound the caller gave the other way
                # stays.
                bound = "id_before" if self.descending else "id_after"
                headers["Link"] = self._link(
                    "next", per_page=self.per_page, **{bound: self.last_id}
                )
            return Response(data, headers=headers)
        page, pages, per_page = self.page, self.pages, self.per_page
        links = [self._link("next", page=page + 1, per_page=per_page)] if page < pages else []
        links += [self._link("prev", page=page - 1, per_page=per_page)] if page > 1 else []
        links += [
            self._link("first", page=1, per_page=per_page),
            self._link("last", page=pages, per_page=per_page),
        ]
        headers = {
            "X-Total": str(self.total),
            "X-Total-Pages": str(pages),
            "X-Page": str(page),
            "X-Per-Page": str(per_page),
            "X-Next-Page": str(page + 1) if page < pages else "",
            "X-Prev-Page": str(page - 1) if page > 1 else "",
            "Link": ", ".join(links),
        }
        return Response(data, headers=headers)
