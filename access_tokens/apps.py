from django.apps import AppConfig


class AccessTokensConfig(AppConfig):
    name = "access_tokens"
