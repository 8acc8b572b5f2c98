"""Settings > Access tokens, for projects (Maintainers and Owners) and groups (Owners). A token
made or rotated here shows its value in exactly one response: the one that makes it."""

from django.http import HttpResponseNotAllowed
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables

from access_tokens import services
from access_tokens.forms import AccessTokenForm
from tokens_site.access.abilities import Ability
from tokens_site.audit import client_ip
from tokens_site.mixins import GroupMixin, ProjectMixin, TokenPageMixin
from tokens_site.models import Group, Project


@method_decorator(never_cache, name="dispatch")
class AccessTokenSettingsView(TokenPageMixin, View):
    """`action` "show": GET renders the page, POST creates a token and shows it once;
    "revoke" and "rotate" (POST, with `token_id`) act on one of this project's or group's
    tokens, and a rotation shows its successor's value once."""

    template_name = "access_tokens/access_tokens.html"
    action = "show"
    source_kind: str  # "project" or "group"
    source: Group | Project

    @property
    def noun(self) -> str:
        if self.source_kind == "group":
            return _("group access token")
        return _("project access token")

    def page_url(self) -> str:
        return reverse(f"access_tokens:{self.source_kind}_settings", args=[self.source.full_path])

    @sensitive_variables()
    def render_page(self, *, form=None, new_token=None, plaintext=None):
        tokens = services.tokens_of(self.source)
        context = self.get_context_data(
            # Both named, so the template never looks up a missing one: Django logs a failed
            # lookup (at DEBUG) with the whole context, which here holds the token's value.
            project=None,
            group=None,
            form=form or AccessTokenForm(access=self.access),
            **self.shown_once_context(new_token=new_token, plaintext=plaintext),
            **self.tables_context(tokens),
            expanded=form is not None and bool(form.errors),
            source_kind=self.source_kind,
            nav="settings_access_tokens",
        )
        return render(self.request, self.template_name, context)

    def get_context_data(self, **kwargs):
        return kwargs

    def create_token(self, form):
        return services.access_token_create(
            actor=self.request.user,
            source=self.source,
            ip_address=client_ip(self.request),
            **form.cleaned_data,
        )

    def revoke_token(self, token) -> None:
        services.access_token_revoke(
            actor=self.request.user,
            source=self.source,
            token=token,
            ip_address=client_ip(self.request),
        )

    def rotate_token(self, token, *, overlap_hours):
        return services.access_token_rotate(
            actor=self.request.user,
            source=self.source,
            token=token,
            overlap_hours=overlap_hours,
            ip_address=client_ip(self.request),
        )

    def get(self, request, *args, token_id: int | None = None, **kwargs):
        if self.action != "show":
            return HttpResponseNotAllowed(["POST"])
        return self.render_page()

    def post(self, request, *args, token_id: int | None = None, **kwargs):
        if self.action == "show":
            return self.create_from(AccessTokenForm(request.POST, access=self.access))
        token = get_object_or_404(services.tokens_of(self.source), pk=token_id)
        if self.action == "rotate":
            return self.rotate(token)
        return self.revoke(token)


# `required` is set here: the scope mixins, first in line, declare it None.
class ProjectAccessTokenSettingsView(ProjectMixin, AccessTokenSettingsView):
    required = Ability.MANAGE_ACCESS_TOKENS
    source_kind = "project"

    @property
    def source(self) -> Project:
        return self.project


class GroupAccessTokenSettingsView(GroupMixin, AccessTokenSettingsView):
    required = Ability.MANAGE_ACCESS_TOKENS
    source_kind = "group"

    @property
    def source(self) -> Group:
        return self.group
