"""`python manage.py send_token_expiry_notifications`: for a daily cron after 01:00 and after
02:00 UTC. Emails each user once about their active tokens that expire within the next 7 days,
and once about tokens that expired today; the managers of projects and groups likewise about
their access tokens. Safe to run any number of times, on several hosts."""

from django.core.management.base import BaseCommand

from access_tokens.notifications import send_access_token_notices
from personal_tokens.notifications import EXPIRED, EXPIRING, send_notices


class Command(BaseCommand):
    help = (
        "Email owners of personal access tokens, and managers of project and group access "
        "tokens, about tokens expiring within 7 days or expired today."
    )

    def handle(self, *args, **options) -> None:
        expiring = send_notices(EXPIRING) + send_access_token_notices(EXPIRING)
        expired = send_notices(EXPIRED) + send_access_token_notices(EXPIRED)
        self.stdout.write(
            f"Sent {expiring} email(s) about tokens expiring soon and {expired} about tokens "
            f"that expired today."
        )
