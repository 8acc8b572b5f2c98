"""`python manage.py registry_config`: the `auth: token:` settings of a Docker registry
(distribution) that trusts this site's token service, and the certificate it needs."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tokens_site.registry.keys import certificate_pem


class Command(BaseCommand):
    @property
    def help(self) -> str:  # argparse wants a str: translated when asked for
        return _("Write the registry's root certificate and print its auth settings (YAML).")

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--certificate",
            default=str(Path(settings.REGISTRY_SIGNING_KEY).with_name("registry-token.crt")),
            help=gettext_lazy(
                "where to write the certificate the registry trusts (rootcertbundle)"
            ),
        )

    def handle(self, *args, certificate: str, **options) -> None:
        path = Path(certificate).resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(certificate_pem())
        self.stdout.write(
            "# In the registry's config.yml (docker-registry / distribution):\n"
            "auth:\n"
            "  token:\n"
            f"    realm: {settings.EXTERNAL_URL}/jwt/auth\n"
            f"    service: {settings.REGISTRY_SERVICE}\n"
            f"    issuer: {settings.REGISTRY_ISSUER}\n"
            f"    rootcertbundle: {path}\n"
        )
