"""Parameter types GitLab's API takes that DRF has no field for."""

import re
from datetime import UTC, datetime, time
from datetime import date as Date

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

LARGEST_ID = 2**31 - 1
# Dates as GitLab takes them: a calendar date, or a full date and time (RFC 3339 style, the
# shape GitLab itself sends for a deploy token's expiry). ASCII digits only: no week dates,
# no ordinal dates, no basic format (`20310101`), which `fromisoformat` would also take.
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
ISO_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})?"
)


def _moment(data) -> datetime | None:
    """A date (its 00:00 UTC) or a date and time (no offset: UTC), as an aware datetime in
    UTC; None when `data` is neither."""
    text = data if isinstance(data, str) else ""
    try:
        if ISO_DATE.fullmatch(text):
            return datetime.combine(Date.fromisoformat(text), time(), tzinfo=UTC)
        if ISO_DATETIME.fullmatch(text):
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        pass
    return None


class _MomentField(serializers.Field):
    default_error_messages = {
        "invalid": "use a date (YYYY-MM-DD) or a date and time (YYYY-MM-DDTHH:MM:SSZ)"
    }

    def __init__(self, **kwargs) -> None:
        super().__init__(required=False, allow_null=True, default=None, **kwargs)

    def validate_empty_values(self, data):
        if data == "":
            return (True, None)
        return super().validate_empty_values(data)

    def moment(self, data) -> datetime:
        moment = _moment(data)
        if moment is None:
            self.fail("invalid")
        return moment


@extend_schema_field(OpenApiTypes.DATE)
class ExpiryDate(_MomentField):
    """A date (`YYYY-MM-DD`), or a date and time (`YYYY-MM-DDTHH:MM:SSZ`, any offset; none
    means UTC), whose UTC date is taken. Empty or absent: None."""

    def to_internal_value(self, data) -> Date:
        return self.moment(data).date()


@extend_schema_field(OpenApiTypes.DATETIME)
class Moment(_MomentField):
    """A moment to filter by (`created_after=2022-01-01T00:00:00`): a date and time (no
    offset: UTC) or a date (00:00 UTC of it), as GitLab takes them. Empty or absent: None."""

    def to_internal_value(self, data) -> datetime:
        return self.moment(data)


class StringList(serializers.ListField):
    """A list of strings: a JSON array, repeated form fields (`scopes[]=a&scopes[]=b`), or
    one comma-separated string (`scopes=api,read_user`)."""

    def __init__(self, child_choices: list[str] | None = None, **kwargs) -> None:
        child = serializers.ChoiceField(child_choices) if child_choices else serializers.CharField()
        super().__init__(child=child, **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, str):
            data = [part for part in data.split(",") if part]
        return super().to_internal_value(data)


def whole_number(**kwargs) -> serializers.IntegerField:
    """A whole-number parameter (an id, a role): no larger than a database id can be."""
    return serializers.IntegerField(min_value=-LARGEST_ID, max_value=LARGEST_ID, **kwargs)


@extend_schema_field(OpenApiTypes.DATETIME)
class Timestamp(serializers.ReadOnlyField):
    """A moment as GitLab sends it: ISO 8601 in UTC with a `Z`."""

    def to_representation(self, value) -> str | None:
        return value.isoformat().replace("+00:00", "Z") if value else None


@extend_schema_field(OpenApiTypes.DATETIME)
class Midnight(serializers.ReadOnlyField):
    """A date as GitLab sends a deploy token's expiry: 00:00 UTC of that day, when it stops
    working (`2020-02-14T00:00:00.000Z`)."""

    def to_representation(self, value) -> str | None:
        return f"{value.isoformat()}T00:00:00.000Z" if value else None


@extend_schema_field(OpenApiTypes.DATE)
class DateText(serializers.ReadOnlyField):
    def to_representation(self, value) -> str | None:
        return value.isoformat() if value else None
