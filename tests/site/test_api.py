"""REST API v4 in process: auth, scopes, Sudo, errors, pagination, query counts. (python-gitlab
against a live server: tests/e2e/test_python_gitlab.py.)"""

import json
from datetime import timedelta

import pytest
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from deploy_tokens.models import DeployToken
from personal_tokens.models import PersonalAccessToken
from tests.factories import (
    AdminFactory,
    GroupFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    make_deploy_token,
    make_personal_token,
)
from tokens_site.auth.families import API
from tokens_site.models import AccessLevel, AuditAction, AuditEvent, Group, InstanceSettings
from tokens_site.tokens import utc_today

pytestmark = pytest.mark.django_db
LOCAL_CACHE = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def call(client, method, path, token=None, data=None, raw=None, **extra):
    """Like a real server: RAW_URI carries the path as sent (with %2F kept)."""
    if token:
        extra["HTTP_PRIVATE_TOKEN"] = token
    kwargs = {"RAW_URI": path, **extra}
    if data is not None:
        kwargs.update(
            data=raw if raw is not None else json.dumps(data), content_type="application/json"
        )
    elif raw is not None:
        kwargs.update(data=raw, content_type="application/json")
    return getattr(client, method)(path, **kwargs)


@pytest.fixture
def owner():
    return UserFactory(username="olga")


@pytest.fixture
def tanuki(owner):
    group = GroupFactory(path="tanuki", name="Tanuki", owner=owner)
    sub = GroupFactory(parent=group, path="backend", name="Backend")
    return {
        "group": group,
        "sub": sub,
        "project": ProjectFactory(group=sub, path="api", name="API"),
    }


@pytest.fixture
def api_token(owner):
    return make_personal_token(owner, scopes=["api"])[1]


class TestAuthentication:
    def test_private_token_bearer_and_parameter(self, client, owner, api_token):
        for extra in (
            {"HTTP_PRIVATE_TOKEN": api_token},
            {"HTTP_AUTHORIZATION": f"Bearer {api_token}"},
        ):
            response = call(client, "get", "/api/v4/user", **extra)
            assert response.json()["username"] == "olga"
        response = call(client, "get", f"/api/v4/user?private_token={api_token}")
        assert response.json()["is_admin"] is False

    def test_no_token_bad_token_deploy_token_and_password_get_401(self, client, tanuki, owner):
        _deploy, deploy_value = make_deploy_token(tanuki["project"])
        import base64

        basic = base64.b64encode(f"olga:{'correct horse battery staple'}".encode()).decode()
        for extra in (
            {},
            {"HTTP_PRIVATE_TOKEN": "glpat-" + "x" * 32},
            {"HTTP_PRIVATE_TOKEN": deploy_value},
            {"HTTP_AUTHORIZATION": f"Basic {basic}"},
        ):
            response = call(client, "get", "/api/v4/user", **extra)
            assert response.status_code == 401
            if "HTTP_AUTHORIZATION" in extra:  # what to send instead (issue 15)
                assert response.json() == {"message": f"401 Unauthorized - {API.basic_refusal}"}
            else:
                assert response.json() == {"message": "401 Unauthorized"}

    def test_deploy_token_and_job_token_headers_get_401_not_anonymous(self, client):
        public = ProjectFactory(
            group=GroupFactory(path="open", visibility="public"), visibility="public"
        )
        _deploy, deploy_value = make_deploy_token(public)
        assert call(client, "get", "/api/v4/projects").status_code == 200  # anonymous: public
        for extra in (
            {"HTTP_DEPLOY_TOKEN": deploy_value},
            {"HTTP_JOB_TOKEN": "any-job-token"},
        ):
            response = call(client, "get", "/api/v4/projects", **extra)
            assert (response.status_code, response.json()) == (401, {"message": "401 Unauthorized"})

    def test_read_api_reads_but_never_writes(self, client, owner):
        _, value = make_personal_token(owner, scopes=["read_api"])
        assert call(client, "get", "/api/v4/groups", value).status_code == 200
        response = call(client, "post", "/api/v4/groups", value, {"name": "X", "path": "x"})
        assert response.status_code == 403
        assert response.json()["error"] == "insufficient_scope"
        assert response.json()["scope"] == "api"
        assert not Group.objects.filter(path="x").exists()

    def test_read_user_reads_only_users(self, client, owner):
        _, value = make_personal_token(owner, scopes=["read_user"])
        assert call(client, "get", "/api/v4/user", value).status_code == 200
        assert call(client, "get", "/api/v4/users", value).status_code == 200
        response = call(client, "get", "/api/v4/projects", value)
        assert response.status_code == 403 and response.json()["scope"] == "api read_api"

    def test_repository_scopes_do_not_open_the_api(self, client, owner):
        _, value = make_personal_token(owner, scopes=["read_repository", "write_repository"])
        assert call(client, "get", "/api/v4/user", value).status_code == 403

    def test_last_used_is_recorded(self, client, owner):
        token, value = make_personal_token(owner, scopes=["api"])
        call(client, "get", "/api/v4/user", value)
        token.refresh_from_db()
        assert token.last_used_at is not None


