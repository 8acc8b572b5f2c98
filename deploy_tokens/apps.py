from django.apps import AppConfig


class DeployTokensConfig(AppConfig):
    name = "deploy_tokens"
