"""GitLab's orders for lists: `order_by` names a column and `sort` a direction (`asc`,
`desc`), each list with its own choices and default (projects newest first, groups by name);
personal access tokens take both in one word (`sort=created_desc`). A value the list does not
have is a 400 (`order_by does not have a valid value`). Ties are broken by id in the same
direction, so pages never overlap.

Where GitLab orders by something this site does not record (`updated_at`,
`last_activity_at`), the creation time stands in for it."""

from django.db.models import F
from rest_framework import serializers

from tokens_site.api.serializers import Parameters

ASC, DESC = "asc", "desc"


def _ordered(queryset, column: str, direction: str, key: str):
    """`queryset` by `column` then `key`, both in `direction`; empty values (a token that
    never expires, never used) last either way, on every database."""
    descending = direction == DESC
    by_column = F(column).desc(nulls_last=True) if descending else F(column).asc(nulls_last=True)
    return queryset.order_by(by_column, f"-{key}" if descending else key)


class Ordering:
    """`order_by` among `columns` (GitLab's name → this site's column), `sort` asc or desc."""

    def __init__(self, columns: dict[str, str], *, default: str, sort: str) -> None:
        self.columns = columns
        self.default_sort = sort  # keyset pagination's too (by id)
        self.query = type(
            "OrderQuery",
            (Parameters,),
            {
                "order_by": serializers.ChoiceField(list(columns), default=default),
                "sort": serializers.ChoiceField([ASC, DESC], default=sort),
            },
        )

    def apply(self, queryset, values: dict, key: str):
        return _ordered(queryset, self.columns[values["order_by"]], values["sort"], key)


class SortOrdering:
    """`sort=<name>_<asc|desc>` (the personal access token lists' one parameter)."""

    def __init__(self, columns: dict[str, str], *, default: str) -> None:
        self.columns = columns
        self.default_sort = default.rpartition("_")[2]  # keyset pagination's too (by id)
        choices = [f"{name}_{direction}" for name in columns for direction in (ASC, DESC)]
        self.query = type(
            "SortQuery",
            (Parameters,),
            {"sort": serializers.ChoiceField(choices, default=default)},
        )

    def apply(self, queryset, values: dict, key: str):
        name, _, direction = values["sort"].rpartition("_")
        return _ordered(queryset, self.columns[name], direction, key)


GROUPS = Ordering(
    {"name": "name", "path": "path", "id": "id", "similarity": "name"}, default="name", sort=ASC
)
PROJECTS = Ordering(
    {
        "id": "id",
        "name": "name",
        "path": "path",
        "created_at": "created_at",
        "updated_at": "created_at",
        "last_activity_at": "created_at",
        "similarity": "name",
    },
    default="created_at",
    sort=DESC,
)
USERS = Ordering(
    {
        "id": "id",
        "name": "first_name",
        "username": "username",
        "created_at": "date_joined",
        "updated_at": "date_joined",
    },
    default="id",
    sort=DESC,
)
PERSONAL_TOKENS = SortOrdering(
    {
        "created": "created_at",
        "expires": "expires_at",
        "last_used": "last_used_at",
        "name": "name",
    },
    default="created_desc",
)
