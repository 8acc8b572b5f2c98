"""python-gitlab, unchanged, against the site under gunicorn: the calls that answered 404, 405
or something silently wrong before the API's parity work (issue: REST API v4 on Django REST
framework, at parity with what python-gitlab and Terraform users call)."""

import subprocess
from datetime import timedelta

import gitlab
import pytest
from django.utils import timezone
from gitlab.const import AccessLevel

from deploy_tokens.models import DeployToken
from personal_tokens.models import PersonalAccessToken
from tests.e2e.conftest import require_program
from tests.factories import (
    AdminFactory,
    GroupFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    make_deploy_token,
)
from tests.factories import make_personal_token as make_token
from tokens_site.models import Group, Project
from tokens_site.tokens import utc_today

pytestmark = pytest.mark.e2e


def client(server, token: str) -> gitlab.Gitlab:
    return gitlab.Gitlab(server.url, private_token=token, retry_transient_errors=False)


def ls_remote(server, full_path: str, username: str, secret: str) -> subprocess.CompletedProcess:
    """`git ls-remote` of a project's repository over HTTP with these credentials."""
    host = server.url.removeprefix("http://")
    return subprocess.run(
        [require_program("git"), "ls-remote", f"http://{username}:{secret}@{host}/{full_path}.git"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"GIT_TERMINAL_PROMPT": "0", "PATH": "/usr/bin:/bin", "HOME": "/nonexistent"},
        check=False,
    )


@pytest.fixture
def tree(transactional_db):
    """tanuki (public) > backend (internal) > api (private project), tanuki > web (public
    project), owned by olga; dev is a Developer of tanuki."""
    olga = UserFactory(username="olga", first_name="Olga")
    dev = UserFactory(username="dev", first_name="Dev", last_name="Eloper")
    tanuki = GroupFactory(name="Tanuki", path="tanuki", owner=olga, visibility="public")
    backend = GroupFactory(name="Backend", path="backend", parent=tanuki, visibility="internal")
    api = ProjectFactory(name="API", path="api", group=backend)
    web = ProjectFactory(name="Web", path="web", group=tanuki, visibility="public")
    MembershipFactory(user=dev, group=tanuki, access_level=AccessLevel.DEVELOPER)
    return {"olga": olga, "dev": dev, "tanuki": tanuki, "backend": backend, "api": api, "web": web}


def test_version_and_metadata(site_server, tree):
    gl = client(site_server, make_token(tree["olga"], scopes=["read_api"])[1])
    version, revision = gl.version()
    assert version == "17.6.0" and revision.startswith("tokens-")
    assert gl.http_get("/metadata")["version"] == version


def test_namespaces_list_get_and_search(site_server, tree):
    gl = client(site_server, make_token(tree["dev"], scopes=["read_api"])[1])
    listed = gl.namespaces.list(get_all=True)
    assert [(n.full_path, n.kind) for n in listed] == [
        ("tanuki/backend", "group"),
        ("tanuki", "group"),
    ]  # GitLab's default order: by name
    found = gl.namespaces.list(search="back", get_all=True)
    assert [n.full_path for n in found] == ["tanuki/backend"]
    one = gl.namespaces.get(tree["backend"].pk)
    assert (one.path, one.parent_id) == ("backend", tree["tanuki"].pk)
    assert gl.namespaces.get("tanuki/backend").id == tree["backend"].pk
    # Only the ones the caller belongs to: a stranger sees none.
    stranger = client(site_server, make_token(UserFactory(), scopes=["read_api"])[1])
    assert stranger.namespaces.list(get_all=True) == []


