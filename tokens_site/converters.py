"""URL converters for the GitLab-style paths of groups and projects."""

from django.urls import register_converter

SEGMENT = r"[A-Za-z0-9][A-Za-z0-9_.-]*"


class FullPathConverter:
    """`tanuki/backend/api`: path segments, never the `-` that starts our sub-pages."""

    regex = rf"{SEGMENT}(?:/{SEGMENT})*"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(FullPathConverter, "fullpath")
