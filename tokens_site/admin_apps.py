"""django.contrib.admin, with tokens_site.admin_site.TokensAdminSite as its site. Its own module
because INSTALLED_APPS imports it before any model may be imported."""

from django.contrib.admin.apps import AdminConfig


class TokensAdminConfig(AdminConfig):
    default_site = "tokens_site.admin_site.TokensAdminSite"
