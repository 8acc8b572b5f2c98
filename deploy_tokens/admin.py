"""Every deploy token of the instance: find, inspect, revoke; create one and see its value once.
No secret and no digest is ever shown."""

from django import forms
from django.contrib import admin
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from deploy_tokens import services
from deploy_tokens.forms import DeployTokenForm
from deploy_tokens.models import DeployToken, Scope
from tokens_site.admin_helpers import ScopeFilter, TokenAdmin, TokenStateFilter
from tokens_site.audit import client_ip


class KindFilter(admin.SimpleListFilter):
    title = gettext_lazy("kind")
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return [("project", _("Project tokens")), ("group", _("Group tokens"))]

    def queryset(self, request, queryset):
        if self.value() in {"project", "group"}:
            return queryset.filter(**{f"{self.value()}__isnull": False})
        return queryset


class DeployScopeFilter(ScopeFilter):
    scopes = Scope.values

    def match(self, scope: str) -> Q:
        return Q(**{scope: True})  # one boolean column per scope


class DeployTokenAdminForm(forms.ModelForm, DeployTokenForm):
    """The settings page's form plus the project or group the token belongs to."""

    class Meta:
        model = DeployToken
        fields = ["project", "group", "name", "description", "expires_at", "username"]

    def clean(self):
        cleaned = super().clean()
        self.instance.scopes = cleaned.get("scopes") or []
        return cleaned


@admin.register(DeployToken)
class DeployTokenAdmin(TokenAdmin):
    noun = gettext_lazy("deploy token")
    new_title = gettext_lazy("Your new deploy token")
    form = DeployTokenAdminForm
    add_fields = ["project", "group", "name", "description", "expires_at", "username", "scopes"]
    list_display = [
        "name",
        "belongs_to",
        "username",
        "scope_list",
        "created_at",
        "expires_at",
        "state",
    ]
    readonly_fields = [
        "name",
        "description",
        "kind",
        "owner_path",
        "username",
        "scope_list",
        "created_at",
        "expires_at",
        "revoked",
        "creator",
    ]
    cut_columns = ("name", "belongs_to", "username")
    list_filter = [KindFilter, DeployScopeFilter, TokenStateFilter, "created_at"]
    search_fields = ["name", "description", "username", "project__full_path", "group__full_path"]
    list_select_related = ["project", "group", "creator"]

    @admin.display(description=gettext_lazy("kind"))
    def kind(self, token: DeployToken) -> str:
        return _("Project") if token.project_id else _("Group")

    @admin.display(description=gettext_lazy("project or group"), ordering="project__full_path")
    def owner_path(self, token: DeployToken) -> str:
        return token.owner.full_path

    @admin.display(description=gettext_lazy("belongs to"), ordering="project__full_path")
    def belongs_to(self, token: DeployToken) -> str:
        if token.project_id:
            return _("project %(path)s") % {"path": token.owner.full_path}
        return _("group %(path)s") % {"path": token.owner.full_path}

    @admin.display(description=gettext_lazy("scopes"))
    def scope_list(self, token: DeployToken) -> str:
        return ", ".join(token.scopes)

    def create_token(self, request, data: dict) -> tuple:
        return services.deploy_token_create(
            actor=request.user,
            owner=data["project"] or data["group"],
            name=data["name"],
            description=data["description"],
            scopes=data["scopes"],
            expires_at=data["expires_at"],
            username=data["username"],
            ip_address=client_ip(request),
        )

    def revoke_token(self, request, token) -> None:
        services.deploy_token_revoke(actor=request.user, token=token, ip_address=client_ip(request))

    def new_token_username(self, token) -> str:
        return token.username

    def revoked_message(self, count: int) -> str:
        return ngettext(
            "Revoked %(count)d deploy token.", "Revoked %(count)d deploy tokens.", count
        ) % {"count": count}