class TestSudo:
    def test_admin_sudo_token_acts_as_another_user(self, client, tanuki):
        admin = AdminFactory()
        _, value = make_personal_token(admin, scopes=["api", "sudo"])
        for extra in (
            {"HTTP_SUDO": "olga"},
            {"HTTP_SUDO": str(tanuki["group"].memberships.get().user_id)},
        ):
            assert call(client, "get", "/api/v4/user", value, **extra).json()["username"] == "olga"
        assert call(client, "get", "/api/v4/user?sudo=olga", value).json()["username"] == "olga"

    def test_what_is_done_with_sudo_is_audited_with_the_administrator(self, client, tanuki):
        admin = AdminFactory(username="root")
        _, value = make_personal_token(admin, scopes=["api", "sudo"])
        project = tanuki["project"].pk
        response = call(
            client,
            "post",
            f"/api/v4/projects/{project}/deploy_tokens",
            value,
            {"name": "ci", "scopes": ["read_repository"]},
            HTTP_SUDO="olga",
        )
        assert response.status_code == 201
        event = AuditEvent.objects.get(action=AuditAction.DEPLOY_TOKEN_CREATE)
        assert event.actor_username == "olga" and event.details["sudo_by"] == "root"
        # Without Sudo, nothing is added.
        call(
            client,
            "delete",
            f"/api/v4/projects/{project}/deploy_tokens/{response.json()['id']}",
            value,
        )
        event = AuditEvent.objects.get(action=AuditAction.DEPLOY_TOKEN_REVOKE)
        assert event.actor_username == "root" and "sudo_by" not in event.details

    def test_sudo_needs_the_sudo_scope(self, client, owner):
        _, value = make_personal_token(AdminFactory(), scopes=["api"])
        response = call(client, "get", "/api/v4/user", value, HTTP_SUDO="olga")
        assert response.status_code == 403 and response.json()["scope"] == "sudo"

    def test_sudo_needs_an_administrator(self, client, owner):
        former_admin = AdminFactory()
        _, value = make_personal_token(former_admin, scopes=["api", "sudo"])
        former_admin.is_superuser = False
        former_admin.save()
        response = call(client, "get", "/api/v4/user", value, HTTP_SUDO="olga")
        assert response.status_code == 403
        assert response.json() == {"message": "403 Forbidden - Must be admin to use sudo"}

    def test_sudo_to_an_unknown_user_is_404(self, client):
        _, value = make_personal_token(AdminFactory(), scopes=["api", "sudo"])
        response = call(client, "get", "/api/v4/user", value, HTTP_SUDO="nobody")
        assert response.status_code == 404 and response.json() == {"message": "404 User Not Found"}


class TestResources:
    def test_group_by_id_and_by_encoded_path(self, client, tanuki, api_token):
        by_id = call(client, "get", f"/api/v4/groups/{tanuki['sub'].pk}", api_token).json()
        by_path = call(client, "get", "/api/v4/groups/tanuki%2Fbackend", api_token).json()
        assert by_id == by_path
        assert by_path["full_path"] == "tanuki/backend"
        assert by_path["full_name"] == "Tanuki / Backend"
        assert by_path["parent_id"] == tanuki["group"].pk

    def test_project_by_encoded_path(self, client, tanuki, api_token):
        project = call(client, "get", "/api/v4/projects/tanuki%2Fbackend%2Fapi", api_token).json()
        assert project["path_with_namespace"] == "tanuki/backend/api"
        assert project["name_with_namespace"] == "Tanuki / Backend / API"
        assert project["http_url_to_repo"].endswith("/tanuki/backend/api.git")
        assert project["namespace"]["full_path"] == "tanuki/backend"

    def test_paths_are_found_ignoring_case(self, client, tanuki, api_token):
        group = call(client, "get", "/api/v4/groups/Tanuki%2FBACKEND", api_token)
        assert group.json()["id"] == tanuki["sub"].pk
        project = call(client, "get", "/api/v4/projects/TANUKI%2Fbackend%2FApi", api_token)
        assert project.json()["id"] == tanuki["project"].pk
        members = call(client, "get", "/api/v4/projects/tanuki%2FBackend%2Fapi/members", api_token)
        assert members.status_code == 200

    def test_projects_with_an_unknown_visibility_are_400(self, client, tanuki, api_token):
        response = call(client, "get", "/api/v4/projects?visibility=bogus", api_token)
        assert response.status_code == 400
        assert response.json() == {"error": "visibility does not have a valid value"}
        listed = call(client, "get", "/api/v4/projects?visibility=private", api_token).json()
        assert [project["id"] for project in listed] == [tanuki["project"].pk]

    def test_things_a_user_may_not_see_are_404(self, client, tanuki):
        _, value = make_personal_token(UserFactory(), scopes=["api"])
        for path in (
            f"/api/v4/groups/{tanuki['group'].pk}",
            "/api/v4/projects/tanuki%2Fbackend%2Fapi",
            f"/api/v4/projects/{tanuki['project'].pk}/members",
            f"/api/v4/projects/{tanuki['project'].pk}/deploy_tokens",
        ):
            assert call(client, "get", path, value).status_code == 404, path
        assert call(client, "get", "/api/v4/no/such/thing", value).json() == {
            "message": "404 Not Found"
        }

    def test_create_group_subgroup_and_project(self, client, owner, api_token):
        group = call(client, "post", "/api/v4/groups", api_token, {"name": "Acme", "path": "acme"})
        assert group.status_code == 201
        sub = call(
            client,
            "post",
            "/api/v4/groups",
            api_token,
            {"name": "Tools", "path": "tools", "parent_id": group.json()["id"]},
        ).json()
        project = call(
            client,
            "post",
            "/api/v4/projects",
            api_token,
            {"name": "Hammer", "namespace_id": sub["id"], "visibility": "private"},
        )
        assert project.status_code == 201
        assert project.json()["path_with_namespace"] == "acme/tools/hammer"

    @pytest.mark.parametrize(
        ("data", "raw", "status", "message"),
        [
            (None, b"{not json", 400, "not valid JSON"),
            (None, b"[1, 2]", 400, "must be a JSON object"),
            ({"path": "x"}, None, 400, "name is missing"),
            ({"name": ["x"], "path": "x"}, None, 400, "name is invalid"),
            ({"name": "X", "path": "-bad"}, None, 400, "is not a valid path"),
            ({"name": "X", "path": "api"}, None, 400, "reserved"),
            ({"name": "X", "path": "y", "visibility": "secret"}, None, 400, "visibility"),
            ({"name": "X", "path": "y", "parent_id": "abc"}, None, 400, "parent_id is invalid"),
            ({"name": "X", "path": "y", "parent_id": 999999}, None, 404, "Group Not Found"),
        ],
    )
    def test_bad_group_input(self, client, owner, api_token, data, raw, status, message):
        response = call(client, "post", "/api/v4/groups", api_token, data or {}, raw=raw)
        assert response.status_code == status
        assert message in json.dumps(response.json())
        assert not Group.objects.exists()

    def test_duplicate_path_is_a_400_with_the_field(self, client, tanuki, api_token):
        response = call(
            client, "post", "/api/v4/groups", api_token, {"name": "T", "path": "Tanuki"}
        )
        assert response.status_code == 400
        assert "already taken" in response.json()["message"]["path"][0]

    def test_users_are_created_by_administrators_only(self, client, api_token):
        data = {
            "email": "new@example.com",
            "username": "newbie",
            "name": "New Bie",
            "password": "a-long-enough-password-42",
        }
        assert call(client, "post", "/api/v4/users", api_token, data).status_code == 403
        _, admin_value = make_personal_token(AdminFactory(), scopes=["api"])
        created = call(client, "post", "/api/v4/users", admin_value, data)
        assert created.status_code == 201 and created.json()["username"] == "newbie"
        again = call(client, "post", "/api/v4/users", admin_value, data)
        assert again.status_code == 409
        assert again.json() == {"message": "Username has already been taken"}


