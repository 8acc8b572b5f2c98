"""`python manage.py revoke_personal_access_token <token>`: revoke the token with this value."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.views.decorators.debug import sensitive_variables

from personal_tokens.models import PersonalAccessToken


class Command(BaseCommand):
    help = "Revoke the personal access token with the given value."

    def add_arguments(self, parser) -> None:
        parser.add_argument("token", help="the token's value")

    @sensitive_variables()
    def handle(self, *args, token: str, **options) -> None:
        found = PersonalAccessToken.objects.select_related("user").find_by_token(token)
        if found is None:
            raise CommandError("No personal access token has that value; nothing was revoked.")
        try:
            found.revoke()
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        self.stdout.write(f"Revoked {found}.")
