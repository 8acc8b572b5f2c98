"""An inventory of every personal access token — and of every project and group access token,
which is a personal token of its bot (access_tokens) — find, inspect, revoke; create one for a
user and see its value once. No secret and no digest is ever shown."""

from django import forms
from django.contrib import admin
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from personal_tokens import services
from personal_tokens.forms import add_rule_errors
from personal_tokens.models import PersonalAccessToken, with_scope
from personal_tokens.rules import Scope
from tokens_site.admin_helpers import ScopeFilter, TokenAdmin, TokenStateFilter
from tokens_site.audit import client_ip
from tokens_site.forms import DATE_FORMAT_HINT, expiry_help, scope_choices, token_description_field
from tokens_site.models import InstanceSettings


class PersonalScopeFilter(ScopeFilter):
    scopes = Scope.values

    def match(self, scope: str) -> Q:
        return with_scope(scope)


class KindFilter(admin.SimpleListFilter):
    title = gettext_lazy("kind")
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return [
            ("personal", _("Personal")),
            ("project", _("Project access token")),
            ("group", _("Group access token")),
        ]

    def queryset(self, request, queryset):
        if self.value() == "personal":
            return queryset.filter(user__bot__isnull=True)
        if self.value() in ("project", "group"):
            return queryset.filter(**{f"user__bot__{self.value()}__isnull": False})
        return queryset


class PersonalAccessTokenAdminForm(forms.ModelForm):
    """Create a token for any user, by the same rules as the settings page and the commands."""

    description = token_description_field()
    scopes = forms.MultipleChoiceField(
        choices=scope_choices(Scope), widget=forms.CheckboxSelectMultiple
    )
    expires_at = forms.DateField(
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": DATE_FORMAT_HINT},
    )

    class Meta:
        model = PersonalAccessToken
        fields = ["user", "name", "description", "expires_at"]

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "expires_at" in self.fields:  # only when adding: a token's date never changes
            instance = InstanceSettings.current()
            self.fields["expires_at"].initial = instance.default_form_expiry()
            self.fields["expires_at"].help_text = expiry_help(instance)

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("user") is not None:
            add_rule_errors(self, user=cleaned["user"])
        return cleaned

    def _post_clean(self) -> None:
        """Validated above; the digest is made by the service."""


@admin.register(PersonalAccessToken)
class PersonalAccessTokenAdmin(TokenAdmin):
    noun = gettext_lazy("personal access token")
    new_title = gettext_lazy("Your new personal access token")
    form = PersonalAccessTokenAdminForm
    add_fields = ["user", "name", "description", "expires_at", "scopes"]
    list_display = [
        "name",
        "user",
        "belongs_to",
        "scope_list",
        "created_at",
        "last_used_at",
        "expires_at",
        "state",
    ]
    readonly_fields = ["name", "description", *list_display[1:]]
    cut_columns = ("name", "user", "belongs_to")
    list_filter = [
        KindFilter,
        PersonalScopeFilter,
        TokenStateFilter,
        "created_at",
        "last_used_at",
    ]
    search_fields = ["name", "description", "user__username", "user__email"]
    list_select_related = ["user__bot__project", "user__bot__group"]

    @admin.display(description=gettext_lazy("belongs to"))
    def belongs_to(self, token: PersonalAccessToken) -> str:
        """A person's own token, or the project or group of an access token's bot."""
        bot = getattr(token.user, "bot", None)
        if bot is None:
            return _("(personal)")
        if bot.source is None:
            return _("(access token of a deleted project or group)")
        if bot.project_id:
            return _("project %(path)s") % {"path": bot.source.full_path}
        return _("group %(path)s") % {"path": bot.source.full_path}

    @admin.display(description=gettext_lazy("scopes"))
    def scope_list(self, token: PersonalAccessToken) -> str:
        return ", ".join(token.scopes)

    def create_token(self, request, data: dict) -> tuple:
        return services.personal_token_create(
            actor=request.user,
            user=data["user"],
            name=data["name"],
            description=data["description"],
            scopes=data["scopes"],
            expires_at=data["expires_at"],
            ip_address=client_ip(request),
        )

    def revoke_token(self, request, token) -> None:
        services.personal_token_revoke(
            actor=request.user, token=token, ip_address=client_ip(request)
        )

    def revoked_message(self, count: int) -> str:
        return ngettext(
            "Revoked %(count)d personal access token.",
            "Revoked %(count)d personal access tokens.",
            count,
        ) % {"count": count}
