from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class AccessTokensConfig(AppConfig):
    name = "access_tokens"
    verbose_name = gettext_lazy("Project and group access tokens")

    def ready(self) -> None:
        from access_tokens import notifications, signals  # noqa: F401  (receivers, notices)
