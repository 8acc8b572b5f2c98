#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def speak_the_shells_language() -> None:
    """Commands' messages for people in the shell's language (LANGUAGE, LANG...) when the
    site has it; machine output (a token, CI variables) is the same in every language."""
    import django
    from django.utils import translation

    django.setup()
    from tokens_site.language import shell_language

    language = shell_language(os.environ)
    if language:
        translation.activate(language)


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tokens_site.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        speak_the_shells_language()
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as error:
        sys.exit(f"Configuration error: {error}")


if __name__ == "__main__":
    main()
