"""The sign-in page: Django's LoginView with the protected form (tokens_site.auth.forms). An
address under a ban gets the page back with status 403 and the reason. An account with
two-factor authentication goes on to the second step (two_factor.sign_in)."""

from django.contrib.auth.views import LoginView

from tokens_site.auth.forms import SignInForm
from two_factor.sign_in import SecondStepMixin


class SignInView(SecondStepMixin, LoginView):
    template_name = "tokens_site/sign_in.html"
    authentication_form = SignInForm
    redirect_authenticated_user = True

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.banned:
            response.status_code = 403
        return response
