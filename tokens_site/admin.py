"""Django admin for the site-wide domain. Groups and projects are created on the site's own
pages (they need a path check and, for projects, a repository on disk); here administrators
find, inspect, rename and delete them, manage memberships and the instance settings, and read
the audit log."""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import Group as AuthGroup
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from tokens_site import services
from tokens_site.admin_helpers import CutColumnsAdmin
from tokens_site.audit import client_ip
from tokens_site.auth.bans import ban_lift
from tokens_site.auth.lockout import lockout_unlock
from tokens_site.auth.store import store
from tokens_site.models import (
    AccountLockout,
    AddressBan,
    AuditEvent,
    Group,
    InstanceSettings,
    Membership,
    Project,
)
from two_factor.selectors import has_two_factor
from two_factor.services import two_factor_reset

# Django's permission groups are not used; hiding them avoids confusion with our groups.
admin.site.unregister(AuthGroup)


class ReadOnlyAdmin(CutColumnsAdmin):
    """Rows the site writes itself (audit events, bans, lockouts): looked at, never added,
    edited or deleted here."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Group)
class GroupAdmin(CutColumnsAdmin):
    list_display = ["full_path", "name", "visibility", "parent", "created_at"]
    cut_columns = ("full_path", "name", "parent")
    list_filter = ["visibility", ("parent", admin.EmptyFieldListFilter), "created_at"]
    search_fields = ["full_path", "name", "description"]
    fields = [
        "name",
        "description",
        "full_path",
        "parent",
        "visibility",
        "require_two_factor_authentication",
        "two_factor_grace_period",
        "created_at",
    ]
    readonly_fields = ["full_path", "parent", "visibility", "created_at"]
    list_select_related = ["parent"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(Project)
class ProjectAdmin(CutColumnsAdmin):
    list_display = ["full_path", "name", "visibility", "group", "created_at"]
    cut_columns = ("full_path", "name", "group")
    list_filter = ["visibility", "created_at"]
    search_fields = ["full_path", "name", "description"]
    fields = ["name", "description", "full_path", "group", "visibility", "created_at"]
    readonly_fields = ["full_path", "group", "visibility", "created_at"]
    list_select_related = ["group"]

    def has_add_permission(self, request) -> bool:
        return False


class MembershipAdminForm(forms.ModelForm):
    class Meta:
        model = Membership
        fields = ["access_level"]


@admin.register(Membership)
class MembershipAdmin(CutColumnsAdmin):
    """Changes go through the same services as the members pages, so the last Owner of a
    group stays and every change is audited."""

    form = MembershipAdminForm
    list_display = ["user", "access_level", "group", "project", "created_at"]
    cut_columns = ("user", "group", "project")
    list_filter = [
        "access_level",
        ("group", admin.EmptyFieldListFilter),
        ("project", admin.EmptyFieldListFilter),
    ]
    search_fields = ["user__username", "user__email", "group__full_path", "project__full_path"]
    readonly_fields = ["user", "group", "project", "created_at"]
    fields = ["user", "group", "project", "access_level", "created_at"]
    list_select_related = ["user", "group", "project"]

    def has_add_permission(self, request) -> bool:
        return False

    # Set on the request when the service refused a change, so Django's own "... was
    # changed/deleted successfully" message and history entry are left out.
    REFUSED = "membership_change_refused"

    def save_model(self, request, obj, form, change) -> None:
        level = obj.access_level
        obj.access_level = form.initial["access_level"]
        try:
            services.member_update(
                actor=request.user,
                membership=obj,
                access_level=level,
                ip_address=client_ip(request),
            )
        except (ValidationError, PermissionDenied) as error:
            self._refuse(request, error)

    def delete_model(self, request, obj) -> None:
        self.delete_queryset(request, Membership.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset) -> None:
        removed = 0
        for membership in queryset.select_related("user", "group", "project"):
            try:
                with transaction.atomic():
                    # Logged before the row goes (it loses its id), undone if refused.
                    super().log_deletions(request, [membership])
                    services.member_remove(
                        actor=request.user, membership=membership, ip_address=client_ip(request)
                    )
                removed += 1
            except (ValidationError, PermissionDenied) as error:
                self._refuse(request, error)
        if removed and getattr(request, self.REFUSED, False):
            super().message_user(
                request,
                ngettext("Removed %(count)d membership.", "Removed %(count)d memberships.", removed)
                % {"count": removed},
                messages.SUCCESS,
            )

    def _refuse(self, request, error: Exception) -> None:
        setattr(request, self.REFUSED, True)
        self.message_user(request, " ".join(_messages(error)), messages.ERROR)

    def log_change(self, request, obj, message):
        if getattr(request, self.REFUSED, False):
            return None
        return super().log_change(request, obj, message)

    def log_deletions(self, request, queryset):
        """Written by delete_queryset, one membership at a time, once it is really gone."""

    def message_user(self, request, message, level=messages.INFO, *args, **kwargs) -> None:
        if level == messages.SUCCESS and getattr(request, self.REFUSED, False):
            return
        super().message_user(request, message, level, *args, **kwargs)


def _messages(error: Exception) -> list[str]:
    return error.messages if isinstance(error, ValidationError) else [str(error)]


@admin.register(InstanceSettings)
class InstanceSettingsAdmin(admin.ModelAdmin):
    """One row: the list page opens it directly."""

    fieldsets = [
        (
            gettext_lazy("Authentication"),
            {"fields": ["external_authorization_enabled", "git_password_authentication_enabled"]},
        ),
        (
            gettext_lazy("Two-factor authentication"),
            {"fields": ["require_two_factor_authentication", "two_factor_grace_period"]},
        ),
        (
            gettext_lazy("Tokens"),
            {
                "fields": [
                    "require_token_expiry",
                    "personal_access_token_max_lifetime_days",
                    "personal_access_token_prefix",
                    "max_rotation_overlap_hours",
                ]
            },
        ),
        (
            gettext_lazy("Git over HTTP"),
            {
                "fields": [
                    "git_push_max_size_mb",
                    "lfs_object_max_size_mb",
                    "secret_push_protection_enabled",
                    "secret_push_protection_third_party",
                    "git_advertisement_cache_enabled",
                    "git_advertisement_cache_max_mb",
                    "git_pack_cache_enabled",
                    "git_pack_cache_max_mb",
                ]
            },
        ),
        (gettext_lazy("Dependency proxy"), {"fields": ["dependency_proxy_upstream_url"]}),
        (
            gettext_lazy("Package registry"),
            {"fields": ["package_file_max_size_mb", "package_duplicates_allowed"]},
        ),
        (
            gettext_lazy("Failed-authentication ban"),
            {
                "fields": [
                    "failed_auth_ban_enabled",
                    "failed_auth_ban_limit",
                    "failed_auth_ban_period_seconds",
                    "failed_auth_ban_duration_seconds",
                ]
            },
        ),
    ]

    def changelist_view(self, request, extra_context=None):
        current = InstanceSettings.current()
        return redirect(reverse("admin:tokens_site_instancesettings_change", args=[current.pk]))

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Read-only: the audit log is written by the services, never edited."""

    list_display = ["created_at", "actor_username", "action", "target_label", "ip_address"]
    cut_columns = ("actor_username", "target_label")
    list_filter = ["action", "target_type", "created_at"]
    search_fields = ["actor_username", "target_label", "target_id", "ip_address"]
    date_hierarchy = "created_at"


