"""Required two-factor authentication: the instance's setting and a group's (its subgroups
and their projects too), the grace period counted from the first page (the shortest of the
settings that apply), the reminder on every page during it, and after it the redirect of
every page but the set-up and sign-out. Tokens keep working for Git and the API. The clock
is moved with time_machine."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from tests.factories import (
    PASSWORD,
    GroupFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    make_personal_token,
    make_two_factor,
)
from tokens_site.models import AccessLevel, AuditAction, AuditEvent, Group, InstanceSettings
from two_factor.enforcement import INSTANCE, requirement_for
from two_factor.models import EnforcementGrace

pytestmark = pytest.mark.django_db

DASHBOARD = "/"
SETTINGS = "/-/user_settings/two_factor_auth"
REMINDER = "Two-factor authentication is required of you by"


@pytest.fixture
def user(client):
    user = UserFactory(username="nina")
    client.force_login(user)
    return user


def require_everyone(hours=48):
    instance = InstanceSettings.current()
    instance.require_two_factor_authentication = True
    instance.two_factor_grace_period = hours
    instance.save()


def later(hours):
    return time_machine.travel(timezone.now() + timedelta(hours=hours), tick=False)


class TestInstanceRequirement:
    def test_nothing_required_nothing_shown(self, client, user):
        response = client.get(DASHBOARD)
        assert response.status_code == 200 and REMINDER not in response.content.decode()
        assert not EnforcementGrace.objects.exists()

    def test_during_the_grace_period_every_page_reminds(self, client, user):
        require_everyone()
        response = client.get(DASHBOARD)
        page = response.content.decode()
        assert response.status_code == 200 and f"{REMINDER} {INSTANCE}" in page
        assert "Set it up before" in page
        with later(47):
            assert REMINDER in client.get("/-/user_settings/profile").content.decode()

    def test_the_admin_reminds_too(self, client, user):
        user.is_staff = user.is_superuser = True
        user.save()
        require_everyone()
        response = client.get("/admin/")
        assert response.status_code == 200 and REMINDER in response.content.decode()

    def test_after_the_grace_period_pages_go_to_the_set_up(self, client, user):
        require_everyone()
        client.get(DASHBOARD)  # the grace period starts
        with later(49):
            for path in [DASHBOARD, "/explore", "/-/user_settings/profile", "/admin/"]:
                response = client.get(path)
                assert response.status_code == 302 and response["Location"] == SETTINGS
            assert client.post("/groups/new", {"name": "x", "path": "x"})["Location"] == SETTINGS
            assert client.get(SETTINGS).status_code == 200
            assert not Group.objects.exists()

    def test_sign_out_still_works_when_overdue(self, client, user):
        require_everyone(hours=0)
        response = client.post("/users/sign_out")
        assert response.status_code == 302 and "_auth_user_id" not in client.session

    def test_the_grace_period_counts_from_the_first_page(self, client, user):
        require_everyone()
        with later(100):  # required long ago, but first seen now
            assert client.get(DASHBOARD).status_code == 200
            with later(1):
                assert client.get(DASHBOARD).status_code == 200

    def test_a_requirement_lifted_and_imposed_again_gives_a_new_grace_period(self, client, user):
        require_everyone()
        client.get(DASHBOARD)
        with later(100):
            instance = InstanceSettings.current()
            instance.require_two_factor_authentication = False
            instance.save()
            assert client.get(DASHBOARD).status_code == 200
            assert not EnforcementGrace.objects.exists()
            require_everyone()
            response = client.get(DASHBOARD)
            assert response.status_code == 200 and REMINDER in response.content.decode()

    def test_zero_hours_is_at_once(self, client, user):
        require_everyone(hours=0)
        assert client.get(DASHBOARD)["Location"] == SETTINGS

    def test_enrolling_ends_it(self, client, user):
        require_everyone(hours=0)
        make_two_factor(user)
        response = client.get(DASHBOARD)
        assert response.status_code == 200 and REMINDER not in response.content.decode()

    def test_turning_it_off_later_is_not_a_new_grace_period(self, client, user):
        require_everyone()
        client.get(DASHBOARD)
        with later(49):
            make_two_factor(user)
            assert client.get(DASHBOARD).status_code == 200
            from two_factor.services import two_factor_disable

            two_factor_disable(user=user)
            assert client.get(DASHBOARD)["Location"] == SETTINGS

    def test_tokens_keep_working_when_overdue(self, client, user):
        require_everyone(hours=0)
        _, token = make_personal_token(user, scopes=["read_user"])
        response = client.get("/api/v4/user", HTTP_PRIVATE_TOKEN=token)  # still signed in too
        assert response.status_code == 200 and response.json()["username"] == "nina"
        from django.test import Client

        clean = Client()  # no session at all, as a script
        assert clean.get("/api/v4/user", HTTP_PRIVATE_TOKEN=token).status_code == 200

    def test_a_user_with_it_on_costs_one_query(self, user, django_assert_num_queries):
        require_everyone()
        make_two_factor(user)
        with django_assert_num_queries(1):
            assert requirement_for(user) is None

    def test_a_user_nothing_requires_it_of_costs_one_query(self, user, django_assert_num_queries):
        assert requirement_for(user) is None  # the instance settings are read (and cached)
        with django_assert_num_queries(1):  # the user's row, with whether a group requires it
            assert requirement_for(user) is None

    def test_a_user_in_the_grace_period_costs_one_query(self, user, django_assert_num_queries):
        require_everyone()
        requirement_for(user)  # starts it
        with django_assert_num_queries(1):  # the instance requires it: no group to name
            assert requirement_for(user) is not None

    def test_a_user_in_a_groups_grace_period_costs_two(self, user, django_assert_num_queries):
        group = GroupFactory(path="strict", name="Strict")
        group.require_two_factor_authentication = True
        group.save()
        MembershipFactory(user=user, group=group, access_level=AccessLevel.DEVELOPER)
        requirement_for(user)  # starts it
        with django_assert_num_queries(2):  # the user's row, the groups' names
            assert requirement_for(user).required_by == ("Strict",)


class TestGroupRequirement:
    @pytest.fixture
    def top(self):
        top = GroupFactory(path="secure", name="Secure")
        top.require_two_factor_authentication = True
        top.two_factor_grace_period = 24
        top.save()
        return top

    def test_members_of_a_project_two_groups_down_are_required(self, client, user, top):
        sub = GroupFactory(path="sub", parent=top)
        project = ProjectFactory(group=GroupFactory(path="deeper", parent=sub), path="app")
        MembershipFactory(user=user, project=project, access_level=AccessLevel.GUEST)
        requirement = requirement_for(user)
        assert requirement.required_by == ("Secure",)
        assert f"{REMINDER} Secure" in client.get(DASHBOARD).content.decode()
        with later(25):
            assert client.get(DASHBOARD)["Location"] == SETTINGS

    def test_others_are_not(self, client, user, top):
        MembershipFactory(user=user, group=GroupFactory(path="open"), access_level=50)
        assert requirement_for(user) is None
        assert REMINDER not in client.get(DASHBOARD).content.decode()

    def test_the_shortest_grace_period_applies(self, user, top):
        MembershipFactory(user=user, group=top, access_level=AccessLevel.DEVELOPER)
        require_everyone(hours=72)
        requirement = requirement_for(user)
        assert requirement.required_by == (INSTANCE, "Secure")
        started = EnforcementGrace.objects.get(user=user).started_at
        assert requirement.deadline == started + timedelta(hours=24)


class TestGroupSettingsPage:
    @pytest.fixture
    def group(self, user):
        group = GroupFactory(path="team", name="Team")
        MembershipFactory(user=user, group=group, access_level=AccessLevel.OWNER)
        return group

    def test_owner_requires_it_for_the_group(self, client, user, group):
        response = client.post(
            "/groups/team/-/edit",
            {"require_two_factor_authentication": "on", "two_factor_grace_period": "12"},
        )
        assert response.status_code == 302
        group.refresh_from_db()
        assert group.require_two_factor_authentication and group.two_factor_grace_period == 12
        event = AuditEvent.objects.get(action=AuditAction.GROUP_UPDATE)
        assert event.details["two_factor_grace_period"] == {"from": 48, "to": 12}
        assert REMINDER in client.get(DASHBOARD).content.decode()  # the Owner is a member too

    @pytest.mark.parametrize("hours", ["-1", "10001", "abc", ""])
    def test_bad_grace_periods_are_form_errors(self, client, user, group, hours):
        response = client.post(
            "/groups/team/-/edit",
            {"require_two_factor_authentication": "on", "two_factor_grace_period": hours},
        )
        assert response.status_code == 200
        assert response.context["form"].errors["two_factor_grace_period"]
        group.refresh_from_db()
        assert not group.require_two_factor_authentication

    def test_maintainers_may_not(self, client, group):
        maintainer = UserFactory(username="mo")
        MembershipFactory(user=maintainer, group=group, access_level=AccessLevel.MAINTAINER)
        client.force_login(maintainer)
        assert client.get("/groups/team/-/edit").status_code == 403
        response = client.post("/groups/team/-/edit", {"require_two_factor_authentication": "on"})
        assert response.status_code == 403

    def test_the_api_sets_and_shows_it(self, client, user, group):
        _, token = make_personal_token(user, scopes=["api"])
        response = client.put(
            f"/api/v4/groups/{group.pk}",
            {"require_two_factor_authentication": True, "two_factor_grace_period": 6},
            content_type="application/json",
            HTTP_PRIVATE_TOKEN=token,
        )
        assert response.status_code == 200
        body = response.json()
        assert body["require_two_factor_authentication"] is True
        assert body["two_factor_grace_period"] == 6

    @pytest.mark.parametrize("hours", [-1, 10_001, "x"])
    def test_the_api_refuses_bad_grace_periods(self, client, user, group, hours):
        _, token = make_personal_token(user, scopes=["api"])
        response = client.put(
            f"/api/v4/groups/{group.pk}",
            {"two_factor_grace_period": hours},
            content_type="application/json",
            HTTP_PRIVATE_TOKEN=token,
        )
        assert response.status_code == 400 and "two_factor_grace_period" in response.json()["error"]


def test_the_password_sign_in_then_the_set_up(client):
    """Signed out, then in with the password while required and overdue: straight to the
    set-up, which works."""
    UserFactory(username="neo")
    require_everyone(hours=0)
    response = client.post("/users/sign_in", {"username": "neo", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get(response["Location"])["Location"] == SETTINGS