class TestRoleFilters:
    """`min_access_level` and `owned` count roles inherited from groups above."""

    @pytest.fixture
    def roles(self, tanuki, owner):
        maintained = GroupFactory(path="maintained")
        MembershipFactory(user=owner, group=maintained, access_level=AccessLevel.MAINTAINER)
        guest_project = ProjectFactory(group=GroupFactory(path="elsewhere"), path="guest")
        MembershipFactory(user=owner, project=guest_project, access_level=AccessLevel.GUEST)
        developer_project = ProjectFactory(group=maintained, path="dev")
        GroupFactory(path="open", visibility="public")
        return {"maintained": maintained, "guest": guest_project, "dev": developer_project}

    def paths(self, client, path, token) -> list[str]:
        response = call(client, "get", path, token)
        assert response.status_code == 200
        return sorted(
            item.get("full_path") or item["path_with_namespace"] for item in response.json()
        )

    @pytest.mark.parametrize("query", ["min_access_level=50", "owned=true"])
    def test_groups_owned_by_inheritance_are_listed(self, client, roles, api_token, query):
        assert self.paths(client, f"/api/v4/groups?{query}", api_token) == [
            "tanuki",
            "tanuki/backend",
        ]

    def test_groups_at_least_maintainer(self, client, roles, api_token):
        assert self.paths(client, "/api/v4/groups?min_access_level=40", api_token) == [
            "maintained",
            "tanuki",
            "tanuki/backend",
        ]

    def test_owned_projects_exclude_ones_where_the_caller_is_only_guest(
        self, client, roles, api_token
    ):
        assert self.paths(client, "/api/v4/projects?owned=true", api_token) == [
            "tanuki/backend/api"
        ]
        everything = self.paths(client, "/api/v4/projects", api_token)
        assert "elsewhere/guest" in everything

    def test_projects_at_least_developer(self, client, roles, api_token):
        assert self.paths(client, "/api/v4/projects?min_access_level=30", api_token) == [
            "maintained/dev",
            "tanuki/backend/api",
        ]
        assert self.paths(client, "/api/v4/projects?min_access_level=10", api_token) == [
            "elsewhere/guest",
            "maintained/dev",
            "tanuki/backend/api",
        ]


