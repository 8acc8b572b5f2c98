"""`python manage.py revoke_personal_access_token <token>`: revoke the token with this value."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.debug import sensitive_variables

from personal_tokens.models import PersonalAccessToken


class Command(BaseCommand):
    @property
    def help(self) -> str:  # argparse wants a str: translated when asked for
        return _("Revoke the personal access token with the given value.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("token", help=gettext_lazy("the token's value"))

    @sensitive_variables()
    def handle(self, *args, token: str, **options) -> None:
        found = PersonalAccessToken.objects.select_related("user").find_by_token(token)
        if found is None:
            raise CommandError(_("No personal access token has that value; nothing was revoked."))
        try:
            found.revoke()
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        self.stdout.write(_("Revoked %(token)s.") % {"token": found})
