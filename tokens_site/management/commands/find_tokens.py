"""`python manage.py find_tokens [--revoke] < file`: find this instance's tokens in text read from
standard input (a log, a dump, a ticket), one line each: kind, owner, state and the masked
value (never the secret). Exits 1 when a live one was found (0: none), so a script can stop
on it; also with `--revoke`, which revokes the live ones and tells their owners where they
were found. Every find and revocation is audited (tokens_site.token_scan,
tokens_site.token_inventory)."""

import sys

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from tokens_site.token_inventory import find, in_words, revoke_found

# English in the audit log; in the owner's language in their email (token_inventory).
WHERE = gettext_noop("text scanned by manage.py find_tokens")


class Command(BaseCommand):
    @property
    def help(self) -> str:  # argparse wants a str: translated when asked for
        return _(
            "Find this instance's tokens in text from standard input (one line each: kind, "
            "owner, state, masked value); exit 1 when a live one was found. --revoke revokes "
            "them."
        )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--revoke",
            action="store_true",
            help=gettext_lazy(
                "Revoke every live token found, and email its owner where it was found."
            ),
        )

    def handle(self, *args, revoke: bool = False, **options) -> None:
        raw = sys.stdin.buffer.read()
        text = raw.decode("utf-8", errors="replace")
        found = find(text, actor=None, where=WHERE)
        live = 0
        for item in found:
            if item.record is None:
                self.stdout.write(
                    _("line %(line)d: %(masked)s: not a token of this instance")
                    % {"line": item.line, "masked": item.masked}
                )
                continue
            words = in_words(item.record)
            state = words["state"]
            if item.record.is_active:
                live += 1
                if revoke and revoke_found(item.record, actor=None, where=WHERE):
                    state = _("revoked now")
            self.stdout.write(
                _("line %(line)d: %(masked)s: %(kind)s '%(name)s' of %(owner)s, %(state)s")
                % {
                    "line": item.line,
                    "masked": item.masked,
                    "kind": words["kind"],
                    "name": item.record.name,
                    "owner": words["owner"],
                    "state": state,
                }
            )
        values = {"count": len(found), "live": live}
        if revoke and live:
            summary = _("%(count)d token(s) found, %(live)d live, revoked.") % values
        else:
            summary = _("%(count)d token(s) found, %(live)d live.") % values
        self.stderr.write(summary)
        if live:
            sys.exit(1)
