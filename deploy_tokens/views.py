"""Settings > Repository > Deploy tokens, for projects (Maintainers and Owners) and groups
(Owners). The token's value appears in exactly one response: the one that creates it."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.cache import never_cache

from deploy_tokens import services
from deploy_tokens.forms import DeployTokenForm
from deploy_tokens.models import DeployToken
from tokens_site.audit import client_ip
from tokens_site.mixins import GroupMixin, ProjectMixin
from tokens_site.models import Group, Project
from tokens_site.once import FIELD_NAME, once_key_claim, once_key_issue
from tokens_site.views import apply_service_errors

SECTION_ID = "deploy-tokens"


@method_decorator(never_cache, name="dispatch")
class DeployTokenSettingsView(View):
    """GET shows the page; POST creates a token (shown once) or, with `token_id`, revokes one."""

    template_name = "deploy_tokens/repository_settings.html"
    http_method_names = ["get", "post"]
    action = "show"

    owner: Group | Project

    def settings_url(self) -> str:
        raise NotImplementedError

    def owner_tokens(self):
        return DeployToken.objects.filter(**{self.owner_field: self.owner})

    def render_page(self, *, form=None, new_token=None, plaintext=None, expanded=False, status=200):
        active = list(self.owner_tokens().active())
        context = self.get_context_data(
            form=form or DeployTokenForm(),
            form_once=once_key_issue(self.request),
            form_once_field=FIELD_NAME,
            new_token=new_token,
            plaintext=plaintext,
            active_tokens=active,
            expanded=expanded or new_token is not None or (form is not None and form.errors),
            section_id=SECTION_ID,
            owner_kind=self.owner_field,
            nav="settings_repository",
        )
        return render(self.request, self.template_name, context, status=status)

    def get_context_data(self, **kwargs):
        return kwargs

    def get(self, request, *args, **kwargs):
        if self.action != "show":
            return HttpResponseNotAllowed(["POST"])
        return self.render_page()

    def post(self, request, *args, token_id: int | None = None, **kwargs):
        if self.action == "show":
            return HttpResponseNotAllowed(["GET"])
        if self.action == "revoke":
            return self.revoke(request, token_id)
        form = DeployTokenForm(request.POST)
        if not form.is_valid():
            return self.render_page(form=form)
        if not once_key_claim(request):
            messages.info(
                request,
                "That form was already submitted. A deploy token's value is shown only once, "
                "right after it is created; create a new token if you did not save it.",
            )
            return redirect(f"{self.settings_url()}#{SECTION_ID}")
        try:
            token, plaintext = services.deploy_token_create(
                actor=request.user,
                owner=self.owner,
                ip_address=client_ip(request),
                **form.cleaned_data,
            )
        except ValidationError as error:
            apply_service_errors(form, error)
            return self.render_page(form=form)
        return self.render_page(new_token=token, plaintext=plaintext)

    def revoke(self, request, token_id: int):
        token = get_object_or_404(self.owner_tokens(), pk=token_id)
        try:
            services.deploy_token_revoke(
                actor=request.user, token=token, ip_address=client_ip(request)
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, f"Revoked deploy token {token.name}.")
        # 303: the browser follows with a GET, and a reload does not repeat the POST.
        response = redirect(f"{self.settings_url()}#{SECTION_ID}")
        response.status_code = 303
        return response


class ProjectDeployTokenSettingsView(ProjectMixin, DeployTokenSettingsView):
    required = "can_maintain"
    denied_message = "You need at least the Maintainer role in this project to change its settings."
    owner_field = "project"

    @property
    def owner(self) -> Project:
        return self.project

    def settings_url(self) -> str:
        return reverse(
            "deploy_tokens:project_settings", kwargs={"full_path": self.project.full_path}
        )


class GroupDeployTokenSettingsView(GroupMixin, DeployTokenSettingsView):
    required = "is_owner"
    denied_message = "You need the Owner role in this group to change its settings."
    owner_field = "group"

    @property
    def owner(self) -> Group:
        return self.group

    def settings_url(self) -> str:
        return reverse("deploy_tokens:group_settings", kwargs={"full_path": self.group.full_path})
