"""Finding this instance's tokens in text: a log, a ticket, a paste (issue 17).

Every token this instance makes is `<prefix><26 base62><6 base62 checksum>`, the prefix ending in
`-` (`glpat-`, `gldt-`, or an administrator's custom personal prefix, today's or an earlier one).
The scan looks for `-` followed by exactly 32 base62 characters, tries the prefixes that can end
there (the whole run of prefix characters before it, and each part of it after a `-` or `_`, as
`mycompany-glpat-` and `glpat-`), and keeps a candidate only when its checksum is right: checked
in memory, so random look-alikes are never looked up. The hits are then found by their digests, in
one query per token kind.

Our own code rather than a secret-scanning library: what it must recognise is our own checksum,
which no scanner knows.
"""

import re
from dataclasses import dataclass, field

from django.views.decorators.debug import sensitive_variables

from tokens_site.models import InstanceSettings
from tokens_site.tokens import (
    BASE62,
    BODY_LENGTH,
    CHECKSUM_LENGTH,
    token_digest,
    token_is_well_formed,
)

TAIL = BODY_LENGTH + CHECKSUM_LENGTH
PREFIX_MAX_LENGTH = InstanceSettings._meta.get_field("personal_access_token_prefix").max_length
_TAIL_AFTER_DASH = re.compile(rf"-([0-9A-Za-z]{{{TAIL}}})(?![0-9A-Za-z])")
_PREFIX_CHARACTERS = frozenset(BASE62 + "_-")  # what a prefix may hold (InstanceSettings)
SCAN_MAX_CHARACTERS = 1024 * 1024  # what the page and the API scan at most


@dataclass
class Found:
    """One token found in the text: where (its line, 1-based), its value (kept only in memory,
    never shown: `masked` is), and the record it is, if this instance has it."""

    value: str = field(repr=False)
    prefix: str
    line: int
    record: object | None = None

    @property
    def masked(self) -> str:
        return f"{self.prefix}…{self.value[-4:]}"

    @property
    def digest(self) -> str:
        return token_digest(self.value)


def _prefixes_ending_at(text: str, dash: int) -> list[str]:
    """The prefixes that could end with the `-` at `dash`, longest first."""
    start = dash
    while (
        start > 0 and dash - start < PREFIX_MAX_LENGTH - 1 and text[start - 1] in _PREFIX_CHARACTERS
    ):
        start -= 1
    return [text[j : dash + 1] for j in range(start, dash + 1) if j == start or text[j - 1] in "-_"]


@sensitive_variables("text")
def scan(text: str) -> list[Found]:
    """Every token of this instance's formats in `text` (checksum verified), in order, each
    value once."""
    found: dict[str, Found] = {}
    line, counted_to = 1, 0  # lines are counted on from the last hit: the text is read once
    for match in _TAIL_AFTER_DASH.finditer(text):
        dash = match.start()
        for prefix in _prefixes_ending_at(text, dash):
            value = prefix + match.group(1)
            if token_is_well_formed(value, prefix):
                if value not in found:
                    line += text.count("\n", counted_to, dash)
                    counted_to = dash
                    found[value] = Found(value=value, prefix=prefix, line=line)
                break
    return list(found.values())
