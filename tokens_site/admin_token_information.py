"""Admin → Token information (issue 17): an administrator pastes text (a log, a ticket, up to
1 MB), sees every token of this instance in it — kind, owner, scopes, state, dates, last
addresses, masked (prefix and last 4) — and revokes one, or all the active ones. Finding and
revoking are audited; owners are told (tokens_site.token_inventory).

The pasted text is never kept: the results page carries, for Revoke, each token's kind and id
with its masked form, which an administrator may act on anyway."""

import re

from django.contrib import messages
from django.http import Http404
from django.template.response import TemplateResponse
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from tokens_site.access.roles import is_administrator
from tokens_site.audit import client_ip
from tokens_site.token_inventory import describe, identify, record_find, revoke_found
from tokens_site.token_scan import SCAN_MAX_CHARACTERS, scan

WHERE = "text pasted on the admin's Token information page"
# Rows shown (and carried by the results form) at most: Django takes 1,000 fields per form.
MAX_ROWS = 500
_DIGITS = re.compile(r"[0-9]{1,18}")


def _record(reference: str):
    """A token by its "kind:id" reference (the results page's), or None."""
    from deploy_tokens.models import DeployToken
    from personal_tokens.models import PersonalAccessToken

    kind, _, pk = reference.partition(":")
    model = {"deploy": DeployToken, "personal": PersonalAccessToken}.get(kind)
    if model is None or not _DIGITS.fullmatch(pk):
        return None
    return model.objects.filter(pk=int(pk)).first()


def _reference(record) -> str:
    return f"{'deploy' if hasattr(record, 'username') else 'personal'}:{record.pk}"


def _rows(items: list[tuple[str, int, object | None]]) -> list[dict]:
    rows = []
    for masked, line, record in items:
        row = {"masked": masked, "line": line, "record": record}
        if record is not None:
            row.update(details=describe(record), reference=_reference(record))
        rows.append(row)
    return rows


@sensitive_post_parameters("text")
@sensitive_variables("text")
def token_information_view(request, admin_site):
    if not is_administrator(request.user):
        raise Http404
    context = {
        **admin_site.each_context(request),
        "title": "Token information",
        "subtitle": None,
        "max_characters": SCAN_MAX_CHARACTERS,
        "rows": None,
        "error": "",
    }
    if request.method == "POST" and "text" in request.POST:
        text = request.POST["text"]
        if not text.strip():
            context["error"] = "Paste the text to search: a log, a ticket, a file."
        elif len(text) > SCAN_MAX_CHARACTERS:
            context["error"] = (
                f"That is {len(text):,} characters: paste at most {SCAN_MAX_CHARACTERS:,} "
                f"(1 MB) at a time, or use manage.py find_tokens for a larger file."
            )
        else:
            found = identify(scan(text))
            for item in found:
                if item.record is not None:
                    record_find(
                        item.record, actor=request.user, where=WHERE, ip_address=client_ip(request)
                    )
            if len(found) > MAX_ROWS:
                context["error"] = (
                    f"{len(found):,} tokens found: the first {MAX_ROWS} are shown. Use "
                    f"manage.py find_tokens for the whole text."
                )
            context["rows"] = _rows([(f.masked, f.line, f.record) for f in found[:MAX_ROWS]])
    elif request.method == "POST":
        # Revoke one ("revoke") or every active one ("revoke_all"), then show the same rows.
        shown = request.POST.getlist("shown")[:MAX_ROWS]
        targets = request.POST.getlist("revoke") or (shown if "revoke_all" in request.POST else [])
        revoked = 0
        for reference in targets:
            reference = reference.split("|", 2)[-1]
            record = _record(reference)
            if record is not None and revoke_found(
                record, actor=request.user, where=WHERE, ip_address=client_ip(request)
            ):
                revoked += 1
        messages.success(request, f"Revoked {revoked} token(s); their owners are told by email.")
        items = []
        for entry in shown:
            masked, line, reference = [*entry.split("|", 2), "", "", ""][:3]
            number = int(line) if _DIGITS.fullmatch(line) else 0
            items.append((masked[:60], number, _record(reference)))
        context["rows"] = _rows(items)
    return TemplateResponse(request, "admin/token_information.html", context)
