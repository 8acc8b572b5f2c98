"""`python manage.py housekeeping`, hourly from cron: removes what interrupted pushes left in
the repositories (quarantine directories untouched for an hour), keeps the Git caches tidy and
within their sizes (tokens_site.git_http.caches.tidy) and purges the expired rows of the
failed-authentication ban and the form keys."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tokens_site.auth.store import store
from tokens_site.git_http import caches
from tokens_site.git_http.housekeeping import quarantine_remove, stale_quarantines
from tokens_site.models import InstanceSettings

# Failure counters are kept at least this long (longer when the ban's period is longer).
COUNTER_MIN_AGE_SECONDS = 3600


class Command(BaseCommand):
    @property
    def help(self) -> str:  # argparse wants a str: translated when asked for
        return _(
            "Remove quarantine directories that interrupted pushes left in the repositories, "
            "keep the Git caches within their sizes, and purge expired failed-authentication "
            "bans, counters and form keys. Run it hourly."
        )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help=gettext_lazy("list what would be removed, remove nothing"),
        )

    def handle(self, *args, dry_run: bool, **options) -> None:
        stale = stale_quarantines(Path(settings.REPOSITORIES_ROOT))
        failed = 0
        for path in stale:
            if dry_run:
                self.stdout.write(_("Would remove %(path)s") % {"path": path})
            elif quarantine_remove(path):
                self.stdout.write(_("Removed %(path)s") % {"path": path})
            else:
                failed += 1
        instance = InstanceSettings.current()
        tidied = caches.tidy(instance, dry_run=dry_run)
        if dry_run:
            self.stdout.write(
                _("Quarantine directories to remove: %(count)d (dry run).") % {"count": len(stale)}
            )
            self.stdout.write(
                _("Git cache entries to remove: %(count)d (dry run).") % {"count": len(tidied)}
            )
            return
        self.stdout.write(
            _("Quarantine directories removed: %(count)d.") % {"count": len(stale) - failed}
        )
        self.stdout.write(_("Git cache entries removed: %(count)d.") % {"count": len(tidied)})
        ban_period = instance.failed_auth_ban_period_seconds
        purged = store().purge(counter_age_seconds=max(ban_period, COUNTER_MIN_AGE_SECONDS))
        self.stdout.write(
            _("Expired bans, failure counters and form keys purged: %(count)d.") % {"count": purged}
        )
        if failed:
            raise CommandError(
                _("Quarantine directories that could not be removed: %(count)d.")
                % {"count": failed}
            )