class TestMembers:
    def test_add_change_remove_with_the_page_rules(self, client, tanuki, owner):
        maintainer = UserFactory(username="max")
        MembershipFactory(
            user=maintainer, group=tanuki["group"], access_level=AccessLevel.MAINTAINER
        )
        _, value = make_personal_token(maintainer, scopes=["api"])
        newbie = UserFactory(username="newbie")
        url = f"/api/v4/groups/{tanuki['group'].pk}/members"
        added = call(client, "post", url, value, {"user_id": newbie.pk, "access_level": 30})
        assert added.status_code == 201 and added.json()["access_level"] == 30
        assert (
            call(client, "post", url, value, {"user_id": newbie.pk, "access_level": 30}).status_code
            == 409
        )
        owner_grant = call(client, "post", url, value, {"username": "olga", "access_level": 50})
        assert owner_grant.status_code == 409  # olga is a member already
        other = UserFactory()
        refused = call(client, "post", url, value, {"user_id": other.pk, "access_level": 50})
        assert refused.status_code == 400
        assert refused.json()["message"]["access_level"] == [
            "Only Owners can grant the Owner role."
        ]
        changed = call(client, "put", f"{url}/{newbie.pk}", value, {"access_level": 40})
        assert changed.json()["access_level"] == 40
        touch_owner = call(client, "put", f"{url}/{owner.pk}", value, {"access_level": 10})
        assert touch_owner.status_code == 403
        assert call(client, "delete", f"{url}/{newbie.pk}", value).status_code == 204
        assert call(client, "get", f"{url}/{newbie.pk}", value).status_code == 404

    def test_put_takes_form_encoded_and_multipart_bodies(self, client, tanuki, api_token):
        dev = UserFactory(username="dev")
        MembershipFactory(user=dev, group=tanuki["group"], access_level=AccessLevel.DEVELOPER)
        url = f"/api/v4/groups/{tanuki['group'].pk}/members/{dev.pk}"
        headers = {"HTTP_PRIVATE_TOKEN": api_token, "RAW_URI": url}
        form = client.put(
            url, "access_level=40", content_type="application/x-www-form-urlencoded", **headers
        )
        assert (form.status_code, form.json()["access_level"]) == (200, 40)
        multipart = client.put(
            url, encode_multipart(BOUNDARY, {"access_level": "20"}), MULTIPART_CONTENT, **headers
        )
        assert (multipart.status_code, multipart.json()["access_level"]) == (200, 20)
        assert tanuki["group"].memberships.get(user=dev).access_level == AccessLevel.REPORTER

    @pytest.mark.parametrize("method", ["post", "put"])
    def test_a_malformed_multipart_body_is_a_json_400(self, client, tanuki, api_token, method):
        dev = UserFactory(username="dev")
        MembershipFactory(user=dev, group=tanuki["group"], access_level=AccessLevel.DEVELOPER)
        url = f"/api/v4/groups/{tanuki['group'].pk}/members"
        url += f"/{dev.pk}" if method == "put" else ""
        response = getattr(client, method)(
            url,
            b"access_level=40",
            content_type="multipart/form-data",  # no boundary
            HTTP_PRIVATE_TOKEN=api_token,
            RAW_URI=url,
        )
        assert response.status_code == 400
        assert response.json()["error"].startswith("The request body is not a valid form")
        assert tanuki["group"].memberships.get(user=dev).access_level == AccessLevel.DEVELOPER

    def test_members_all_has_inherited_ones_at_their_highest_role(
        self, client, tanuki, owner, api_token
    ):
        dev = UserFactory(username="dev")
        MembershipFactory(user=dev, group=tanuki["group"], access_level=AccessLevel.REPORTER)
        MembershipFactory(user=dev, project=tanuki["project"], access_level=AccessLevel.DEVELOPER)
        url = f"/api/v4/projects/{tanuki['project'].pk}/members"
        direct = call(client, "get", url, api_token).json()
        assert [(m["username"], m["access_level"]) for m in direct] == [("dev", 30)]
        everyone = call(client, "get", f"{url}/all", api_token).json()
        assert [(m["username"], m["access_level"]) for m in everyone] == [("dev", 30), ("olga", 50)]
        assert call(client, "get", f"{url}/all/{owner.pk}", api_token).json()["access_level"] == 50


