"""The Django admin: search, filters, read-only audit log, memberships through the services."""

import pytest
from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import IntegrityError, transaction

from tests.factories import (
    AdminFactory,
    GroupFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
)
from tokens_site.models import (
    AccessLevel,
    AuditAction,
    AuditEvent,
    InstanceSettings,
    Membership,
    Visibility,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(AdminFactory())
    return client


def listed(response) -> list[str]:
    """The rows of an admin list page (not the page's text, which echoes the search term)."""
    assert response.status_code == 200
    return [str(row) for row in response.context["cl"].result_list]


# The instance settings form as an administrator fills it in (everything on but external
# authorization).
INSTANCE_SETTINGS_FORM = {
    "git_password_authentication_enabled": "on",
    "personal_access_token_max_lifetime_days": "30",
    "personal_access_token_prefix": "glpat-",
    "failed_auth_ban_enabled": "on",
    "failed_auth_ban_limit": "30",
    "failed_auth_ban_period_seconds": "180",
    "failed_auth_ban_duration_seconds": "3600",
    "package_file_max_size_mb": "1024",
    "git_push_max_size_mb": "1024",
    "lfs_object_max_size_mb": "1024",
    "dependency_proxy_upstream_url": "https://registry-1.docker.io",
    "secret_push_protection_enabled": "on",
    "secret_push_protection_third_party": "on",
    "two_factor_grace_period": "48",
    "max_rotation_overlap_hours": "168",
    "git_advertisement_cache_enabled": "on",
    "git_advertisement_cache_max_mb": "64",
    "git_pack_cache_enabled": "on",
    "git_pack_cache_max_mb": "10240",
}


def test_project_search_finds_by_path(admin_client):
    top = GroupFactory(path="tanuki")
    ProjectFactory(group=top, path="awesome")
    ProjectFactory(group=GroupFactory(path="other"), path="boring")
    assert listed(admin_client.get("/admin/tokens_site/project/?q=tanuki")) == ["tanuki/awesome"]
    assert admin_client.get("/admin/tokens_site/project/add/").status_code == 403


def test_group_filters_keep_subgroups_apart_from_top_level_groups(admin_client):
    top = GroupFactory(path="tanuki")
    GroupFactory(parent=top, path="backend", visibility=Visibility.PRIVATE)
    GroupFactory(path="other", visibility=Visibility.PUBLIC)
    top_level = listed(admin_client.get("/admin/tokens_site/group/?parent__isempty=1"))
    assert top_level == ["other", "tanuki"]
    subgroups = listed(admin_client.get("/admin/tokens_site/group/?parent__isempty=0"))
    assert subgroups == ["tanuki/backend"]
    private = listed(admin_client.get("/admin/tokens_site/group/?visibility__exact=private"))
    assert private == ["tanuki", "tanuki/backend"]


def test_membership_search_by_user_and_path(admin_client):
    group = GroupFactory(path="tanuki", owner=UserFactory(username="olivia"))
    MembershipFactory(
        user=UserFactory(username="zoe"), group=group, access_level=AccessLevel.REPORTER
    )
    MembershipFactory(
        user=UserFactory(username="yan"), group=GroupFactory(path="other"), access_level=20
    )
    found = listed(admin_client.get("/admin/tokens_site/membership/?q=zoe"))
    assert found == ["zoe — Reporter of tanuki"]
    found = listed(
        admin_client.get("/admin/tokens_site/membership/?q=tanuki&access_level__exact=20")
    )
    assert found == ["zoe — Reporter of tanuki"]  # not olivia (Owner), not yan (other)


def shown_messages(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_refused_removal_of_the_last_owner_shows_only_the_error(admin_client):
    GroupFactory(path="tanuki", owner=UserFactory(username="solo"))
    owner = Membership.objects.get(user__username="solo")
    response = admin_client.post(
        f"/admin/tokens_site/membership/{owner.pk}/delete/", {"post": "yes"}, follow=True
    )
    assert shown_messages(response) == [
        "solo is the last Owner of tanuki. Make someone else an Owner first."
    ]
    assert "deleted successfully" not in response.content.decode()
    assert Membership.objects.filter(pk=owner.pk).exists()
    assert not LogEntry.objects.filter(action_flag=DELETION).exists()


def test_refused_demotion_of_the_last_owner_shows_only_the_error(admin_client):
    GroupFactory(path="tanuki", owner=UserFactory(username="solo"))
    owner = Membership.objects.get(user__username="solo")
    response = admin_client.post(
        f"/admin/tokens_site/membership/{owner.pk}/change/",
        {"access_level": AccessLevel.MAINTAINER},
        follow=True,
    )
    assert shown_messages(response) == [
        "solo is the last Owner of tanuki. Make someone else an Owner first."
    ]
    assert "changed successfully" not in response.content.decode()
    owner.refresh_from_db()
    assert owner.access_level == AccessLevel.OWNER
    assert not LogEntry.objects.filter(action_flag=CHANGE).exists()
    assert not AuditEvent.objects.filter(action=AuditAction.MEMBER_CHANGE).exists()


def test_bulk_removal_reports_what_was_removed_and_what_was_refused(admin_client):
    group = GroupFactory(path="tanuki", owner=UserFactory(username="solo"))
    owner = Membership.objects.get(user__username="solo")
    guest = MembershipFactory(group=group, access_level=AccessLevel.GUEST)
    response = admin_client.post(
        "/admin/tokens_site/membership/",
        {"action": "delete_selected", "_selected_action": [owner.pk, guest.pk], "post": "yes"},
        follow=True,
    )
    assert shown_messages(response) == [
        "solo is the last Owner of tanuki. Make someone else an Owner first.",
        "Removed 1 membership.",
    ]
    assert list(Membership.objects.filter(group=group)) == [owner]
    logged = LogEntry.objects.filter(action_flag=DELETION)
    assert [entry.object_id for entry in logged] == [str(guest.pk)]


def test_allowed_removal_says_so_and_is_logged(admin_client):
    guest = MembershipFactory(group=GroupFactory(), access_level=AccessLevel.GUEST)
    response = admin_client.post(
        f"/admin/tokens_site/membership/{guest.pk}/delete/", {"post": "yes"}, follow=True
    )
    (message,) = shown_messages(response)
    assert "was deleted successfully" in message
    assert not Membership.objects.filter(pk=guest.pk).exists()
    assert LogEntry.objects.get(action_flag=DELETION).object_id == str(guest.pk)


def test_admin_role_change_is_audited(admin_client):
    group = GroupFactory()
    member = MembershipFactory(group=group, access_level=AccessLevel.GUEST)
    response = admin_client.post(
        f"/admin/tokens_site/membership/{member.pk}/change/",
        {"access_level": AccessLevel.DEVELOPER},
    )
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.access_level == AccessLevel.DEVELOPER
    event = AuditEvent.objects.get(action=AuditAction.MEMBER_CHANGE)
    assert event.details == {"from": AccessLevel.GUEST, "to": AccessLevel.DEVELOPER}


def test_audit_events_are_read_only_and_searchable(admin_client):
    GroupFactory(path="audited")
    GroupFactory(path="elsewhere")
    event = AuditEvent.objects.get(action=AuditAction.GROUP_CREATE, target_label="audited")
    found = admin_client.get("/admin/tokens_site/auditevent/?q=audited")
    assert list(found.context["cl"].result_list) == [event]
    created = admin_client.get("/admin/tokens_site/auditevent/?action__exact=group.create")
    assert {row.target_label for row in created.context["cl"].result_list} == {
        "audited",
        "elsewhere",
    }
    added = admin_client.get("/admin/tokens_site/auditevent/?action__exact=member.add")
    assert list(added.context["cl"].result_list) == []
    assert admin_client.get("/admin/tokens_site/auditevent/add/").status_code == 403
    admin_client.post(f"/admin/tokens_site/auditevent/{event.pk}/delete/", {"post": "yes"})
    assert AuditEvent.objects.filter(pk=event.pk).exists()
    page = admin_client.get(f"/admin/tokens_site/auditevent/{event.pk}/change/").content.decode()
    assert 'name="action"' not in page  # shown, not editable


def test_instance_settings_open_as_one_row(admin_client):
    response = admin_client.get("/admin/tokens_site/instancesettings/")
    assert response.status_code == 302
    assert response["Location"].endswith("/admin/tokens_site/instancesettings/1/change/")
    form = admin_client.get(response["Location"]).content.decode()
    assert "maximum personal access token lifetime" in form.lower()
    assert "largest git push (mib)" in form.lower()
    assert "secret push protection" in form.lower()
    assert "git pack cache size (mib)" in form.lower()
    data = {
        **INSTANCE_SETTINGS_FORM,
        "external_authorization_enabled": "on",
        "git_push_max_size_mb": "50",
        "git_pack_cache_enabled": "",
        "git_pack_cache_max_mb": "500",
    }
    admin_client.post(response["Location"], data)
    current = InstanceSettings.current()
    assert current.external_authorization_enabled
    assert current.personal_access_token_max_lifetime_days == 30
    assert current.git_push_max_size_mb == 50
    assert current.secret_push_protection_enabled
    assert current.secret_push_protection_third_party
    assert not current.git_pack_cache_enabled and current.git_pack_cache_max_mb == 500
    assert current.git_advertisement_cache_enabled
    assert InstanceSettings.objects.count() == 1


LIFETIME_RANGE = "Enter a number of days from 1 to 365, or leave it empty for no limit."


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("personal_access_token_max_lifetime_days", "5000000", LIFETIME_RANGE),
        ("personal_access_token_max_lifetime_days", "366", LIFETIME_RANGE),
        ("personal_access_token_max_lifetime_days", "0", LIFETIME_RANGE),
        (
            "failed_auth_ban_limit",
            "0",
            "Enter at least 1. To never ban an address, turn the ban off.",
        ),
        ("failed_auth_ban_period_seconds", "0", "Enter at least 1 second."),
        (
            "failed_auth_ban_duration_seconds",
            "0",
            "Enter at least 1 second. To never ban an address, turn the ban off.",
        ),
        ("git_push_max_size_mb", "0", "Enter at least 1 MiB."),
        ("lfs_object_max_size_mb", "0", "Enter at least 1 MiB."),
        ("dependency_proxy_upstream_url", "ftp://example.com", "Enter a valid URL."),
        ("max_rotation_overlap_hours", "169", "Enter a number of hours from 0 to 168."),
    ],
)
def test_instance_settings_out_of_range_are_form_errors(admin_client, field, value, message):
    url = "/admin/tokens_site/instancesettings/1/change/"
    admin_client.get("/admin/tokens_site/instancesettings/")  # creates the row
    response = admin_client.post(url, {**INSTANCE_SETTINGS_FORM, field: value})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {field: [message]}
    current = InstanceSettings.objects.get()
    assert current.personal_access_token_max_lifetime_days is None
    assert current.failed_auth_ban_limit == 30
    assert current.failed_auth_ban_duration_seconds == 3600