def test_descendant_groups_and_projects_of_subgroups(site_server, tree):
    deeper = GroupFactory(name="Deep", path="deep", parent=tree["backend"])
    ProjectFactory(name="Deep project", path="deep-project", group=deeper)
    gl = client(site_server, make_token(tree["olga"], scopes=["read_api"])[1])
    tanuki = gl.groups.get("tanuki")
    assert sorted(g.full_path for g in tanuki.descendant_groups.list(get_all=True)) == [
        "tanuki/backend",
        "tanuki/backend/deep",
    ]
    assert [g.path for g in tanuki.subgroups.list(get_all=True)] == ["backend"]
    assert [p.path for p in tanuki.projects.list(get_all=True)] == ["web"]
    everything = tanuki.projects.list(
        include_subgroups=True, get_all=True, order_by="path", sort="asc"
    )
    assert [p.path_with_namespace for p in everything] == [
        "tanuki/backend/api",
        "tanuki/backend/deep/deep-project",
        "tanuki/web",
    ]


def test_order_by_and_sort_and_newest_first(site_server, tree):
    gl = client(site_server, make_token(tree["olga"], scopes=["read_api"])[1])
    newest_first = [p.path for p in gl.projects.list(get_all=True)]
    assert newest_first == ["web", "api"]  # GitLab's default: created_at, desc
    by_name = gl.projects.list(get_all=True, order_by="name", sort="asc")
    assert [p.name for p in by_name] == ["API", "Web"]
    assert [g.name for g in gl.groups.list(get_all=True, order_by="id", sort="desc")] == [
        "Backend",
        "Tanuki",
    ]
    for bad, message in [
        ({"order_by": "bogus"}, "order_by does not have a valid value"),
        ({"sort": "sideways"}, "sort does not have a valid value"),
    ]:
        with pytest.raises(gitlab.GitlabListError) as refused:
            gl.projects.list(get_all=True, **bad)
        assert refused.value.response_code == 400
        assert refused.value.error_message == message


def test_members_query_and_access_level_checked(site_server, tree):
    gl = client(site_server, make_token(tree["olga"], scopes=["api"])[1])
    tanuki = gl.groups.get("tanuki", lazy=True)
    assert [m.username for m in tanuki.members.list(query="elop", get_all=True)] == ["dev"]
    assert [m.username for m in tanuki.members.list(query="olg", get_all=True)] == ["olga"]
    everyone = gl.projects.get("tanuki/backend/api", lazy=True).members_all
    assert [m.username for m in everyone.list(query="dev", get_all=True)] == ["dev"]
    with pytest.raises(gitlab.GitlabCreateError) as refused:
        tanuki.members.create({"user_id": UserFactory().pk, "access_level": 33})
    assert refused.value.response_code == 400
    assert refused.value.error_message == "access_level does not have a valid value"


def test_project_save_renames_and_keeps_repositories_and_tokens(site_server, tree):
    _, deploy_value = make_deploy_token(tree["api"], username="ci-bot")
    assert ls_remote(site_server, "tanuki/backend/api", "ci-bot", deploy_value).returncode == 0
    gl = client(site_server, make_token(tree["olga"], scopes=["api"])[1])
    project = gl.projects.get("tanuki/backend/api")
    project.name = "Public API"
    project.path = "public-api"
    project.description = "What others call"
    project.save()
    assert project.path_with_namespace == "tanuki/backend/public-api"
    again = gl.projects.get(project.id)
    assert (again.name, again.description) == ("Public API", "What others call")
    moved = ls_remote(site_server, "tanuki/backend/public-api", "ci-bot", deploy_value)
    assert moved.returncode == 0, moved.stderr
    assert ls_remote(site_server, "tanuki/backend/api", "ci-bot", deploy_value).returncode != 0

    # A path another project or subgroup has is refused, and nothing moves.
    project.path = "web"
    project.save()  # free: web is in tanuki, not in tanuki/backend
    ProjectFactory(path="taken", group=tree["backend"])
    project.path = "TAKEN"
    with pytest.raises(gitlab.GitlabUpdateError) as refused:
        project.save()
    assert refused.value.response_code == 400
    assert "path" in refused.value.error_message
    assert Project.objects.get(pk=project.id).full_path == "tanuki/backend/web"

    # More visible than its group (internal) is refused too.
    fresh = gl.projects.get(project.id)
    fresh.visibility = "public"
    with pytest.raises(gitlab.GitlabUpdateError) as refused:
        fresh.save()
    assert refused.value.response_code == 400
    fresh.visibility = "internal"
    fresh.save()
    assert gl.projects.get(project.id).visibility == "internal"