class TestDeployTokens:
    def test_project_tokens_for_maintainers(self, client, tanuki):
        developer, maintainer = UserFactory(), UserFactory()
        MembershipFactory(user=developer, group=tanuki["group"], access_level=AccessLevel.DEVELOPER)
        MembershipFactory(
            user=maintainer, group=tanuki["group"], access_level=AccessLevel.MAINTAINER
        )
        url = f"/api/v4/projects/{tanuki['project'].pk}/deploy_tokens"
        data = {
            "name": "ci",
            "scopes": ["read_repository"],
            "expires_at": str(utc_today() + timedelta(3)),
        }
        _, dev_value = make_personal_token(developer, scopes=["api"])
        assert call(client, "post", url, dev_value, data).status_code == 403
        _, value = make_personal_token(maintainer, scopes=["api"])
        created = call(client, "post", url, value, data)
        assert created.status_code == 201
        body = created.json()
        assert body["token"].startswith("gldt-") and body["username"].startswith(
            "gitlab+deploy-token-"
        )
        listed = call(client, "get", url, value).json()
        assert "token" not in listed[0] and listed[0]["id"] == body["id"]
        detail = call(client, "get", f"{url}/{body['id']}", value).json()
        assert "token" not in detail and detail["scopes"] == ["read_repository"]
        assert call(client, "delete", f"{url}/{body['id']}", value).status_code == 204
        assert DeployToken.objects.get(pk=body["id"]).revoked
        assert call(client, "get", f"{url}?active=true", value).json() == []

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            ({"scopes": ["read_repository"]}, "name is missing"),
            ({"name": "x"}, "scopes is missing"),
            ({"name": "x", "scopes": ["api"]}, "Unknown scopes: api."),
            ({"name": "x", "scopes": []}, "Select at least one scope."),
            (
                {"name": "x", "scopes": ["read_repository"], "expires_at": "2001-01-01"},
                "Choose a date after today",
            ),
            (
                {"name": "x", "scopes": ["read_repository"], "expires_at": "tomorrow"},
                "expires_at is invalid",
            ),
            (
                {"name": "x", "scopes": "read_repository", "username": "bad name"},
                "may contain only",
            ),
        ],
    )
    def test_bad_deploy_token_input(self, client, tanuki, api_token, data, message):
        url = f"/api/v4/groups/{tanuki['group'].pk}/deploy_tokens"
        response = call(client, "post", url, api_token, data)
        assert response.status_code == 400
        assert message in json.dumps(response.json())
        assert not DeployToken.objects.exists()

    def test_expiry_is_a_date_or_a_date_and_time_and_answers_as_gitlab_does(
        self, client, tanuki, api_token
    ):
        url = f"/api/v4/projects/{tanuki['project'].pk}/deploy_tokens"
        day = utc_today() + timedelta(400)
        for given, stored in (
            (f"{day}", day),
            (f"{day}T08:00:00Z", day),
            (f"{day}T08:00:00.000Z", day),  # what GitLab itself sends
            (f"{day}T08:00", day),  # no offset: UTC
            (f"{day}T23:30:00-05:00", day + timedelta(1)),  # the UTC date
            (f"{day}T00:30:00+02:00", day - timedelta(1)),
        ):
            data = {"name": "ci", "scopes": ["read_repository"], "expires_at": given}
            created = call(client, "post", url, api_token, data)
            assert created.status_code == 201, given
            assert DeployToken.objects.get(pk=created.json()["id"]).expires_at == stored, given
            assert created.json()["expires_at"] == f"{stored}T00:00:00.000Z"
        listed = call(client, "get", url, api_token).json()
        assert listed[0]["expires_at"] == f"{day}T00:00:00.000Z"

    @pytest.mark.parametrize(
        "expires_at",
        [
            "2031-W01-1",  # a week date
            "2031-074",  # an ordinal date
            20310101,  # a number
            "20310101",  # the basic format
            "2031-01-01T08",  # no minutes
            "2031-02-30",  # no such day
            "2031-01-01T25:00:00Z",
            "2031-01-01T08:00:00+0500",
            "\u0662\u0660\u0663\u0661-01-01",  # not ASCII digits
            True,
            ["2031-01-01"],
            "9999-12-31T23:00:00-05:00",  # past the last date there is
        ],
    )
    def test_expiry_in_any_other_form_is_400(self, client, tanuki, api_token, expires_at):
        url = f"/api/v4/projects/{tanuki['project'].pk}/deploy_tokens"
        data = {"name": "ci", "scopes": ["read_repository"], "expires_at": expires_at}
        response = call(client, "post", url, api_token, data)
        assert response.status_code == 400
        assert response.json() == {
            "error": "expires_at is invalid: use a date (YYYY-MM-DD) or a date and time "
            "(YYYY-MM-DDTHH:MM:SSZ)"
        }
        assert not DeployToken.objects.exists()

    def test_group_tokens_need_owner_and_the_admin_list_needs_admin(self, client, tanuki):
        maintainer = UserFactory()
        MembershipFactory(
            user=maintainer, group=tanuki["group"], access_level=AccessLevel.MAINTAINER
        )
        _, value = make_personal_token(maintainer, scopes=["api"])
        url = f"/api/v4/groups/{tanuki['group'].pk}/deploy_tokens"
        assert call(client, "get", url, value).status_code == 403
        assert call(client, "get", "/api/v4/deploy_tokens", value).status_code == 403
        make_deploy_token(tanuki["group"])
        _, admin_value = make_personal_token(AdminFactory(), scopes=["read_api"])
        assert len(call(client, "get", "/api/v4/deploy_tokens", admin_value).json()) == 1


