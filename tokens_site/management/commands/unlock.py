"""`python manage.py unlock <username> ...`: unlock accounts locked after failed sign-ins (for
when no administrator can sign in to do it in the admin)."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from tokens_site.auth.lockout import lockout_unlock


class Command(BaseCommand):
    @property
    def help(self) -> str:  # argparse wants a str: translated when asked for
        return _("Unlock accounts locked after failed sign-ins, and forget their failures.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("usernames", nargs="+", metavar="USERNAME")

    def handle(self, *args, usernames: list[str], **options) -> None:
        users = get_user_model().objects
        unknown = [name for name in usernames if not users.filter(username=name).exists()]
        if unknown:
            raise CommandError(
                _("No such user: %(usernames)s; nothing was unlocked.")
                % {"usernames": ", ".join(unknown)}
            )
        for name in usernames:
            if lockout_unlock(user=users.get(username=name)):
                self.stdout.write(_("Unlocked %(username)s.") % {"username": name})
            else:
                self.stdout.write(
                    _("%(username)s was not locked and had no failed sign-ins.")
                    % {"username": name}
                )
