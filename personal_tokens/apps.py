from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class PersonalTokensConfig(AppConfig):
    name = "personal_tokens"
    verbose_name = gettext_lazy("Personal access tokens")

    def ready(self) -> None:
        from personal_tokens import notifications  # noqa: F401  (registers its expiry notices)