class TestPersonalTokens:
    def test_list_own_tokens_and_admin_filter(self, client, owner):
        _mine, value = make_personal_token(owner, scopes=["api"], name="mine")
        make_personal_token(UserFactory(), name="theirs")
        listed = call(client, "get", "/api/v4/personal_access_tokens", value).json()
        assert [token["name"] for token in listed] == ["mine"]
        assert "token" not in listed[0]
        _, admin_value = make_personal_token(AdminFactory(), scopes=["api"])
        filtered = call(
            client, "get", f"/api/v4/personal_access_tokens?user_id={owner.pk}", admin_value
        )
        assert [token["name"] for token in filtered.json()] == ["mine"]

    def test_other_users_tokens_are_401_for_non_administrators(self, client, owner):
        _mine, value = make_personal_token(owner, scopes=["api"], name="mine")
        other = UserFactory()
        make_personal_token(other, name="theirs")
        response = call(client, "get", f"/api/v4/personal_access_tokens?user_id={other.pk}", value)
        assert (response.status_code, response.json()) == (401, {"message": "401 Unauthorized"})
        own = call(client, "get", f"/api/v4/personal_access_tokens?user_id={owner.pk}", value)
        assert [token["name"] for token in own.json()] == ["mine"]

    def test_get_and_revoke_self_and_by_id(self, client, owner):
        token, value = make_personal_token(owner, scopes=["api"])
        other, _ = make_personal_token(owner, scopes=["read_user"], name="other")
        assert (
            call(client, "get", "/api/v4/personal_access_tokens/self", value).json()["id"]
            == token.pk
        )
        assert (
            call(client, "delete", f"/api/v4/personal_access_tokens/{other.pk}", value).status_code
            == 204
        )
        assert PersonalAccessToken.objects.get(pk=other.pk).revoked
        stranger, _ = make_personal_token(UserFactory())
        assert (
            call(client, "get", f"/api/v4/personal_access_tokens/{stranger.pk}", value).status_code
            == 404
        )
        assert (
            call(client, "delete", "/api/v4/personal_access_tokens/self", value).status_code == 204
        )
        assert call(client, "get", "/api/v4/user", value).status_code == 401

    def test_rotate_revokes_and_replaces_in_one_step(self, client, owner):
        token, value = make_personal_token(owner, scopes=["api"], name="ci")
        response = call(
            client, "post", f"/api/v4/personal_access_tokens/{token.pk}/rotate", value, {}
        )
        assert response.status_code == 200
        new = response.json()
        assert new["name"] == "ci" and new["scopes"] == ["api"] and new["token"] != value
        assert PersonalAccessToken.objects.get(pk=token.pk).revoked
        assert call(client, "get", "/api/v4/user", new["token"]).status_code == 200
        assert AuditEvent.objects.filter(action=AuditAction.PERSONAL_TOKEN_ROTATE).count() == 1

    def test_self_rotate_scope_rotates_only_itself(self, client, owner):
        _token, value = make_personal_token(owner, scopes=["self_rotate"])
        other, _ = make_personal_token(owner, scopes=["api"], name="other")
        assert (
            call(
                client, "post", f"/api/v4/personal_access_tokens/{other.pk}/rotate", value, {}
            ).status_code
            == 403
        )
        response = call(client, "post", "/api/v4/personal_access_tokens/self/rotate", value, {})
        assert response.status_code == 200 and response.json()["scopes"] == ["self_rotate"]

    def test_rotation_respects_the_maximum_lifetime_and_changes_nothing_on_error(
        self, client, owner
    ):
        token, value = make_personal_token(owner, scopes=["api"])
        instance = InstanceSettings.current()
        instance.personal_access_token_max_lifetime_days = 5
        instance.save()
        url = f"/api/v4/personal_access_tokens/{token.pk}/rotate"
        response = call(client, "post", url, value, {"expires_at": str(utc_today() + timedelta(9))})
        assert response.status_code == 400 and "no later than" in json.dumps(response.json())
        assert not PersonalAccessToken.objects.get(pk=token.pk).revoked
        assert PersonalAccessToken.objects.count() == 1
        # No date: the old token's year, capped by the maximum (issue 16).
        ok = call(client, "post", url, value, {})
        assert ok.status_code == 200
        assert ok.json()["expires_at"] == str(utc_today() + timedelta(5))

    @pytest.mark.parametrize("which", ["by_id", "self"])
    def test_rotation_changes_nothing_when_the_audit_write_fails(
        self, client, owner, monkeypatch, which
    ):
        from tokens_site import rotation

        token, value = make_personal_token(owner, scopes=["api"], name="ci")

        def audit_store_down(**kwargs):
            raise RuntimeError("the audit store is down")

        monkeypatch.setattr(rotation, "audit_event_record", audit_store_down)
        path = token.pk if which == "by_id" else "self"
        with pytest.raises(RuntimeError):
            call(client, "post", f"/api/v4/personal_access_tokens/{path}/rotate", value, {})
        assert not PersonalAccessToken.objects.get(pk=token.pk).revoked
        assert list(PersonalAccessToken.objects.values_list("pk", flat=True)) == [token.pk]
        monkeypatch.undo()
        assert call(client, "get", "/api/v4/user", value).status_code == 200

    def test_rotation_past_the_maximum_lifetime_by_one_day_is_400(self, client, owner):
        token, value = make_personal_token(owner, scopes=["api"])
        instance = InstanceSettings.current()
        instance.personal_access_token_max_lifetime_days = 5
        instance.save()
        url = f"/api/v4/personal_access_tokens/{token.pk}/rotate"
        too_late = str(utc_today() + timedelta(6))
        response = call(client, "post", url, value, {"expires_at": too_late})
        assert response.status_code == 400
        assert "Choose a date no later than" in response.json()["message"]["expires_at"][0]
        assert list(PersonalAccessToken.objects.values_list("pk", "revoked")) == [(token.pk, False)]

    def test_admin_creation_respects_the_maximum_lifetime(self, client, owner, no_required_expiry):
        _, admin_value = make_personal_token(AdminFactory(), scopes=["api"])
        instance = InstanceSettings.current()
        instance.personal_access_token_max_lifetime_days = 5
        instance.save()
        url = f"/api/v4/users/{owner.pk}/personal_access_tokens"
        for expires_at, message in (
            (None, "Enter an expiration date: this instance allows tokens for at most 5 days"),
            (str(utc_today() + timedelta(6)), "Choose a date no later than"),
        ):
            data = {"name": "bot", "scopes": ["read_api"]}
            if expires_at:
                data["expires_at"] = expires_at
            response = call(client, "post", url, admin_value, data)
            assert response.status_code == 400
            assert message in response.json()["message"]["expires_at"][0]
        assert not PersonalAccessToken.objects.filter(user=owner).exists()
        data = {
            "name": "bot",
            "scopes": ["read_api"],
            "expires_at": f"{utc_today() + timedelta(5)}T12:00:00Z",
        }
        created = call(client, "post", url, admin_value, data)
        assert created.status_code == 201
        assert created.json()["expires_at"] == str(utc_today() + timedelta(5))

    @pytest.mark.parametrize(
        ("data", "message"),
        [
            ({"scopes": ["api", "write_everything"]}, "Unknown scopes: write_everything."),
            ({"scopes": ["api"], "expires_at": "2001-01-01"}, "Choose a date after today"),
            ({"scopes": ["api"], "expires_at": "2031-W01-1"}, "expires_at is invalid"),
            ({"scopes": []}, "Select at least one scope."),
        ],
    )
    def test_bad_personal_token_input(self, client, owner, data, message):
        _, admin_value = make_personal_token(AdminFactory(), scopes=["api"])
        url = f"/api/v4/users/{owner.pk}/personal_access_tokens"
        response = call(client, "post", url, admin_value, {"name": "bot", **data})
        assert response.status_code == 400
        assert message in json.dumps(response.json())
        assert not PersonalAccessToken.objects.filter(user=owner).exists()

    def test_admin_creates_tokens_for_users(self, client, owner):
        _, admin_value = make_personal_token(AdminFactory(), scopes=["api"])
        url = f"/api/v4/users/{owner.pk}/personal_access_tokens"
        created = call(client, "post", url, admin_value, {"name": "bot", "scopes": ["read_api"]})
        assert created.status_code == 201 and created.json()["user_id"] == owner.pk
        bad = call(client, "post", url, admin_value, {"name": "bot", "scopes": ["sudo"]})
        assert bad.status_code == 400 and "sudo" in json.dumps(bad.json())
        _, user_value = make_personal_token(owner, scopes=["api"])
        assert (
            call(client, "post", url, user_value, {"name": "x", "scopes": ["api"]}).status_code
            == 403
        )


