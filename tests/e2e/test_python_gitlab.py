"""python-gitlab, unchanged, against the site under gunicorn: the documented calls for users,
groups, projects, members, deploy tokens and personal access tokens."""

import base64
import json
import urllib.request
import warnings
from datetime import timedelta

import gitlab
import pytest
from gitlab.const import AccessLevel

from deploy_tokens.models import DeployToken
from personal_tokens.models import PersonalAccessToken
from tests.factories import (
    AdminFactory,
    GroupFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    make_deploy_token,
)
from tests.factories import make_personal_token as make_token
from tokens_site.tokens import utc_today

pytestmark = pytest.mark.e2e
INSUFFICIENT_SCOPE = "The request requires higher privileges than provided by the access token."


def client(server, token: str) -> gitlab.Gitlab:
    return gitlab.Gitlab(server.url, private_token=token, retry_transient_errors=False)


def whoami(server, username: str, secret: str) -> dict:
    request = urllib.request.Request(f"{server.url}/-/whoami")  # noqa: S310 (http only)
    credentials = base64.b64encode(f"{username}:{secret}".encode()).decode()
    request.add_header("Authorization", f"Basic {credentials}")
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.load(response)


def test_administrator_builds_users_groups_projects_and_members(site_server, transactional_db):
    admin = AdminFactory(username="root")
    gl = client(site_server, make_token(admin, scopes=["api"])[1])
    gl.auth()
    assert gl.user.username == "root" and gl.user.is_admin is True

    dev = gl.users.create(
        {
            "email": "dev@example.com",
            "username": "dev",
            "name": "Dev Eloper",
            "password": "a-long-enough-password-42",
        }
    )
    assert gl.users.get(dev.id).username == "dev"
    assert [user.username for user in gl.users.list(username="dev")] == ["dev"]

    group = gl.groups.create({"name": "Tanuki", "path": "tanuki"})
    sub = gl.groups.create({"name": "Backend", "path": "backend", "parent_id": group.id})
    project = gl.projects.create({"name": "API", "path": "api", "namespace_id": sub.id})
    assert project.path_with_namespace == "tanuki/backend/api"
    assert project.http_url_to_repo == f"{site_server.url}/tanuki/backend/api.git"
    assert gl.groups.get("tanuki/backend").id == sub.id  # URL-encoded full path
    assert gl.projects.get("tanuki/backend/api").id == project.id
    assert [g.path for g in group.subgroups.list(get_all=True)] == ["backend"]
    assert [p.path for p in sub.projects.list(get_all=True)] == ["api"]

    member = group.members.create({"user_id": dev.id, "access_level": AccessLevel.DEVELOPER})
    member.access_level = AccessLevel.MAINTAINER
    member.save()
    assert group.members.get(dev.id).access_level == AccessLevel.MAINTAINER
    inherited = {m.username: m.access_level for m in project.members_all.list(get_all=True)}
    assert inherited["dev"] == AccessLevel.MAINTAINER
    project_member = project.members.create({"user_id": dev.id, "access_level": 50})
    project.members.delete(project_member.id)
    assert [m.username for m in project.members.list(get_all=True)] == []
    with pytest.raises(gitlab.GitlabCreateError) as refused:
        group.members.create({"user_id": dev.id, "access_level": AccessLevel.GUEST})
    assert refused.value.response_code == 409


def test_maintainer_and_owner_manage_deploy_tokens(site_server, transactional_db):
    owner = UserFactory(username="olga")
    maintainer = UserFactory(username="max")
    group = GroupFactory(path="tanuki", owner=owner)
    project = ProjectFactory(group=group, path="app")
    MembershipFactory(user=maintainer, group=group, access_level=AccessLevel.MAINTAINER)

    gl = client(site_server, make_token(maintainer, scopes=["api"])[1])
    remote = gl.projects.get("tanuki/app", lazy=True)
    created = remote.deploytokens.create(
        {"name": "ci", "scopes": ["read_repository"], "username": "ci-bot"}
    )
    assert created.token.startswith("gldt-") and created.username == "ci-bot"
    assert whoami(site_server, "ci-bot", created.token)["kind"] == "deploy_token"
    assert [token.name for token in remote.deploytokens.list(get_all=True)] == ["ci"]
    assert remote.deploytokens.get(created.id).scopes == ["read_repository"]
    remote.deploytokens.delete(created.id)
    assert remote.deploytokens.list(get_all=True, active=True) == []
    with pytest.raises(gitlab.GitlabListError) as refused:
        gl.groups.get("tanuki", lazy=True).deploytokens.list(get_all=True)
    assert refused.value.response_code == 403  # group tokens are for Owners

    gl_owner = client(site_server, make_token(owner, scopes=["api"])[1])
    remote_group = gl_owner.groups.get("tanuki", lazy=True)
    group_token = remote_group.deploytokens.create(
        {"name": "registry", "scopes": ["read_registry", "write_registry"]}
    )
    assert group_token.token.startswith("gldt-")
    assert [t.name for t in remote_group.deploytokens.list(get_all=True)] == ["registry"]
    remote_group.deploytokens.delete(group_token.id)
    assert project.deploy_tokens.count() == 1

    # GitLab documents a date and time for the expiry, and answers with one.
    day = utc_today() + timedelta(30)
    dated = remote.deploytokens.create(
        {"name": "dated", "scopes": ["read_repository"], "expires_at": f"{day}T08:00:00Z"}
    )
    assert dated.expires_at == f"{day}T00:00:00.000Z"
    assert DeployToken.objects.get(pk=dated.id).expires_at == day


