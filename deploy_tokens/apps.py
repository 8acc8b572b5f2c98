from django.apps import AppConfig


class DeployTokensConfig(AppConfig):
    name = "deploy_tokens"
    verbose_name = "Deploy tokens"

    def ready(self) -> None:
        from deploy_tokens import notifications  # noqa: F401  (registers its expiry notices)
