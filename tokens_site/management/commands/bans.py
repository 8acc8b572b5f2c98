"""`python manage.py bans [--lift ADDRESS ...]`: list the addresses banned for failed
authentication attempts, or lift the bans of some."""

from django.core.management.base import BaseCommand, CommandError

from tokens_site.auth.bans import ban_lift
from tokens_site.auth.store import store


class Command(BaseCommand):
    help = "List the addresses banned for failed authentication attempts, or lift bans."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--lift",
            nargs="+",
            metavar="ADDRESS",
            help="lift the ban of these IP addresses, or IPv6 /64s as listed (and forget their "
            "failed attempts)",
        )

    def handle(self, *args, lift: list[str] | None = None, **options) -> None:
        if lift:
            self._lift(lift)
            return
        bans = store().bans()
        if not bans:
            self.stdout.write("No address is banned.")
            return
        for ban in bans:
            self.stdout.write(
                f"{ban.ip_address}  banned {ban.created_at:%Y-%m-%d %H:%M:%S} UTC after "
                f"{ban.failures} failures, until {ban.expires_at:%Y-%m-%d %H:%M:%S} UTC"
            )

    def _lift(self, addresses: list[str]) -> None:
        missing = []
        for address in addresses:
            try:
                lifted = ban_lift(ip=address)
            except ValueError:
                raise CommandError(
                    f"'{address}' is not an IP address (nor an IPv6 /64 as listed); "
                    f"nothing more was lifted."
                ) from None
            if lifted:
                self.stdout.write(f"Lifted the ban of {address}.")
            else:
                missing.append(address)
        if missing:
            raise CommandError(f"Not banned: {', '.join(missing)}.")
