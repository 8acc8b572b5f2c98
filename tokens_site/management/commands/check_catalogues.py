"""`manage.py check_catalogues`: bring the translation catalogues up to date with the code
(makemessages for every language but English), then fail if any entry is untranslated or fuzzy,
or if a translation's placeholders do not match its source (msgfmt --check-format). CI runs it;
a developer runs it after changing text (locale/README.md). Needs GNU gettext."""

import shutil
import subprocess
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import to_locale

IGNORED = [".venv/*", "node_modules/*", "tests/*", "var/*", "bench/*", "locale/*", ".git/*"]


def entries(text: str) -> int:
    """How many entries (besides the header) a catalogue's text holds."""
    return sum(1 for line in text.splitlines() if line.startswith("msgid ")) - (
        1 if 'msgid ""\nmsgstr ""\n"' in text else 0
    )


def locales() -> list[str]:
    return [to_locale(code) for code, _ in settings.LANGUAGES if code != settings.LANGUAGE_CODE]


class Command(BaseCommand):
    help = (
        "Update the catalogues from the code and fail on an untranslated or fuzzy entry or on "
        "placeholders that do not match."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--no-update",
            action="store_true",
            help="Check the catalogues as they are, without running makemessages first.",
        )

    def handle(self, *args, no_update: bool = False, **options) -> None:
        for program in ("msgattrib", "msgfmt", "xgettext"):
            if shutil.which(program) is None:
                raise CommandError(
                    f"{program} not found: install GNU gettext (apt-get install gettext)"
                )
        if not no_update:
            call_command(
                "makemessages",
                locale=locales(),
                ignore_patterns=IGNORED,
                no_obsolete=True,
                add_location="file",
                verbosity=0,
            )
        problems = []
        for locale in locales():
            catalogue = Path(settings.LOCALE_PATHS[0]) / locale / "LC_MESSAGES" / "django.po"
            if not catalogue.is_file():
                problems.append(f"{catalogue}: missing")
                continue
            for what, option in (("untranslated", "--untranslated"), ("fuzzy", "--only-fuzzy")):
                found = subprocess.run(
                    ["msgattrib", option, "--no-obsolete", str(catalogue)],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
                count = entries(found)
                if count:
                    msgids = [line for line in found.splitlines() if line.startswith("msgid ")]
                    problems.append(f"{catalogue}: {count} {what} (last: {msgids[-1]})")
            checked = subprocess.run(
                ["msgfmt", "--check", "-o", "/dev/null", str(catalogue)],
                capture_output=True,
                text=True,
            )
            if checked.returncode:
                problems.append(f"{catalogue}: msgfmt --check:\n{checked.stderr.strip()}")
        if problems:
            raise CommandError("The catalogues are not complete:\n" + "\n".join(problems))
        self.stdout.write(f"The catalogues of {', '.join(locales())} are complete.")