def test_group_save_renames_everything_below(site_server, tree):
    _, deploy_value = make_deploy_token(tree["tanuki"], username="group-bot")
    gl = client(site_server, make_token(tree["olga"], scopes=["api"])[1])
    group = gl.groups.get("tanuki")
    group.path = "kitsune"
    group.name = "Kitsune"
    group.save()
    assert (group.full_path, group.name) == ("kitsune", "Kitsune")
    assert gl.projects.get("kitsune/backend/api").id == tree["api"].pk
    assert gl.groups.get("kitsune/backend").full_path == "kitsune/backend"
    cloned = ls_remote(site_server, "kitsune/backend/api", "group-bot", deploy_value)
    assert cloned.returncode == 0, cloned.stderr

    for reserved in ["admin", "api", "-"]:
        group.path = reserved
        with pytest.raises(gitlab.GitlabUpdateError) as refused:
            group.save()
        assert refused.value.response_code == 400
    assert sorted(Project.objects.values_list("full_path", flat=True)) == [
        "kitsune/backend/api",
        "kitsune/web",
    ]
    sub = gl.groups.get("kitsune/backend")
    sub.visibility = "public"  # more visible than kitsune? kitsune is public: allowed
    sub.save()
    top = gl.groups.get("kitsune")
    top.visibility = "private"  # below a public subgroup and project: refused
    with pytest.raises(gitlab.GitlabUpdateError) as refused:
        top.save()
    assert refused.value.response_code == 400
    assert Group.objects.get(pk=tree["tanuki"].pk).visibility == "public"


def test_a_developer_cannot_rename_or_delete(site_server, tree):
    gl = client(site_server, make_token(tree["dev"], scopes=["api"])[1])
    project = gl.projects.get("tanuki/web")
    project.name = "Mine now"
    with pytest.raises(gitlab.GitlabUpdateError) as refused:
        project.save()
    assert refused.value.response_code == 403
    with pytest.raises(gitlab.GitlabDeleteError) as refused:
        project.delete()
    assert refused.value.response_code == 403
    assert Project.objects.filter(pk=tree["web"].pk, name="Web").exists()


def test_project_and_group_delete_take_their_repositories(site_server, tree):
    gl = client(site_server, make_token(tree["olga"], scopes=["api"])[1])
    web_repository = tree["web"].repository_path
    api_repository = tree["api"].repository_path
    assert web_repository.exists() and api_repository.exists()
    gl.projects.delete(tree["web"].pk)
    assert not Project.objects.filter(pk=tree["web"].pk).exists()
    assert not web_repository.exists()
    with pytest.raises(gitlab.GitlabGetError):
        gl.projects.get("tanuki/web")

    gl.groups.get("tanuki").delete()
    assert not Group.objects.filter(pk__in=[tree["tanuki"].pk, tree["backend"].pk]).exists()
    assert not api_repository.exists()
    assert gl.groups.list(get_all=True) == []


def test_user_save_block_and_unblock(site_server, tree):
    admin = client(site_server, make_token(AdminFactory(), scopes=["api"])[1])
    _, dev_value = make_token(tree["dev"], scopes=["read_api"])
    as_dev = client(site_server, dev_value)
    as_dev.auth()

    user = admin.users.get(tree["dev"].pk)
    user.name = "Devon Eloper"
    user.email = "devon@example.com"
    user.save()
    again = admin.users.get(tree["dev"].pk)
    assert (again.name, again.email) == ("Devon Eloper", "devon@example.com")

    assert user.block() is True
    assert admin.users.get(tree["dev"].pk).state == "blocked"
    with pytest.raises(gitlab.GitlabAuthenticationError):  # every token stops at once
        client(site_server, dev_value).auth()
    assert user.unblock() is True
    client(site_server, dev_value).auth()

    # Only administrators block.
    with pytest.raises(gitlab.GitlabBlockError) as refused:
        as_dev.users.get(tree["olga"].pk).block()
    assert refused.value.response_code == 403


