from django.apps import AppConfig


class PersonalTokensConfig(AppConfig):
    name = "personal_tokens"
