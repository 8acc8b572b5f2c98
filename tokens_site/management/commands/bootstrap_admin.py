"""Create the first administrator, once: `python manage.py bootstrap_admin`.

Does nothing when an administrator exists. The password comes from INITIAL_ROOT_PASSWORD when
set, otherwise it is generated and printed this one time.
"""

import os
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables

GENERATED_PASSWORD_BYTES = 18


class Command(BaseCommand):
    @property
    def help(self) -> str:  # argparse wants a str: translated when asked for
        return _("Create the first administrator (username 'root') unless one exists.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("--username", default="root")
        parser.add_argument("--email", default="root@localhost")

    @sensitive_variables()
    def handle(self, *args, username: str, email: str, **options) -> None:
        users = get_user_model().objects
        if users.filter(is_superuser=True).exists():
            self.stdout.write(_("An administrator exists already; nothing to do."))
            return
        password = os.environ.get("INITIAL_ROOT_PASSWORD") or secrets.token_urlsafe(
            GENERATED_PASSWORD_BYTES
        )
        try:
            validate_password(password)
        except ValidationError as error:
            raise CommandError(
                _("INITIAL_ROOT_PASSWORD is too weak: %(problems)s")
                % {"problems": " ".join(error.messages)}
            ) from error
        if users.filter(username=username).exists():
            raise CommandError(
                _("A user named '%(username)s' exists but is not an administrator.")
                % {"username": username}
            )
        users.create_superuser(username=username, email=email, password=password)
        self.stdout.write(
            self.style.SUCCESS(
                _("Created the administrator '%(username)s'.") % {"username": username}
            )
        )
        if "INITIAL_ROOT_PASSWORD" not in os.environ:
            self.stdout.write(
                _("Password: %(password)s") % {"password": password}
                + "\n"
                + _("It is shown only now. Change it after signing in (Admin area > Users).")
            )
