"""The Django admin's site, with the site's protected sign-in: the admin's login form refuses
banned addresses and counts failed sign-ins like /users/sign_in (tokens_site.auth.forms), and
an account with two-factor authentication goes on to the site's second step
(two_factor.sign_in) before it is signed in. Installed as the default admin site by
tokens_site.admin_apps.TokensAdminConfig (INSTALLED_APPS), so every `admin.site.register`
lands here."""

from django.contrib.admin import AdminSite
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.views import LoginView
from django.http import HttpResponseRedirect
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache

from tokens_site.auth.forms import AdminSignInForm
from two_factor.sign_in import SecondStepMixin


class AdminSignInView(SecondStepMixin, LoginView):
    template_name = "admin/login.html"
    authentication_form = AdminSignInForm


class TokensAdminSite(AdminSite):
    site_header = gettext_lazy("Tokens administration")
    site_title = gettext_lazy("Tokens admin")
    # The model list is on the index and every page has breadcrumbs; without the left-hand
    # list a change list has the whole width (the token lists fit 1366 px: issue 20).
    enable_nav_sidebar = False

    def get_urls(self):
        from tokens_site.admin_token_information import token_information_view

        def token_information(request):
            return token_information_view(request, self)

        return [
            path(
                "token-information/",
                self.admin_view(token_information),
                name="token_information",
            ),
            *super().get_urls(),
        ]

    @method_decorator(never_cache)
    def login(self, request, extra_context=None):
        """AdminSite.login, serving AdminSignInView instead of LoginView."""
        if request.method == "GET" and self.has_permission(request):
            return HttpResponseRedirect(reverse("admin:index", current_app=self.name))
        context = {
            **self.each_context(request),
            "title": _("Log in"),
            "subtitle": None,
            "app_path": request.get_full_path(),
            "username": request.user.get_username(),
        }
        if REDIRECT_FIELD_NAME not in request.GET and REDIRECT_FIELD_NAME not in request.POST:
            context[REDIRECT_FIELD_NAME] = reverse("admin:index", current_app=self.name)
        context.update(extra_context or {})
        request.current_app = self.name
        response = AdminSignInView.as_view(extra_context=context)(request)
        form = getattr(response, "context_data", {}).get("form")
        if getattr(form, "banned", False):
            response.status_code = 403
        return response
