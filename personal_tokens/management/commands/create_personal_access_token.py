"""`python manage.py create_personal_access_token --username automation-bot --name "Automation
token" --scopes read_user,read_repository [--description ...] [--expires-at YYYY-MM-DD]
[--token ...]`: prints the token. The same rules as the settings page apply (scopes, maximum
lifetime, ...)."""

from datetime import date

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.debug import sensitive_variables

from personal_tokens.services import personal_token_create
from tokens_site.models import DESCRIPTION_MAX_LENGTH


def parse_date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise CommandError(
            _("--expires-at must be a date as YYYY-MM-DD, not '%(value)s'.") % {"value": value}
        ) from error


class Command(BaseCommand):
    @property
    def help(self) -> str:  # argparse wants a str: translated when asked for
        return _("Create a personal access token for a user and print it.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--username", required=True)
        parser.add_argument("--name", required=True, help=gettext_lazy("the token's name"))
        parser.add_argument(
            "--description",
            default="",
            help=_("what the token is for (at most %(count)d characters)")
            % {"count": DESCRIPTION_MAX_LENGTH},
        )
        parser.add_argument(
            "--scopes",
            required=True,
            help=gettext_lazy("comma-separated, e.g. read_user,read_repository"),
        )
        parser.add_argument(
            "--expires-at", help=gettext_lazy("YYYY-MM-DD; the token stops working that day")
        )
        parser.add_argument(
            "--token",
            help=gettext_lazy("a predetermined token of at least 20 characters (else random)"),
        )

    @sensitive_variables()
    def handle(
        self, *args, username, name, description, scopes, expires_at, token, **options
    ) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(
                _("There is no user with the username '%(username)s'.") % {"username": username}
            )
        try:
            record, plaintext = personal_token_create(
                user=user,
                name=name,
                description=description,
                scopes=[scope.strip() for scope in scopes.split(",") if scope.strip()],
                expires_at=parse_date(expires_at) if expires_at else None,
                token=token,
            )
        except ValidationError as error:
            problems = [
                f"{'--' + field.replace('_', '-') if field != '__all__' else ''} {message}".strip()
                for field, messages in error.message_dict.items()
                for message in messages
            ]
            raise CommandError(
                _("The token was not created:") + "\n  " + "\n  ".join(problems)
            ) from error
        if not expires_at and record.expires_at is not None:  # on stderr: stdout is the token
            self.stderr.write(
                _(
                    "No --expires-at given: the token expires on %(date)s, the longest this "
                    "instance allows (its expiration dates are required)."
                )
                % {"date": record.expires_at}
            )
        self.stdout.write(plaintext)
