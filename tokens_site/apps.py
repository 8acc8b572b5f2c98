from django.apps import AppConfig


class TokensSiteConfig(AppConfig):
    name = "tokens_site"
    verbose_name = "Site"

    def ready(self) -> None:
        from tokens_site import signals  # noqa: F401  (connects the receivers)
        from tokens_site.auth import lockout  # noqa: F401  (observes failed sign-ins)
