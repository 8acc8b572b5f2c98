"""`python manage.py unlock <username> ...`: unlock accounts locked after failed sign-ins (for
when no administrator can sign in to do it in the admin)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from tokens_site.auth.lockout import lockout_unlock


class Command(BaseCommand):
    help = "Unlock accounts locked after failed sign-ins, and forget their failures."

    def add_arguments(self, parser) -> None:
        parser.add_argument("usernames", nargs="+", metavar="USERNAME")

    def handle(self, *args, usernames: list[str], **options) -> None:
        users = get_user_model().objects
        unknown = [name for name in usernames if not users.filter(username=name).exists()]
        if unknown:
            raise CommandError(f"No such user: {', '.join(unknown)}; nothing was unlocked.")
        for name in usernames:
            if lockout_unlock(user=users.get(username=name)):
                self.stdout.write(f"Unlocked {name}.")
            else:
                self.stdout.write(f"{name} was not locked and had no failed sign-ins.")
