from django.apps import AppConfig


class AccessTokensConfig(AppConfig):
    name = "access_tokens"

    def ready(self) -> None:
        from access_tokens import notifications, signals  # noqa: F401  (receivers, notices)