def test_a_users_projects_and_memberships(site_server, tree):
    admin = client(site_server, make_token(AdminFactory(), scopes=["api"])[1])
    dev = admin.users.get(tree["dev"].pk)
    assert sorted(p.path_with_namespace for p in dev.projects.list(get_all=True)) == [
        "tanuki/backend/api",
        "tanuki/web",
    ]
    memberships = dev.memberships.list(get_all=True)
    assert [(m.source_id, m.source_type, m.access_level) for m in memberships] == [
        (tree["tanuki"].pk, "Namespace", AccessLevel.DEVELOPER)
    ]
    assert dev.memberships.list(type="Project", get_all=True) == []
    # Someone else sees the projects they may see, and no memberships.
    stranger = client(site_server, make_token(UserFactory(), scopes=["read_api"])[1])
    seen = stranger.users.get(tree["dev"].pk, lazy=True).projects.list(get_all=True)
    assert [p.path_with_namespace for p in seen] == ["tanuki/web"]
    with pytest.raises(gitlab.GitlabListError) as refused:
        stranger.users.get(tree["dev"].pk, lazy=True).memberships.list(get_all=True)
    assert refused.value.response_code == 403


def test_personal_token_filters_sort_and_description(site_server, tree):
    olga = tree["olga"]
    old, _ = make_token(olga, scopes=["read_api"], name="old")
    PersonalAccessToken.objects.filter(pk=old.pk).update(
        created_at=old.created_at - timedelta(days=40), expires_at=utc_today() + timedelta(5)
    )
    make_token(olga, scopes=["read_api"], name="new")
    gl = client(site_server, make_token(olga, scopes=["api"], name="admin-less")[1])
    since = (utc_today() - timedelta(days=10)).isoformat()
    assert sorted(t.name for t in gl.personal_access_tokens.list(created_after=since)) == [
        "admin-less",
        "new",
    ]
    assert [t.name for t in gl.personal_access_tokens.list(created_before=since)] == ["old"]
    soon = (utc_today() + timedelta(days=10)).isoformat()
    assert [t.name for t in gl.personal_access_tokens.list(expires_before=soon)] == ["old"]
    by_name = gl.personal_access_tokens.list(sort="name_asc", get_all=True)
    assert [t.name for t in by_name] == ["admin-less", "new", "old"]
    newest = gl.personal_access_tokens.list(get_all=True)  # created_desc by default
    assert newest[-1].name == "old"
    with pytest.raises(gitlab.GitlabListError) as refused:
        gl.personal_access_tokens.list(sort="sideways")
    assert refused.value.response_code == 400

    admin = client(site_server, make_token(AdminFactory(), scopes=["api"])[1])
    created = admin.users.get(olga.pk, lazy=True).personal_access_tokens.create(
        {
            "name": "described",
            "scopes": ["read_api"],
            "expires_at": soon,
            "description": "Nightly export to the warehouse",
        }
    )
    assert created.description == "Nightly export to the warehouse"
    assert gl.personal_access_tokens.get(created.id).description == created.description

    project = gl.projects.get("tanuki/web", lazy=True)
    deploy = project.deploytokens.create(
        {"name": "ci", "scopes": ["read_repository"], "description": "For the runners"}
    )
    assert deploy.description == "For the runners"
    assert DeployToken.objects.get(pk=deploy.id).description == "For the runners"