@admin.register(AddressBan)
class AddressBanAdmin(ReadOnlyAdmin):
    """The addresses banned for failed authentication attempts, each with **Lift ban**. Bans are
    made by the authentication layer only (tokens_site.auth.bans)."""

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            # Lifting undoes a ban: Django's delete permission on bans (administrators).
            if not request.user.has_perm("tokens_site.delete_addressban"):
                raise PermissionDenied
            address = request.POST.get("lift", "")
            try:
                lifted = ban_lift(ip=address, actor=request.user, ip_address=client_ip(request))
            except ValueError:
                self.message_user(
                    request,
                    _("'%(address)s' is not an IP address.") % {"address": address},
                    messages.ERROR,
                )
            else:
                if lifted:
                    self.message_user(
                        request,
                        _("Lifted the ban of %(address)s.") % {"address": address},
                        messages.SUCCESS,
                    )
                else:
                    self.message_user(
                        request,
                        _("%(address)s is not banned.") % {"address": address},
                        messages.WARNING,
                    )
            return redirect(reverse("admin:tokens_site_addressban_changelist"))
        instance = InstanceSettings.current()
        context = {
            **self.admin_site.each_context(request),
            "title": _("Address bans"),
            "subtitle": None,
            "opts": self.model._meta,
            "bans": store().bans(),
            "enabled": instance.failed_auth_ban_enabled,
            "limit": instance.failed_auth_ban_limit,
            "period": instance.failed_auth_ban_period_seconds,
            "duration": instance.failed_auth_ban_duration_seconds,
        }
        return TemplateResponse(request, "admin/address_bans.html", context)


