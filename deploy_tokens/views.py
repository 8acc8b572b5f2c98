"""Settings > Repository > Deploy tokens, for projects (Maintainers and Owners) and groups
(Owners). The token's value appears in exactly one response: the one that creates it."""

from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables

from deploy_tokens import services
from deploy_tokens.forms import DeployTokenForm
from deploy_tokens.models import DeployToken
from tokens_site.access.abilities import Ability
from tokens_site.audit import client_ip
from tokens_site.mixins import GroupMixin, ProjectMixin, TokenPageMixin
from tokens_site.models import Group, Project

SECTION_ID = "deploy-tokens"


@method_decorator(never_cache, name="dispatch")
class DeployTokenSettingsView(TokenPageMixin, View):
    """`action` "show" (GET) renders the page, "create" (POST) makes a token and shows it
    once, "revoke" and "rotate" (POST, with `token_id`) revoke one or replace it by a new
    value (shown once)."""

    template_name = "deploy_tokens/repository_settings.html"
    noun = gettext_lazy("deploy token")
    action = "show"
    owner_field: str
    owner: Group | Project

    def settings_url(self) -> str:
        raise NotImplementedError

    def page_url(self) -> str:
        return f"{self.settings_url()}#{SECTION_ID}"

    def owner_tokens(self):
        return DeployToken.objects.filter(**{self.owner_field: self.owner})

    @sensitive_variables()
    def render_page(self, *, form=None, new_token=None, plaintext=None):
        context = self.get_context_data(
            # Both named, so the template never looks up a missing one: Django logs a failed
            # lookup (at DEBUG) with the whole context, which here holds the token's value.
            project=None,
            group=None,
            form=form or DeployTokenForm(),
            **self.shown_once_context(new_token=new_token, plaintext=plaintext),
            **self.tables_context(self.owner_tokens()),
            expanded=new_token is not None or (form is not None and bool(form.errors)),
            section_id=SECTION_ID,
            owner_kind=self.owner_field,
            nav="settings_repository",
        )
        return render(self.request, self.template_name, context)

    def get_context_data(self, **kwargs):
        return kwargs

    def create_token(self, form):
        return services.deploy_token_create(
            actor=self.request.user,
            owner=self.owner,
            ip_address=client_ip(self.request),
            **form.cleaned_data,
        )

    def revoke_token(self, token) -> None:
        services.deploy_token_revoke(
            actor=self.request.user, token=token, ip_address=client_ip(self.request)
        )

    def rotate_token(self, token, *, overlap_hours):
        return services.deploy_token_rotate(
            actor=self.request.user,
            token=token,
            overlap_hours=overlap_hours,
            ip_address=client_ip(self.request),
        )

    def get(self, request, *args, **kwargs):
        if self.action != "show":
            return HttpResponseNotAllowed(["POST"])
        return self.render_page()

    def post(self, request, *args, token_id: int | None = None, **kwargs):
        if self.action == "create":
            return self.create_from(DeployTokenForm(request.POST))
        if self.action == "revoke":
            return self.revoke(get_object_or_404(self.owner_tokens(), pk=token_id))
        if self.action == "rotate":
            return self.rotate(get_object_or_404(self.owner_tokens(), pk=token_id))
        return HttpResponseNotAllowed(["GET"])


class ProjectDeployTokenSettingsView(ProjectMixin, DeployTokenSettingsView):
    required = Ability.MANAGE_DEPLOY_TOKENS
    denied_message = gettext_lazy(
        "You need at least the Maintainer role in this project to change its settings."
    )
    owner_field = "project"

    @property
    def owner(self) -> Project:
        return self.project

    def settings_url(self) -> str:
        return reverse("deploy_tokens:project_settings", args=[self.project.full_path])


class GroupDeployTokenSettingsView(GroupMixin, DeployTokenSettingsView):
    required = Ability.MANAGE_DEPLOY_TOKENS
    denied_message = gettext_lazy("You need the Owner role in this group to change its settings.")
    owner_field = "group"

    @property
    def owner(self) -> Group:
        return self.group

    def settings_url(self) -> str:
        return reverse("deploy_tokens:group_settings", args=[self.group.full_path])