@pytest.mark.parametrize("scope", ["read_user", "self_rotate"])
def test_any_token_sees_and_revokes_itself(site_server, tree, scope):
    token, value = make_token(tree["olga"], scopes=[scope])
    gl = client(site_server, value)
    itself = gl.personal_access_tokens.get("self")
    assert (itself.id, itself.scopes) == (token.pk, [scope])
    itself.delete()
    assert PersonalAccessToken.objects.get(pk=token.pk).revoked
    with pytest.raises(gitlab.GitlabAuthenticationError):
        gl.personal_access_tokens.get("self")


def test_self_service_token_is_limited_to_self_rotate(site_server, tree):
    gl = client(site_server, make_token(tree["olga"], scopes=["api"])[1])
    expires = (utc_today() + timedelta(days=30)).isoformat()
    created = gl.http_post(
        "/user/personal_access_tokens",
        post_data={"name": "rotator", "scopes": ["self_rotate"], "expires_at": expires},
    )
    assert created["scopes"] == ["self_rotate"] and created["token"].startswith("glpat-")
    assert created["user_id"] == tree["olga"].pk
    rotated = client(site_server, created["token"]).personal_access_tokens.rotate("self")
    assert rotated["name"] == "rotator"
    with pytest.raises(gitlab.GitlabHttpError) as refused:
        gl.http_post(
            "/user/personal_access_tokens",
            post_data={"name": "wide", "scopes": ["api"], "expires_at": expires},
        )
    assert refused.value.response_code == 400
    assert not PersonalAccessToken.objects.filter(name="wide").exists()


def test_deploy_token_rotation_through_raw_http(site_server, tree):
    """Issue 16: deploy tokens rotate (GitLab cannot): `gl.http_post` to the rotate endpoint
    gives the new value once, under the same username; git takes it at once and refuses the
    old one."""
    _, olga_token = make_token(tree["olga"], scopes=["api"])
    old, old_value = make_deploy_token(
        tree["api"], name="ci", username="ci-bot", expires_at=utc_today() + timedelta(days=20)
    )
    assert ls_remote(site_server, "tanuki/backend/api", "ci-bot", old_value).returncode == 0
    gl = client(site_server, olga_token)
    rotated = gl.http_post(f"/projects/{tree['api'].pk}/deploy_tokens/{old.pk}/rotate")
    assert rotated["username"] == "ci-bot" and rotated["name"] == "ci"
    assert rotated["token"].startswith("gldt-") and rotated["id"] != old.pk
    assert rotated["expires_at"].startswith(str(utc_today() + timedelta(days=20)))
    assert ls_remote(site_server, "tanuki/backend/api", "ci-bot", rotated["token"]).returncode == 0
    refused = ls_remote(site_server, "tanuki/backend/api", "ci-bot", old_value)
    assert refused.returncode != 0
    with pytest.raises(gitlab.GitlabHttpError) as again:  # the old one is revoked now
        gl.http_post(f"/projects/{tree['api'].pk}/deploy_tokens/{old.pk}/rotate")
    assert again.value.response_code == 400
    assert DeployToken.objects.filter(username="ci-bot", revoked=False).count() == 1


