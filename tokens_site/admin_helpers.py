"""What the admins share: long names cut in change lists (CutColumnsAdmin), and for the token
kinds the state filter and the TokenAdmin base."""

from operator import attrgetter

from django.contrib import admin, messages
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.db.models import Q
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables

from tokens_site.models import expired_condition
from tokens_site.once import (
    FIELD_NAME,
    OnceKey,
    ShownOnce,
    once_key_issue,
    once_key_refusal,
    once_key_take,
)
from tokens_site.templatetags.tokens_extras import ellipsis


class CutColumnsAdmin(admin.ModelAdmin):
    """A change list whose `cut_columns` (fields, dotted paths or the admin's display methods
    among `list_display`) show one line cut with an ellipsis, the full text in a tooltip
    (admin.css): a 255-character name never makes the list scroll sideways. Its search reads
    the first `search_words` words."""

    cut_columns: tuple[str, ...] = ()
    # Search words beyond these are dropped: each word is a clause of the query, and thousands
    # of them (a paste) overflow the database's expression depth.
    search_words = 20

    def __init__(self, model, admin_site) -> None:
        super().__init__(model, admin_site)
        self._cut = {name: self._cut_column(name) for name in self.cut_columns}

    def get_search_results(self, request, queryset, search_term):
        words = search_term.split()[: self.search_words]
        return super().get_search_results(request, queryset, " ".join(words))

    def get_list_display(self, request):
        return [self._cut.get(name, name) for name in super().get_list_display(request)]

    def _cut_column(self, name: str):
        method = getattr(self, name, None)
        if callable(method):
            read = method
            description = getattr(method, "short_description", name.replace("_", " "))
            ordering = getattr(method, "admin_order_field", None)
        else:
            read = attrgetter(name.replace("__", "."))
            try:
                description = self.model._meta.get_field(name).verbose_name
            except FieldDoesNotExist:
                description = name.split("__")[-1].replace("_", " ")
            ordering = name

        def column(obj):
            try:
                value = read(obj)
            except AttributeError:  # a path through an empty relation
                value = None
            return self.get_empty_value_display() if value in (None, "") else ellipsis(value)

        column.__name__ = name  # the cells keep their `field-<name>` class
        column.short_description = description
        if ordering:
            column.admin_order_field = ordering
        return column


class FormNotActedOn(Exception):
    """The add form's single-use key was used before or has expired: nothing is created."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class TokenStateFilter(admin.SimpleListFilter):
    """Active / expired / revoked, for a token model (TokenRecord: its queryset's rules)."""

    title = gettext_lazy("state")
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("active", _("Active")), ("expired", _("Expired")), ("revoked", _("Revoked"))]

    def queryset(self, request, queryset):
        if self.value() == "active":
            return queryset.active()
        if self.value() == "expired":
            return queryset.filter(expired_condition())
        if self.value() == "revoked":
            return queryset.filter(revoked=True)
        return queryset


class ScopeFilter(admin.SimpleListFilter):
    """Tokens with one scope. A subclass lists its `scopes` and says how to `match` one."""

    title = gettext_lazy("scope")
    parameter_name = "scope"
    scopes: list[str] = []

    def match(self, scope: str) -> Q:
        raise NotImplementedError

    def lookups(self, request, model_admin):
        return [(scope, scope) for scope in self.scopes]

    def queryset(self, request, queryset):
        if self.value() in self.scopes:
            return queryset.filter(self.match(self.value()))
        return queryset


class TokenAdmin(CutColumnsAdmin):
    """The admin of a token kind. Rows are immutable (a token is revoked, never edited or
    deleted); "add" goes through the kind's service and answers with the value, once, never
    cached, and a re-sent add form (a reload) creates nothing; "Revoke selected tokens" revokes
    through the service. A subclass supplies `noun`, `new_title`, `revoked_message()`,
    `add_fields`, `create_token()` and `revoke_token()`."""

    noun = gettext_lazy("token")
    new_title = gettext_lazy("Your new token")
    add_fields: list[str] = []
    actions = ["revoke_selected"]
    add_form_template = "admin/token_add_form.html"

    def create_token(self, request, data: dict) -> tuple:
        raise NotImplementedError

    def revoke_token(self, request, token) -> None:
        raise NotImplementedError

    def new_token_username(self, token) -> str:
        return ""

    def revoked_message(self, count: int) -> str:
        return ngettext("Revoked %(count)d token.", "Revoked %(count)d tokens.", count) % {
            "count": count
        }

    @admin.display(description=gettext_lazy("state"))
    def state(self, token) -> str:
        if token.revoked:
            return _("Revoked")
        return _("Expired") if token.is_expired else _("Active")

    def get_fields(self, request, obj=None):
        return self.add_fields if obj is None else self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        """Never in this admin: a token is revoked and its row stays, for the audit trail. The
        admin of what a token belongs to (its project, group or user) asks too, while deleting
        that with everything in it; there the administrator's own permission decides."""
        match = request.resolver_match
        opts = self.model._meta
        if match is None or (match.url_name or "").startswith(
            f"{opts.app_label}_{opts.model_name}_"
        ):
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # the rows stay, for the audit trail
        return actions

    def add_view(self, request, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "form_once_field": FIELD_NAME,
            "form_once": once_key_issue(request),
        }
        try:
            return super().add_view(request, form_url, extra_context)
        except FormNotActedOn as refused:
            self.message_user(request, refused.message, messages.WARNING)
            opts = self.model._meta
            return redirect(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))

    @sensitive_variables()
    def save_model(self, request, obj, form, change) -> None:
        # Claimed only now that the form is valid: a form with errors is shown again, with a
        # new key, and the reload of a creation (which re-posts the used key) creates nothing.
        state = once_key_take(request)
        if state is not OnceKey.CLAIMED:
            raise FormNotActedOn(once_key_refusal(state, self.noun))
        token, plaintext = self.create_token(request, form.cleaned_data)
        obj.__dict__.update(token.__dict__)
        # Kept on this request object only, for response_add below.
        request.new_token_plaintext = ShownOnce(plaintext)

    @sensitive_variables()
    def response_add(self, request, obj, post_url_continue=None):
        context = {
            **self.admin_site.each_context(request),
            "title": self.new_title,
            "subtitle": None,
            "opts": self.model._meta,
            "original": obj,
            "username": self.new_token_username(obj),
            "plaintext": request.new_token_plaintext,
        }
        response = TemplateResponse(request, "admin/token_created.html", context)
        return never_cache(lambda request: response)(request)

    @admin.action(description=gettext_lazy("Revoke selected tokens"))
    def revoke_selected(self, request, queryset) -> None:
        revoked, problems = 0, []
        for token in queryset:
            try:
                self.revoke_token(request, token)
                revoked += 1
            except (ValidationError, PermissionDenied) as error:
                problems.extend(
                    error.messages if isinstance(error, ValidationError) else [str(error)]
                )
        if revoked:
            self.message_user(request, self.revoked_message(revoked), messages.SUCCESS)
        for problem in problems:
            self.message_user(request, problem, messages.WARNING)
