"""`python manage.py find_tokens [--revoke] < file`: find this instance's tokens in text read from
standard input (a log, a dump, a ticket), one line each: kind, owner, state and the masked
value (never the secret). Exits 1 when a live one was found (0: none), so a script can stop
on it; also with `--revoke`, which revokes the live ones and tells their owners where they
were found. Every find and revocation is audited (tokens_site.token_scan,
tokens_site.token_inventory)."""

import sys

from django.core.management.base import BaseCommand

from tokens_site.token_inventory import describe, find, revoke_found

WHERE = "text scanned by manage.py find_tokens"


class Command(BaseCommand):
    help = (
        "Find this instance's tokens in text from standard input (one line each: kind, owner, "
        "state, masked value); exit 1 when a live one was found. --revoke revokes them."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--revoke",
            action="store_true",
            help="Revoke every live token found, and email its owner where it was found.",
        )

    def handle(self, *args, revoke: bool = False, **options) -> None:
        raw = sys.stdin.buffer.read()
        text = raw.decode("utf-8", errors="replace")
        found = find(text, actor=None, where=WHERE)
        live = 0
        for item in found:
            if item.record is None:
                self.stdout.write(f"line {item.line}: {item.masked}: not a token of this instance")
                continue
            details = describe(item.record)
            state = details["state"]
            if item.record.is_active:
                live += 1
                if revoke and revoke_found(item.record, actor=None, where=WHERE):
                    state = "revoked now"
            self.stdout.write(
                f"line {item.line}: {item.masked}: {details['kind']} '{details['name']}' of "
                f"{details['owner']}, {state}"
            )
        summary = f"{len(found)} token(s) found, {live} live"
        if revoke and live:
            summary += ", revoked"
        self.stderr.write(summary + ".")
        if live:
            sys.exit(1)