def _unlock(modeladmin, request, users) -> None:
    try:
        unlocked = sum(
            lockout_unlock(user=user, actor=request.user, ip_address=client_ip(request))
            for user in users
        )
    except PermissionDenied as refused:
        modeladmin.message_user(request, str(refused), messages.ERROR)
        return
    modeladmin.message_user(
        request,
        ngettext("Unlocked %(count)d account.", "Unlocked %(count)d accounts.", unlocked)
        % {"count": unlocked},
        messages.SUCCESS,
    )


@admin.register(AccountLockout)
class AccountLockoutAdmin(ReadOnlyAdmin):
    """Accounts with failed sign-ins, and the ones locked for it; **Unlock selected accounts**
    lifts a lock early (audited)."""

    list_display = ["user", "failed_attempts", "last_failed_at", "locked_until", "locked"]
    cut_columns = ("user",)
    list_select_related = ["user"]
    search_fields = ["user__username", "user__email"]
    actions = ["unlock_selected"]

    @admin.display(boolean=True, description=gettext_lazy("locked now"))
    def locked(self, lockout: AccountLockout) -> bool:
        return lockout.is_locked

    @admin.action(description=gettext_lazy("Unlock selected accounts"))
    def unlock_selected(self, request, queryset) -> None:
        _unlock(self, request, [lockout.user for lockout in queryset])


User = get_user_model()
admin.site.unregister(User)


class TwoFactorFilter(admin.SimpleListFilter):
    title = gettext_lazy("two-factor authentication")
    parameter_name = "two_factor"

    def lookups(self, request, model_admin):
        return [("yes", _("Enabled")), ("no", _("Not enabled"))]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(has_two_factor=self.value() == "yes")
        return queryset


@admin.register(User)
class TokensUserAdmin(CutColumnsAdmin, UserAdmin):
    """Django's user admin, with the sign-in lock and two-factor authentication shown,
    **Unlock selected accounts** and **Reset two-factor authentication** (audited, and each
    user is emailed)."""

    list_display = [*UserAdmin.list_display, "two_factor", "locked"]
    cut_columns = ("username", "email", "first_name", "last_name")
    list_filter = [*UserAdmin.list_filter, TwoFactorFilter]
    list_select_related = ["lockout"]
    actions = ["unlock_selected", "reset_two_factor"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(has_two_factor=has_two_factor())

    @admin.display(boolean=True, description=gettext_lazy("2FA"), ordering="has_two_factor")
    def two_factor(self, user) -> bool:
        return user.has_two_factor

    @admin.action(description=gettext_lazy("Reset two-factor authentication of selected users"))
    def reset_two_factor(self, request, queryset) -> None:
        try:
            reset = [
                user.get_username()
                for user in queryset
                if two_factor_reset(user=user, actor=request.user, ip_address=client_ip(request))
            ]
        except PermissionDenied as refused:
            self.message_user(request, str(refused), messages.ERROR)
            return
        if not reset:
            self.message_user(
                request, _("None of them had two-factor authentication."), messages.WARNING
            )
            return
        self.message_user(
            request,
            _(
                "Reset two-factor authentication of %(usernames)s; each with an email address "
                "was told so."
            )
            % {"usernames": ", ".join(reset)},
            messages.SUCCESS,
        )

    @admin.display(boolean=True, description=gettext_lazy("locked"))
    def locked(self, user) -> bool:
        lockout = getattr(user, "lockout", None)
        return lockout is not None and lockout.is_locked

    @admin.action(description=gettext_lazy("Unlock selected accounts"))
    def unlock_selected(self, request, queryset) -> None:
        _unlock(self, request, list(queryset))