class TestPagination:
    def test_headers_and_link(self, client, owner, api_token):
        for n in range(5):
            GroupFactory(path=f"g{n}", owner=owner)
        response = call(client, "get", "/api/v4/groups?per_page=2&page=2", api_token)
        assert [group["path"] for group in response.json()] == ["g2", "g3"]
        assert (response["X-Total"], response["X-Total-Pages"], response["X-Page"]) == (
            "5",
            "3",
            "2",
        )
        assert (response["X-Next-Page"], response["X-Prev-Page"], response["X-Per-Page"]) == (
            "3",
            "1",
            "2",
        )
        assert (
            '<http://testserver/api/v4/groups?per_page=2&page=3>; rel="next"' in (response["Link"])
        )
        assert "private_token" not in response["Link"]

    @pytest.mark.parametrize("query", ["per_page=0", "per_page=abc", "page=0", "page=-1"])
    def test_out_of_range_is_400(self, client, owner, api_token, query):
        response = call(client, "get", f"/api/v4/groups?{query}", api_token)
        assert response.status_code == 400
        assert response.json()["error"].startswith(("per_page", "page"))

    @pytest.mark.parametrize("per_page", ["101", "100000"])
    def test_more_than_100_per_page_is_taken_as_100(self, client, owner, api_token, per_page):
        response = call(client, "get", f"/api/v4/groups?per_page={per_page}", api_token)
        assert (response.status_code, response["X-Per-Page"]) == (200, "100")


class TestHostileInput:
    """Input no client sends on purpose: a clear 4xx, never a 500."""

    @pytest.mark.parametrize("number", ["\u00b2", "\u0661", "1" * 30])
    def test_ids_that_are_digits_only_to_unicode_are_404(
        self, client, tanuki, owner, api_token, number
    ):
        project = f"/api/v4/projects/{tanuki['project'].pk}"
        paths = [
            f"/api/v4/users/{number}",
            f"/api/v4/groups/{number}",
            f"/api/v4/projects/{number}",
            f"{project}/members/{number}",
            f"{project}/deploy_tokens/{number}",
            f"/api/v4/personal_access_tokens/{number}",
            f"/api/v4/projects/{number}/packages/pypi/simple",
        ]
        for path in paths:
            response = call(client, "get", path, api_token)
            assert response.status_code in (401, 404), path
        _, sudo_value = make_personal_token(AdminFactory(), scopes=["api", "sudo"])
        response = call(client, "get", "/api/v4/user", sudo_value, HTTP_SUDO=number)
        assert response.status_code == 404

    @pytest.mark.parametrize(
        "query", ["page=--1", "page=%C2%B2", "page=99999999999999999999", "per_page=1e3"]
    )
    def test_malformed_or_huge_page_numbers_are_400(self, client, owner, api_token, query):
        response = call(client, "get", f"/api/v4/groups?{query}", api_token)
        assert response.status_code == 400
        assert "invalid" in response.json()["error"]

    def test_a_far_page_is_empty(self, client, owner, api_token):
        response = call(client, "get", "/api/v4/groups?page=999999999", api_token)
        assert (response.status_code, response.json()) == (200, [])

    def test_deeply_nested_json_is_400(self, client, owner, api_token):
        raw = b"[" * 100_000 + b"]" * 100_000
        response = call(client, "post", "/api/v4/groups", api_token, {}, raw=raw)
        assert response.status_code == 400
        assert not Group.objects.exists()

    def test_nul_in_url_query_or_field_is_400(self, client, tanuki, owner, api_token):
        for path in ("/api/v4/groups/tanuki%00", "/api/v4/groups?search=a%00"):
            response = call(client, "get", path, api_token)
            assert response.status_code == 400 and b"NUL" in response.content
        response = call(
            client, "post", "/api/v4/groups", api_token, {"name": "N\u0000", "path": "n"}
        )
        assert response.status_code == 400
        assert response.json()["error"].startswith("name is invalid")

    def test_basic_credentials_are_refused_not_ignored(self, client):
        public = ProjectFactory(
            group=GroupFactory(path="open", visibility="public"), visibility="public"
        )
        deploy, value = make_deploy_token(public)
        import base64

        basic = base64.b64encode(f"{deploy.username}:{value}".encode()).decode()
        assert call(client, "get", "/api/v4/projects").status_code == 200  # anonymous: public
        response = call(client, "get", "/api/v4/projects", HTTP_AUTHORIZATION=f"Basic {basic}")
        assert response.status_code == 401
        assert response.json() == {"message": f"401 Unauthorized - {API.basic_refusal}"}

    def test_answers_are_never_cached(self, client, tanuki, owner, api_token):
        deploy_tokens = f"/api/v4/projects/{tanuki['project'].pk}/deploy_tokens"
        created = call(
            client, "post", deploy_tokens, api_token, {"name": "ci", "scopes": ["read_repository"]}
        )
        rotated = call(client, "post", "/api/v4/personal_access_tokens/self/rotate", api_token, {})
        assert "token" in created.json() and "token" in rotated.json()
        for response in (created, rotated, call(client, "get", "/api/v4/user")):
            assert response["Cache-Control"] == "no-store"

    def test_only_administrators_search_users_by_email(self, client, owner, api_token):
        UserFactory(username="quiet", email="hidden-address@example.com")
        found = call(client, "get", "/api/v4/users?search=hidden-address", api_token)
        assert found.json() == []
        _, admin_value = make_personal_token(AdminFactory(), scopes=["api"])
        found = call(client, "get", "/api/v4/users?search=hidden-address", admin_value)
        assert [user["username"] for user in found.json()] == ["quiet"]


