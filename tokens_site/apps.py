from django.apps import AppConfig


class TokensSiteConfig(AppConfig):
    name = "tokens_site"
    verbose_name = "Site"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from tokens_site import signals  # noqa: F401  (connects the receivers)
        from tokens_site.language import remember_on_sign_in

        user_logged_in.connect(remember_on_sign_in, dispatch_uid="tokens_site.language")
        from tokens_site.auth import lockout  # noqa: F401  (observes failed sign-ins)