def clone(server, full_path: str, username: str, secret: str, into) -> subprocess.CompletedProcess:
    """A real `git clone` of a project's repository over HTTP with these credentials."""
    host = server.url.removeprefix("http://")
    return subprocess.run(
        [
            require_program("git"),
            "clone",
            f"http://{username}:{secret}@{host}/{full_path}.git",
            str(into),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={"GIT_TERMINAL_PROMPT": "0", "PATH": "/usr/bin:/bin", "HOME": "/nonexistent"},
        check=False,
    )


def test_deploy_token_rotation_with_an_overlap(site_server, tree, tmp_path):
    """Issue 16: with `overlap_hours`, the old value keeps cloning until the overlap ends (the
    API says until when); the new one works at once; after the overlap the old one is refused."""
    _, olga_token = make_token(tree["olga"], scopes=["api"])
    old, old_value = make_deploy_token(tree["api"], name="ci", username="ci-bot")
    gl = client(site_server, olga_token)
    path = f"/projects/{tree['api'].pk}/deploy_tokens/{old.pk}/rotate"
    rotated = gl.http_post(path, post_data={"overlap_hours": 2})
    assert rotated["rotated_at"] and rotated["previous_expires_at"] > rotated["rotated_at"]
    repo = "tanuki/backend/api"
    assert clone(site_server, repo, "ci-bot", old_value, tmp_path / "old").returncode == 0
    assert clone(site_server, repo, "ci-bot", rotated["token"], tmp_path / "new").returncode == 0
    listed = {t["id"]: t for t in gl.http_list(f"/projects/{tree['api'].pk}/deploy_tokens")}
    assert listed[old.pk]["works_until"] == rotated["previous_expires_at"]
    assert listed[old.pk]["active"] is True
    # Two hours later (the clock of the server's database moved by moving the overlap's end).
    DeployToken.objects.filter(pk=old.pk).update(works_until=timezone.now() - timedelta(seconds=1))
    refused = clone(site_server, repo, "ci-bot", old_value, tmp_path / "late")
    assert refused.returncode != 0 and "HTTP Basic: Access denied" in refused.stderr
    assert clone(site_server, repo, "ci-bot", rotated["token"], tmp_path / "again").returncode == 0
    inactive = gl.http_list(
        f"/projects/{tree['api'].pk}/deploy_tokens", query_data={"state": "inactive"}
    )
    assert [t["id"] for t in inactive] == [old.pk]


def test_reuse_of_a_rotated_out_value_revokes_the_family(site_server, tree):
    """Issue 16 (as GitLab 16.3): a personal token rotated without overlap, then its old value
    presented to rotate again: 401, and every token made from it is revoked."""
    _, first = make_token(tree["olga"], name="ci", scopes=["api"])
    second = client(site_server, first).http_post("/personal_access_tokens/self/rotate")["token"]
    third = client(site_server, second).http_post("/personal_access_tokens/self/rotate")["token"]
    assert client(site_server, third).http_get("/user")["username"] == "olga"
    with pytest.raises(gitlab.GitlabAuthenticationError):  # anything else: a plain 401
        client(site_server, first).http_get("/user")
    assert client(site_server, third).http_get("/user")["username"] == "olga"
    with pytest.raises(gitlab.GitlabAuthenticationError):
        client(site_server, first).http_post("/personal_access_tokens/self/rotate")
    with pytest.raises(gitlab.GitlabAuthenticationError):
        client(site_server, third).http_get("/user")
    assert not PersonalAccessToken.objects.filter(name="ci").active().exists()


def test_token_information_api_through_requests_and_raw_http(site_server, tree):
    """Issue 17: `POST /admin/token` tells an administrator what a token is, `DELETE` revokes
    it; anyone else is refused."""
    import requests

    root = AdminFactory(username="root")
    _, admin_token = make_token(root, scopes=["api"])
    _, leaked = make_token(tree["dev"], name="laptop", scopes=["read_api"])
    gl = client(site_server, admin_token)
    info = gl.http_post("/admin/token", post_data={"token": leaked})
    assert (info["kind"], info["owner"], info["state"]) == (
        "personal access token",
        "user dev",
        "active",
    )
    _, dev_token = make_token(tree["dev"], scopes=["api"])
    with pytest.raises(gitlab.GitlabHttpError) as refused:
        client(site_server, dev_token).http_post("/admin/token", post_data={"token": leaked})
    assert refused.value.response_code == 403
    answer = requests.delete(
        f"{site_server.url}/api/v4/admin/token",
        json={"token": leaked},
        headers={"PRIVATE-TOKEN": admin_token},
        timeout=30,
    )
    assert answer.status_code == 204
    with pytest.raises(gitlab.GitlabAuthenticationError):
        client(site_server, leaked).http_get("/user")
