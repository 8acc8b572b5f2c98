from django.apps import AppConfig


class AccessTokensConfig(AppConfig):
    name = "access_tokens"
    verbose_name = "Project and group access tokens"

    def ready(self) -> None:
        from access_tokens import notifications, signals  # noqa: F401  (receivers, notices)
