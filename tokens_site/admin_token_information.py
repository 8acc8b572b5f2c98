"""Admin → Token information (issue 17): an administrator pastes text (a log, a ticket, up to
1 MB), sees every token of this instance in it — kind, owner, scopes, state, dates, last
addresses, masked (prefix and last 4) — and revokes one, or all the active ones. Finding and
revoking are audited; owners are told (tokens_site.token_inventory).

The pasted text is never kept: the results page carries, for Revoke, each token's kind and id
with its masked form, which an administrator may act on anyway."""

import re

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from tokens_site.access.policy import require_administrator
from tokens_site.audit import client_ip
from tokens_site.token_inventory import (
    by_references,
    describe,
    find,
    in_words,
    reference,
    revoke_found,
)
from tokens_site.token_scan import SCAN_MAX_CHARACTERS

# English in the audit log; in the owner's language in their email (token_inventory).
WHERE = gettext_noop("text pasted on the admin's Token information page")
# Rows shown (and carried by the results form) at most: Django takes 1,000 fields per form.
MAX_ROWS = 500
_LINE = re.compile(r"[0-9]{1,9}")


def _rows(items: list[tuple[str, int, object | None]]) -> list[dict]:
    rows = []
    for masked, line, record in items:
        row = {"masked": masked, "line": line, "record": record}
        if record is not None:
            row.update(
                details=describe(record), words=in_words(record), reference=reference(record)
            )
        rows.append(row)
    return rows


def _shown(entry: str) -> tuple[str, int, str]:
    """A results row carried by the form: "masked|line|reference"."""
    masked, line, ref = [*entry.split("|", 2), "", "", ""][:3]
    return masked[:60], int(line) if _LINE.fullmatch(line) else 0, ref


@sensitive_post_parameters("text")
@sensitive_variables("text")
def token_information_view(request, admin_site):
    try:
        require_administrator(request.user)
    except PermissionDenied:
        raise Http404 from None
    context = {
        **admin_site.each_context(request),
        "title": _("Token information"),
        "subtitle": None,
        "max_characters": SCAN_MAX_CHARACTERS,
        "rows": None,
        "error": "",
    }
    address = client_ip(request)
    if request.method == "POST" and "text" in request.POST:
        text = request.POST["text"]
        if not text.strip():
            context["error"] = _("Paste the text to search: a log, a ticket, a file.")
        elif len(text) > SCAN_MAX_CHARACTERS:
            context["error"] = _(
                "That is %(count)s characters: paste at most %(most)s (1 MB) at a time, or use "
                "manage.py find_tokens for a larger file."
            ) % {"count": f"{len(text):,}", "most": f"{SCAN_MAX_CHARACTERS:,}"}
        else:
            found = find(text, actor=request.user, where=WHERE, ip_address=address)
            if len(found) > MAX_ROWS:
                context["error"] = _(
                    "%(count)s tokens found: the first %(shown)d are shown. Use manage.py "
                    "find_tokens for the whole text."
                ) % {"count": f"{len(found):,}", "shown": MAX_ROWS}
            context["rows"] = _rows([(f.masked, f.line, f.record) for f in found[:MAX_ROWS]])
    elif request.method == "POST":
        # Revoke one ("revoke") or every active one ("revoke_all"), then show the same rows.
        shown = [_shown(entry) for entry in request.POST.getlist("shown")[:MAX_ROWS]]
        if "revoke_all" in request.POST:
            targets = [ref for _masked, _line, ref in shown]
        else:
            targets = request.POST.getlist("revoke")[:MAX_ROWS]
        records = by_references(targets + [ref for _masked, _line, ref in shown])
        revoked = sum(
            revoke_found(records[ref], actor=request.user, where=WHERE, ip_address=address)
            for ref in dict.fromkeys(targets)
            if ref in records
        )
        messages.success(
            request,
            _("Revoked %(count)d token(s); their owners are told by email.") % {"count": revoked},
        )
        context["rows"] = _rows([(masked, line, records.get(ref)) for masked, line, ref in shown])
    return TemplateResponse(request, "admin/token_information.html", context)