class TestQueryCounts:
    """List endpoints cost the same number of queries for 2 items as for 6 (no N+1). The
    token's lookup reads the address's ban in the same statement."""

    @pytest.fixture(autouse=True)
    def local_cache(self, settings):
        settings.CACHES = LOCAL_CACHE
        InstanceSettings.current()

    def count(self, client, path, token, queries, django_assert_num_queries) -> None:
        call(client, "get", path, token)  # warm: last used, compiled lookups
        with django_assert_num_queries(queries):
            assert call(client, "get", path, token).status_code == 200

    @pytest.mark.parametrize(
        ("path", "queries", "caller"),
        [
            # token; count; page; group names along the paths
            ("/api/v4/groups", 4, "owner"),
            ("/api/v4/projects", 4, "owner"),
            # ... plus the parent group
            ("/api/v4/groups/tanuki/subgroups", 5, "owner"),
            ("/api/v4/groups/tanuki%2Fbackend/projects", 5, "owner"),
            # token; group or project; count; page (members with their users)
            ("/api/v4/groups/tanuki/members", 4, "owner"),
            ("/api/v4/projects/tanuki%2Fbackend%2Fapi/members", 4, "owner"),
            # token; group or project; every membership up the tree, merged in memory
            ("/api/v4/groups/tanuki/members/all", 3, "owner"),
            ("/api/v4/groups/tanuki%2Fbackend/members/all", 3, "owner"),
            ("/api/v4/projects/tanuki%2Fbackend%2Fapi/members/all", 3, "owner"),
            # token; group or project; the caller's role; count; page
            ("/api/v4/groups/tanuki/deploy_tokens", 5, "owner"),
            ("/api/v4/projects/tanuki%2Fbackend%2Fapi/deploy_tokens", 5, "owner"),
            # token; count; page
            ("/api/v4/deploy_tokens", 3, "admin"),
            ("/api/v4/personal_access_tokens", 3, "owner"),
            ("/api/v4/personal_access_tokens", 3, "admin"),
            ("/api/v4/users", 3, "owner"),
            ("/api/v4/namespaces", 3, "owner"),
            # token; the user; count; page; group names along the paths
            ("/api/v4/users/{owner}/projects", 5, "owner"),
            # ... plus the group
            ("/api/v4/groups/tanuki/descendant_groups", 5, "owner"),
            ("/api/v4/groups/tanuki/projects?include_subgroups=true", 5, "owner"),
            # token; the user; count; page (with its groups and projects)
            ("/api/v4/users/{owner}/memberships", 4, "admin"),
            ("/api/v4/personal_access_tokens?sort=last_used_desc", 3, "owner"),
        ],
    )
    def test_no_query_per_item(
        self, client, tanuki, owner, api_token, path, queries, caller, django_assert_num_queries
    ):
        token = api_token if caller == "owner" else make_personal_token(AdminFactory())[1]

        def grow(n):
            for _ in range(n):
                GroupFactory(parent=tanuki["group"])
                ProjectFactory(group=tanuki["sub"])
                MembershipFactory(group=tanuki["group"], access_level=AccessLevel.GUEST)
                MembershipFactory(group=tanuki["sub"], access_level=AccessLevel.REPORTER)
                MembershipFactory(project=tanuki["project"], access_level=AccessLevel.DEVELOPER)
                make_deploy_token(tanuki["group"])
                make_deploy_token(tanuki["project"])
                make_personal_token(owner, scopes=["read_user"])
                MembershipFactory(user=owner, group=GroupFactory(), access_level=AccessLevel.GUEST)
                MembershipFactory(
                    user=owner, project=ProjectFactory(), access_level=AccessLevel.GUEST
                )

        path = path.format(owner=owner.pk)
        grow(2)
        self.count(client, path, token, queries, django_assert_num_queries)
        grow(4)
        self.count(client, path, token, queries, django_assert_num_queries)

    def test_current_user_loads_the_user_once(
        self, client, owner, api_token, django_assert_num_queries
    ):
        # token with the columns authentication needs; the rest of the user's row
        self.count(client, "/api/v4/user", api_token, 2, django_assert_num_queries)
        response = call(client, "get", "/api/v4/user", api_token).json()
        assert (response["email"], response["is_admin"]) == ("olga@example.com", False)
        assert response["created_at"] is not None
