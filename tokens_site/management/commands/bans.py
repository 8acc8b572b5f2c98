"""`python manage.py bans [--lift ADDRESS ...]`: list the addresses banned for failed
authentication attempts, or lift the bans of some."""

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tokens_site.auth.bans import ban_lift
from tokens_site.auth.store import store


class Command(BaseCommand):
    @property
    def help(self) -> str:  # argparse wants a str: translated when asked for
        return _("List the addresses banned for failed authentication attempts, or lift bans.")

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--lift",
            nargs="+",
            metavar="ADDRESS",
            help=gettext_lazy(
                "lift the ban of these IP addresses, or IPv6 /64s as listed (and forget their "
                "failed attempts)"
            ),
        )

    def handle(self, *args, lift: list[str] | None = None, **options) -> None:
        if lift:
            self._lift(lift)
            return
        bans = store().bans()
        if not bans:
            self.stdout.write(_("No address is banned."))
            return
        for ban in bans:
            self.stdout.write(
                _(
                    "%(address)s  banned %(banned_at)s UTC after %(failures)d failures, until "
                    "%(until)s UTC"
                )
                % {
                    "address": ban.ip_address,
                    "banned_at": f"{ban.created_at:%Y-%m-%d %H:%M:%S}",
                    "failures": ban.failures,
                    "until": f"{ban.expires_at:%Y-%m-%d %H:%M:%S}",
                }
            )

    def _lift(self, addresses: list[str]) -> None:
        missing = []
        for address in addresses:
            try:
                lifted = ban_lift(ip=address)
            except ValueError:
                raise CommandError(
                    _(
                        "'%(address)s' is not an IP address (nor an IPv6 /64 as listed); nothing "
                        "more was lifted."
                    )
                    % {"address": address}
                ) from None
            if lifted:
                self.stdout.write(_("Lifted the ban of %(address)s.") % {"address": address})
            else:
                missing.append(address)
        if missing:
            raise CommandError(_("Not banned: %(addresses)s.") % {"addresses": ", ".join(missing)})
