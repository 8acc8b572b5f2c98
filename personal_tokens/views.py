"""User settings > Access tokens. A user sees and revokes only their own tokens; a new token's
value appears in exactly one response: the one that creates it."""

from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables

from personal_tokens import services
from personal_tokens.forms import PersonalAccessTokenForm
from tokens_site.audit import client_ip
from tokens_site.mixins import TokenPageMixin


@method_decorator(never_cache, name="dispatch")
class PersonalAccessTokensView(LoginRequiredMixin, TokenPageMixin, View):
    """GET shows the page (prefilled from `?name=...&scopes=a,b`); POST creates a token and
    shows it once; POST with `token_id` revokes one of the user's tokens (`action` "revoke")
    or rotates it (`action` "rotate": the successor's value shown once)."""

    template_name = "personal_tokens/personal_access_tokens.html"
    noun = gettext_lazy("personal access token")
    http_method_names = ["get", "post"]
    action = "revoke"

    def page_url(self) -> str:
        return reverse("personal_tokens:index")

    @sensitive_variables()
    def render_page(self, *, form=None, new_token=None, plaintext=None):
        user = self.request.user
        initial = PersonalAccessTokenForm.initial_from_query(self.request.GET)
        context = {
            "form": form or PersonalAccessTokenForm(user=user, initial=initial),
            **self.shown_once_context(new_token=new_token, plaintext=plaintext),
            **self.tables_context(user.personal_access_tokens.all()),
            # "Add new token" is open when the form has errors or a link prefilled it.
            "expanded": (form is not None and bool(form.errors)) or any(initial.values()),
            "nav": "access_tokens",
        }
        return render(self.request, self.template_name, context)

    def create_token(self, form):
        return services.personal_token_create(
            actor=self.request.user,
            user=self.request.user,
            ip_address=client_ip(self.request),
            **form.cleaned_data,
        )

    def revoke_token(self, token) -> None:
        services.personal_token_revoke(
            actor=self.request.user, token=token, ip_address=client_ip(self.request)
        )

    def rotate_token(self, token, *, overlap_hours):
        return services.personal_token_rotate(
            actor=self.request.user,
            token=token,
            overlap_hours=overlap_hours,
            ip_address=client_ip(self.request),
        )

    def get(self, request, token_id: int | None = None):
        if token_id is not None:
            return self.http_method_not_allowed(request)
        return self.render_page()

    def post(self, request, token_id: int | None = None):
        if token_id is None:
            return self.create_from(PersonalAccessTokenForm(request.POST, user=request.user))
        token = get_object_or_404(request.user.personal_access_tokens, pk=token_id)
        return self.rotate(token) if self.action == "rotate" else self.revoke(token)