def test_administrator_lists_deploy_tokens_and_creates_tokens_for_users(
    site_server, transactional_db
):
    make_deploy_token(ProjectFactory(), name="project-token")
    make_deploy_token(GroupFactory(), name="group-token")
    user = UserFactory(username="bot")
    gl = client(site_server, make_token(AdminFactory(), scopes=["api"])[1])
    assert sorted(t.name for t in gl.deploytokens.list(get_all=True)) == [
        "group-token",
        "project-token",
    ]

    expires_at = str(utc_today() + timedelta(30))
    created = gl.users.get(user.id).personal_access_tokens.create(
        {"name": "automation", "scopes": ["read_api"], "expires_at": expires_at}
    )
    assert (created.user_id, created.scopes, created.expires_at) == (
        user.id,
        ["read_api"],
        expires_at,
    )
    as_bot = client(site_server, created.token)
    as_bot.auth()
    assert as_bot.user.username == "bot"
    with pytest.raises(gitlab.GitlabListError) as refused:
        client(site_server, make_token(user, scopes=["api"])[1]).deploytokens.list(get_all=True)
    assert refused.value.response_code == 403


def test_personal_tokens_list_rotate_revoke_and_self_rotate(site_server, transactional_db):
    user = UserFactory(username="pat")
    token, value = make_token(user, scopes=["api"], name="laptop")
    make_token(user, scopes=["read_user"], name="reader")
    gl = client(site_server, value)
    names = sorted(t.name for t in gl.personal_access_tokens.list(get_all=True))
    assert names == ["laptop", "reader"]
    reader = next(t for t in gl.personal_access_tokens.list(get_all=True) if t.name == "reader")
    old_id = reader.id
    rotated = reader.rotate()  # the object becomes the new token
    assert rotated["name"] == "reader" and rotated["token"] != value
    assert reader.id == rotated["id"] != old_id
    assert PersonalAccessToken.objects.get(pk=old_id).revoked
    gl.personal_access_tokens.delete(rotated["id"])
    assert PersonalAccessToken.objects.get(pk=rotated["id"]).revoked

    _, self_value = make_token(user, scopes=["self_rotate"], name="rotating")
    rotating = client(site_server, self_value)
    new = rotating.personal_access_tokens.rotate("self")
    assert new["name"] == "rotating" and new["scopes"] == ["self_rotate"]
    newer = client(site_server, new["token"]).personal_access_tokens.rotate("self")
    # The old value is revoked; presented to rotate again, it is a reuse (issue 16, as GitLab
    # 16.3): the whole family is revoked, the newest value too.
    with pytest.raises(gitlab.GitlabAuthenticationError):
        client(site_server, self_value).personal_access_tokens.rotate("self")
    with pytest.raises(gitlab.GitlabAuthenticationError):
        client(site_server, newer["token"]).personal_access_tokens.get("self")

    current = gl.personal_access_tokens.get("self")
    assert current.id == token.pk
    current.delete()
    with pytest.raises(gitlab.GitlabAuthenticationError):
        client(site_server, value).auth()


def test_scopes_and_credential_kinds_are_enforced(site_server, transactional_db):
    user = UserFactory()
    GroupFactory(path="mine", owner=user)
    read_api = client(site_server, make_token(user, scopes=["read_api"])[1])
    assert [g.path for g in read_api.groups.list(get_all=True)] == ["mine"]
    with pytest.raises(gitlab.GitlabCreateError) as refused:
        read_api.groups.create({"name": "New", "path": "new"})
    assert refused.value.response_code == 403
    assert refused.value.error_message == "insufficient_scope"
    assert json.loads(refused.value.response_body) == {
        "error": "insufficient_scope",
        "error_description": INSUFFICIENT_SCOPE,
        "scope": "api",
    }

    read_user = client(site_server, make_token(user, scopes=["read_user"])[1])
    read_user.auth()
    with pytest.raises(gitlab.GitlabListError) as refused:
        read_user.projects.list(get_all=True)
    assert refused.value.response_code == 403
    assert json.loads(refused.value.response_body) == {
        "error": "insufficient_scope",
        "error_description": INSUFFICIENT_SCOPE,
        "scope": "api read_api",
    }

    _deploy, deploy_value = make_deploy_token(ProjectFactory())
    with pytest.raises(gitlab.GitlabAuthenticationError):
        client(site_server, deploy_value).auth()


def test_sudo_only_with_an_administrators_sudo_token(site_server, transactional_db):
    alice = UserFactory(username="alice")
    GroupFactory(path="alices", owner=alice)
    GroupFactory(path="others")
    admin = AdminFactory()
    sudo = client(site_server, make_token(admin, scopes=["api", "sudo"])[1])
    assert [g.path for g in sudo.groups.list(get_all=True, sudo="alice")] == ["alices"]
    assert len(sudo.groups.list(get_all=True)) == 2  # as the administrator
    plain_admin = client(site_server, make_token(admin, scopes=["api"])[1])
    with pytest.raises(gitlab.GitlabListError) as refused:
        plain_admin.groups.list(get_all=True, sudo="alice")
    assert refused.value.response_code == 403


def test_pagination_across_pages_with_get_all_and_iterator(site_server, transactional_db):
    user = UserFactory()
    for n in range(23):
        GroupFactory(path=f"group-{n:02d}", owner=user)
    gl = client(site_server, make_token(user, scopes=["read_api"])[1])
    everything = gl.groups.list(get_all=True, per_page=10)
    assert [g.path for g in everything] == [f"group-{n:02d}" for n in range(23)]
    iterated = gl.groups.list(iterator=True, per_page=7)
    assert len(list(iterated)) == 23 and iterated.total == 23 and iterated.total_pages == 4
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first_page = gl.groups.list()
    assert len(first_page) == 20 and any("get_all=True" in str(w.message) for w in caught)
