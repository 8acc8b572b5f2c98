"""GitLab's rules for the URL path of a group or project."""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext, gettext_lazy

PATH_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
FORBIDDEN_ENDINGS = (".git", ".atom")

# First segments our own URLs use; a top-level group may not take them.
RESERVED_TOP_LEVEL_PATHS = frozenset(
    {
        "-",
        "admin",
        "api",
        "assets",
        "dashboard",
        "explore",
        "groups",
        "help",
        "jwt",
        "media",
        "new",
        "projects",
        "search",
        "static",
        "uploads",
        "users",
        "v2",
    }
)

PATH_RULES = gettext_lazy(
    "Use letters, digits, '_', '-' and '.', starting with a letter or digit "
    "and not ending in '.git' or '.atom'."
)


def validate_path(value: str) -> None:
    if not PATH_PATTERN.fullmatch(value):
        raise ValidationError(
            gettext("'%(path)s' is not a valid path. %(rules)s")
            % {"path": value, "rules": PATH_RULES},
            code="invalid",
        )
    if value.lower().endswith(FORBIDDEN_ENDINGS):
        raise ValidationError(
            gettext("A path cannot end in '.git' or '.atom'. %(rules)s") % {"rules": PATH_RULES},
            code="invalid",
        )


def validate_top_level_path(value: str) -> None:
    if value.lower() in RESERVED_TOP_LEVEL_PATHS:
        raise ValidationError(
            gettext("'%(path)s' is reserved for the site's own pages; choose another path.")
            % {"path": value},
            code="reserved",
        )


RECORD_ID = re.compile(r"[0-9]{1,18}")


def record_id(value: str) -> int | None:
    """The record number `value` spells, or None. Only ASCII digits that fit a database id:
    superscripts and other scripts' digits pass `str.isdigit()` and are not ids."""
    return int(value) if RECORD_ID.fullmatch(value) else None