@pytest.mark.parametrize("days", ["", "1", "365"])
def test_instance_settings_accept_the_whole_lifetime_range(admin_client, days):
    admin_client.get("/admin/tokens_site/instancesettings/")
    data = {**INSTANCE_SETTINGS_FORM, "personal_access_token_max_lifetime_days": days}
    response = admin_client.post("/admin/tokens_site/instancesettings/1/change/", data)
    assert response.status_code == 302
    assert InstanceSettings.objects.get().personal_access_token_max_lifetime_days == (
        int(days) if days else None
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("personal_access_token_max_lifetime_days", 5_000_000),
        ("personal_access_token_max_lifetime_days", 0),
        ("failed_auth_ban_limit", 0),
        ("failed_auth_ban_period_seconds", 0),
        ("failed_auth_ban_duration_seconds", 0),
        ("git_push_max_size_mb", 0),
    ],
)
def test_the_database_keeps_instance_settings_in_range(field, value):
    settings_row = InstanceSettings.current()
    setattr(settings_row, field, value)
    with pytest.raises(ValidationError) as raised:
        settings_row.full_clean()
    assert field in raised.value.message_dict
    with pytest.raises(IntegrityError), transaction.atomic():
        InstanceSettings.objects.filter(pk=settings_row.pk).update(**{field: value})


