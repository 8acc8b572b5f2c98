from django.apps import AppConfig


class PackagesConfig(AppConfig):
    name = "tokens_site.packages"
    label = "packages"
    verbose_name = "Package registry"
