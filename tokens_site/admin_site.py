"""The Django admin's site, with the site's protected sign-in: the admin's login form refuses
banned addresses and counts failed sign-ins like /users/sign_in (tokens_site.auth.forms).
Installed as the default admin site by tokens_site.admin_apps.TokensAdminConfig
(INSTALLED_APPS), so every `admin.site.register` lands here."""

from django.contrib.admin import AdminSite

from tokens_site.auth.forms import AdminSignInForm


class TokensAdminSite(AdminSite):
    site_header = "Tokens administration"
    site_title = "Tokens admin"
    login_form = AdminSignInForm

    def login(self, request, extra_context=None):
        response = super().login(request, extra_context)
        form = getattr(response, "context_data", {}).get("form")
        if getattr(form, "banned", False):
            response.status_code = 403
        return response
