"""Every deploy token of the instance: find, inspect, revoke; create one and see its value once.
No secret and no digest is ever shown."""

from django import forms
from django.contrib import admin

from deploy_tokens import services
from deploy_tokens.forms import DeployTokenForm
from deploy_tokens.models import DeployToken, Scope
from tokens_site.admin_helpers import (
    TokenStateFilter,
    render_token_created,
    revoke_each,
    without_delete_selected,
)
from tokens_site.audit import client_ip


class KindFilter(admin.SimpleListFilter):
    title = "kind"
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return [("project", "Project tokens"), ("group", "Group tokens")]

    def queryset(self, request, queryset):
        if self.value() in {"project", "group"}:
            return queryset.filter(**{f"{self.value()}__isnull": False})
        return queryset


class ScopeFilter(admin.SimpleListFilter):
    title = "scope"
    parameter_name = "scope"

    def lookups(self, request, model_admin):
        return [(scope, scope) for scope in Scope.values]

    def queryset(self, request, queryset):
        if self.value() in Scope.values:
            return queryset.filter(**{self.value(): True})
        return queryset


class DeployTokenAdminForm(forms.ModelForm, DeployTokenForm):
    """The settings page's form plus the project or group the token belongs to."""

    class Meta:
        model = DeployToken
        fields = ["project", "group", "name", "expires_at", "username"]

    def clean(self):
        cleaned = super().clean()
        self.instance.scopes = cleaned.get("scopes") or []
        return cleaned


@admin.register(DeployToken)
class DeployTokenAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "kind",
        "owner_path",
        "username",
        "scope_list",
        "created_at",
        "expires_at",
        "revoked",
        "creator",
    ]
    list_filter = [KindFilter, ScopeFilter, TokenStateFilter, "created_at"]
    search_fields = ["name", "username", "project__full_path", "group__full_path"]
    list_select_related = ["project", "group", "creator"]
    readonly_fields = list_display  # tokens are immutable: the detail page only shows
    actions = ["revoke_selected"]

    @admin.display(description="kind")
    def kind(self, token: DeployToken) -> str:
        return "Project" if token.project_id else "Group"

    @admin.display(description="project or group", ordering="project__full_path")
    def owner_path(self, token: DeployToken) -> str:
        return token.owner.full_path

    @admin.display(description="scopes")
    def scope_list(self, token: DeployToken) -> str:
        return ", ".join(token.scopes)

    form = DeployTokenAdminForm

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["project", "group", "name", "expires_at", "username", "scopes"]
        return self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # tokens are immutable: create a new one, revoke the old

    def get_actions(self, request):
        return without_delete_selected(super().get_actions(request))

    def save_model(self, request, obj, form, change) -> None:
        data = form.cleaned_data
        token, plaintext = services.deploy_token_create(
            actor=request.user,
            owner=data["project"] or data["group"],
            name=data["name"],
            scopes=data["scopes"],
            expires_at=data["expires_at"],
            username=data["username"],
            ip_address=client_ip(request),
        )
        obj.__dict__.update(token.__dict__)
        request.new_token_plaintext = plaintext

    def response_add(self, request, obj, post_url_continue=None):
        return render_token_created(
            request,
            self,
            obj,
            title="Your new deploy token",
            username=obj.username,
            plaintext=request.new_token_plaintext,
        )

    @admin.action(description="Revoke selected tokens")
    def revoke_selected(self, request, queryset) -> None:
        revoke_each(
            self,
            request,
            queryset.select_related("project__group", "group"),
            revoke=lambda token: services.deploy_token_revoke(
                actor=request.user, token=token, ip_address=client_ip(request)
            ),
            noun="deploy token",
        )
