from django.apps import AppConfig
from django.utils.translation import gettext_lazy


class DeployTokensConfig(AppConfig):
    name = "deploy_tokens"
    verbose_name = gettext_lazy("Deploy tokens")

    def ready(self) -> None:
        from deploy_tokens import notifications  # noqa: F401  (registers its expiry notices)
