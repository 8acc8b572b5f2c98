"""Finding this instance's tokens in text: a log, a ticket, a paste, a pushed file (issue 17).

Every token this instance makes is `<prefix><26 base62><6 base62 checksum>`, the prefix ending in
`-` (`glpat-`, `gldt-`, or an administrator's custom personal prefix, today's or an earlier one).
The scan looks for `-` followed by exactly 32 base62 characters, tries the prefixes that can end
there (the whole run of prefix characters before it, and each part of it after a `-` or `_`, as
`mycompany-glpat-` and `glpat-`), and keeps a candidate only when its checksum is right: checked
in memory, so random look-alikes are never looked up. The hits are then found by their digests, in
one query per token kind.

Push protection can look for a few other services' secrets too (THIRD_PARTY). This module does
not import Django: the push-protection hook (tokens_site/git_http/pre_receive.py) imports it.

Our own code rather than a secret-scanning library: what it must recognise is our own checksum,
which no scanner knows.
"""

import re
from dataclasses import dataclass, field

from tokens_site.token_format import (
    BASE62,
    BODY_LENGTH,
    CHECKSUM_LENGTH,
    DEPLOY_TOKEN_PREFIX,
    PREFIX_MAX_LENGTH,
    is_well_formed,
)

TAIL = BODY_LENGTH + CHECKSUM_LENGTH
_TAIL_AFTER_DASH = re.compile(rf"-([0-9A-Za-z]{{{TAIL}}})(?![0-9A-Za-z])")
_PREFIX_CHARACTERS = frozenset(BASE62 + "_-")  # what a prefix may hold (InstanceSettings)
SCAN_MAX_CHARACTERS = 1024 * 1024  # what the page and the API scan at most

# Other services' secrets that push protection may look for too (an instance setting): kind,
# pattern, and how many leading characters the masked form shows. These have no checksum we
# can verify, so only formats distinctive enough not to match ordinary text are listed.
THIRD_PARTY = (
    ("GitHub personal access token", r"ghp_[0-9A-Za-z]{36}", 4),
    ("GitHub OAuth access token", r"gho_[0-9A-Za-z]{36}", 4),
    ("GitHub app token", r"gh[us]_[0-9A-Za-z]{36}", 4),
    ("GitHub refresh token", r"ghr_[0-9A-Za-z]{36}", 4),
    ("GitHub fine-grained personal access token", r"github_pat_[0-9A-Za-z_]{82}", 11),
    ("AWS access key ID", r"(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}", 4),
    # The header is no secret itself: it is shown whole.
    ("Private key", r"-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----", None),
)
# One alternation without groups (with a group or a lookbehind the engine tries every position:
# 17 times slower); a match's kind is found afterwards, and the character before it checked.
_THIRD_PARTY = re.compile(
    "(?:" + "|".join(pattern for _kind, pattern, _shown in THIRD_PARTY) + ")(?![0-9A-Za-z_])"
)
_THIRD_PARTY_EACH = [(kind, re.compile(pattern), shown) for kind, pattern, shown in THIRD_PARTY]
_WORD_CHARACTERS = frozenset(BASE62 + "_")


@dataclass
class Found:
    """One secret found in the text: where (its line, 1-based), its value (kept only in memory,
    never shown: `masked` is), its kind (this instance's tokens: by their prefix), and the
    record it is, if it is one of this instance's tokens (token_inventory.identify)."""

    value: str = field(repr=False)
    prefix: str
    line: int
    third_party: str = ""  # the kind of another service's secret
    record: object | None = None

    @property
    def kind(self) -> str:
        if self.third_party:
            return self.third_party
        if self.prefix == DEPLOY_TOKEN_PREFIX:
            return "GitLab deploy token"
        return "GitLab personal access token"

    @property
    def masked(self) -> str:
        if self.prefix == self.value:  # shown whole (a private key's header)
            return self.value
        return f"{self.prefix}…{self.value[-4:]}"


class _Lines:
    """Line numbers of positions met in increasing order: the text is counted through once."""

    def __init__(self, text: str):
        self.text, self.line, self.counted_to = text, 1, 0

    def at(self, position: int) -> int:
        self.line += self.text.count("\n", self.counted_to, position)
        self.counted_to = position
        return self.line


def _prefixes_ending_at(text: str, dash: int) -> list[str]:
    """The prefixes that could end with the `-` at `dash`, longest first."""
    start = dash
    while (
        start > 0 and dash - start < PREFIX_MAX_LENGTH - 1 and text[start - 1] in _PREFIX_CHARACTERS
    ):
        start -= 1
    return [text[j : dash + 1] for j in range(start, dash + 1) if j == start or text[j - 1] in "-_"]


def scan(text: str, *, third_party: bool = False) -> list[Found]:
    """Every token of this instance's formats in `text` (checksum verified), in order, each
    value once; with `third_party`, other services' secrets (THIRD_PARTY) after them.

    Not marked with Django's `sensitive_variables` (this module is Django-free): its callers in
    the site are (token_inventory.find)."""
    found: dict[str, Found] = {}
    lines = _Lines(text)
    for match in _TAIL_AFTER_DASH.finditer(text):
        dash = match.start()
        for prefix in _prefixes_ending_at(text, dash):
            value = prefix + match.group(1)
            if is_well_formed(value, prefix):
                if value not in found:
                    found[value] = Found(value=value, prefix=prefix, line=lines.at(dash))
                break
    if third_party:
        lines = _Lines(text)
        for match in _THIRD_PARTY.finditer(text):
            value, start = match.group(), match.start()
            if start and text[start - 1] in _WORD_CHARACTERS:
                continue
            if value not in found:
                kind, shown = next(
                    (kind, shown)
                    for kind, each, shown in _THIRD_PARTY_EACH
                    if each.fullmatch(value)
                )
                found[value] = Found(
                    value=value,
                    prefix=value if shown is None else value[:shown],
                    line=lines.at(match.start()),
                    third_party=kind,
                )
    return list(found.values())
