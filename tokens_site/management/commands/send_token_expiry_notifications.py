"""`python manage.py send_token_expiry_notifications`: for a daily cron after 01:00 and after
02:00 UTC. Tells the owners of personal access tokens, and the managers of deploy tokens and
project and group access tokens, 60, 30 and 7 days before a token expires and on the day:
each notice once, one email per person per run (tokens_site.expiry_notices). Safe to run any
number of times, on several hosts at once."""

from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _

from tokens_site.expiry_notices import send_expiry_notices


class Command(BaseCommand):
    @property
    def help(self) -> str:  # argparse wants a str: translated when asked for
        return _(
            "Email the owners and managers of tokens that expire within 60, 30 or 7 days or "
            "expired today (each notice once)."
        )

    def handle(self, *args, **options) -> None:
        self.stdout.write(send_expiry_notices().summary())
