"""Refusal reasons read in two languages: the client's, in the answer (Git's `remote:` lines,
the message of a 401/403 that git, pip, npm, NuGet or docker print), and English, in the log
line and the REST API (locale/README.md). A reason is therefore kept lazy (`gettext_lazy`, or
`interpolate()` for one with values) until it is written: `str(reason)` makes it in the
language active then, `in_english(reason)` in English."""

from django.conf import settings
from django.utils import translation
from django.utils.functional import lazy
from django.utils.translation import pgettext


def _interpolate(message, values: dict) -> str:
    return str(message) % values


_lazy_interpolate = lazy(_interpolate, str)


def interpolate(message, **values):
    """`message` (gettext_lazy, with named placeholders) with `values` put in, made when it is
    read, in the language active then (lazy values too)."""
    return _lazy_interpolate(message, values)


def _alternatives(names: tuple[str, ...]) -> str:
    text = names[0] if names else ""
    for name in names[1:]:
        # Translators: a choice between two names (token scopes): "read_api or api". Longer
        # choices repeat it: "api or read_api or read_registry".
        text = pgettext("choice of names", "%(first)s or %(second)s") % {
            "first": text,
            "second": name,
        }
    return text


def _together(names: tuple[str, ...]) -> str:
    text = names[0] if names else ""
    for name in names[1:]:
        # Translators: two names (token scopes) both meant: "read_registry and write_registry".
        text = pgettext("both names", "%(first)s and %(second)s") % {
            "first": text,
            "second": name,
        }
    return text


_lazy_alternatives = lazy(_alternatives, str)
_lazy_together = lazy(_together, str)


def alternatives(names) -> str:
    """`a or b or c` (lazy), in the language it is read in."""
    return _lazy_alternatives(tuple(names))


def together(names) -> str:
    """`a and b` (lazy), in the language it is read in."""
    return _lazy_together(tuple(names))


def in_english(text) -> str:
    """`text` as English reads it: a lazy reason (or an exception holding one) made in
    English; any other text as it is."""
    with translation.override(settings.LANGUAGE_CODE):
        return str(text)
