from django.apps import AppConfig


class PersonalTokensConfig(AppConfig):
    name = "personal_tokens"
    verbose_name = "Personal access tokens"

    def ready(self) -> None:
        from personal_tokens import notifications  # noqa: F401  (registers its expiry notices)