def test_non_staff_users_are_kept_out_of_the_admin(client):
    client.force_login(UserFactory())
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_bootstrap_admin_creates_the_first_administrator_once(monkeypatch, capsys):
    monkeypatch.delenv("INITIAL_ROOT_PASSWORD", raising=False)
    call_command("bootstrap_admin")
    out = capsys.readouterr().out
    assert "Created the administrator 'root'." in out and "Password: " in out
    from django.contrib.auth import get_user_model

    root = get_user_model().objects.get(username="root")
    password = out.split("Password: ")[1].split()[0]
    assert root.is_superuser and root.check_password(password)
    call_command("bootstrap_admin")
    assert "nothing to do" in capsys.readouterr().out


@pytest.mark.parametrize(
    "url",
    [
        "/admin/tokens_site/project/?q=tan%00uki",
        "/admin/deploy_tokens/deploytoken/?q=%00",
        "/tanuki%00/app",
    ],
)
def test_a_nul_character_in_the_url_is_a_400(admin_client, url):
    response = admin_client.get(url)
    assert response.status_code == 400
    assert b"NUL character" in response.content


def test_the_admin_names_the_token_apps_in_words(admin_client):
    page = admin_client.get("/admin/").content.decode()
    for label in ("Deploy tokens", "Personal access tokens"):
        assert f">{label}</a>" in page or f">{label}<" in page, label
    assert "DEPLOY_TOKENS" not in page and "Deploy_Tokens" not in page
