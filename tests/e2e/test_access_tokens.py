"""Project and group access tokens with the real clients against the site under gunicorn:
python-gitlab manages them, and git, twine, pip and skopeo use them as the bot member they
stand for, with its role and scopes, on its own project or group only."""

import json
from datetime import timedelta

import gitlab
import pytest

from personal_tokens.models import PersonalAccessToken
from tests.e2e import test_registry
from tests.e2e.conftest import git, require_program, url
from tests.e2e.test_packages import pip_install, twine_upload
from tests.e2e.test_registry import build_oci_image, pull, push
from tests.factories import (
    GroupFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    make_access_token,
    make_personal_token,
)
from tests.wheels import build_sdist, build_wheel
from tokens_site.models import AccessLevel, Bot, Membership
from tokens_site.packages.models import PackageFile
from tokens_site.tokens import utc_today

pytestmark = pytest.mark.e2e

# The registry tests' docker-registry, started and configured as they do it.
registry = test_registry.registry

LIFETIME_DAYS = 30


def in_days(days: int) -> str:
    return str(utc_today() + timedelta(days=days))


def client(server, token: str) -> gitlab.Gitlab:
    return gitlab.Gitlab(server.url, private_token=token, retry_transient_errors=False)


def seed(project) -> None:
    """One commit on main in the project's bare repository."""
    require_program("git")
    work = project.repository_path.parent / f"seed-{project.pk}"
    git("init", "-q", "-b", "main", str(work))
    (work / "README.md").write_text(f"# {project.name}\n")
    git("add", "README.md", cwd=work)
    git("commit", "-q", "-m", "Initial commit", cwd=work)
    git("push", "-q", str(project.repository_path), "main", cwd=work)


def refused_as_unauthenticated(server, value: str, project) -> bool:
    """Whether the API answers 401 to `value` (revoked, rotated away or unknown)."""
    try:
        client(server, value).projects.get(project.pk)
    except gitlab.GitlabAuthenticationError as error:
        return error.response_code == 401
    return False


@pytest.fixture
def tanuki(transactional_db):
    """tanuki (Owner olga, Maintainer max, Developer dev) / backend / api, and elsewhere/other."""
    owner = UserFactory(username="olga")
    maintainer = UserFactory(username="max")
    developer = UserFactory(username="dev")
    group = GroupFactory(path="tanuki", owner=owner)
    project = ProjectFactory(group=GroupFactory(parent=group, path="backend"), path="api")
    other = ProjectFactory(group=GroupFactory(path="elsewhere"), path="other")
    MembershipFactory(user=maintainer, group=group, access_level=AccessLevel.MAINTAINER)
    MembershipFactory(user=developer, group=group, access_level=AccessLevel.DEVELOPER)
    return {
        "owner": owner,
        "maintainer": maintainer,
        "developer": developer,
        "group": group,
        "project": project,
        "other": other,
    }


@pytest.mark.parametrize(
    ("kind", "manager"), [("project", "maintainer"), ("group", "owner")], ids=["project", "group"]
)
def test_manager_creates_lists_gets_rotates_and_revokes_access_tokens_with_python_gitlab(
    site_server, tanuki, kind, manager
):
    source, project = tanuki[kind], tanuki["project"]
    _, manager_value = make_personal_token(tanuki[manager], scopes=["api"])
    gl = client(site_server, manager_value)
    remote = (gl.projects if kind == "project" else gl.groups).get(source.pk, lazy=True)
    expires_at = in_days(LIFETIME_DAYS)

    created = remote.access_tokens.create(
        {
            "name": "ci",
            "scopes": ["api"],
            "access_level": AccessLevel.DEVELOPER,
            "expires_at": expires_at,
            "description": "For CI",
        }
    )
    assert created.token.startswith("glpat-")
    assert (created.name, created.scopes, created.access_level) == ("ci", ["api"], 30)
    assert (created.expires_at, created.description, created.active) == (
        expires_at,
        "For CI",
        True,
    )
    bot = Bot.objects.get(user_id=created.user_id)
    assert bot.source == source
    assert bot.user.username.startswith(f"{kind}_{source.pk}_bot_")
    assert Membership.objects.get(user=bot.user).access_level == AccessLevel.DEVELOPER
    # The token acts as its bot, on the project (for a group token: in a subgroup).
    as_bot = client(site_server, created.token)
    assert as_bot.projects.get(project.pk).path_with_namespace == "tanuki/backend/api"
    with pytest.raises(gitlab.GitlabGetError) as unseen:
        as_bot.projects.get(tanuki["other"].pk)
    assert unseen.value.response_code == 404

    reader = remote.access_tokens.create(
        {"name": "reader", "scopes": ["read_api"], "expires_at": expires_at}
    )
    assert reader.access_level == AccessLevel.MAINTAINER  # GitLab's default role
    active = remote.access_tokens.list(get_all=True, state="active")
    assert sorted(t.name for t in active) == ["ci", "reader"]
    assert remote.access_tokens.list(get_all=True, state="inactive") == []
    fetched = remote.access_tokens.get(created.id)
    assert (fetched.name, fetched.scopes, fetched.access_level, fetched.revoked) == (
        "ci",
        ["api"],
        30,
        False,
    )

    # Rotating: the object becomes the successor (a new id and value); the old value is refused.
    old_id, old_value = fetched.id, created.token
    rotated = fetched.rotate()
    assert rotated["token"].startswith("glpat-") and rotated["token"] != old_value
    assert fetched.id == rotated["id"] != old_id
    assert (rotated["name"], rotated["access_level"]) == ("ci", AccessLevel.DEVELOPER)
    assert PersonalAccessToken.objects.get(pk=old_id).revoked
    assert refused_as_unauthenticated(site_server, old_value, project)
    inactive = remote.access_tokens.list(get_all=True, state="inactive")
    assert [t.id for t in inactive] == [old_id]

    # The token rotates itself with its own client (the api scope allows it), and sees itself.
    own = client(site_server, rotated["token"])
    own_source = (own.projects if kind == "project" else own.groups).get(source.pk, lazy=True)
    assert own_source.access_tokens.get("self").id == rotated["id"]
    itself = own_source.access_tokens.rotate("self")
    assert itself["token"] != rotated["token"] and itself["name"] == "ci"
    assert PersonalAccessToken.objects.get(pk=rotated["id"]).revoked
    assert refused_as_unauthenticated(site_server, rotated["token"], project)
    assert client(site_server, itself["token"]).projects.get(project.pk).id == project.pk

    # Revoked by its manager, it stops at once; its bot and the bot's membership stay.
    remote.access_tokens.delete(itself["id"])
    assert PersonalAccessToken.objects.get(pk=itself["id"]).revoked
    assert refused_as_unauthenticated(site_server, itself["token"], project)
    assert Membership.objects.filter(user=bot.user).exists()
    assert [t.name for t in remote.access_tokens.list(get_all=True, state="active")] == ["reader"]
    assert len(remote.access_tokens.list(get_all=True, state="inactive")) == 3


def test_a_token_with_self_rotate_only_rotates_itself(site_server, tanuki):
    project = tanuki["project"]
    _, value = make_access_token(
        project,
        tanuki["maintainer"],
        access_level=AccessLevel.REPORTER,
        scopes=["read_repository", "self_rotate"],
    )
    own = client(site_server, value).projects.get(project.pk, lazy=True)
    new = own.access_tokens.rotate("self", expires_at=in_days(10))
    assert new["scopes"] == ["read_repository", "self_rotate"]
    assert new["expires_at"] == in_days(10)
    assert refused_as_unauthenticated(site_server, value, project)
    # Nor may it read the project through the API: self_rotate is not read_api.
    with pytest.raises(gitlab.GitlabGetError) as refused:
        client(site_server, new["token"]).projects.get(project.pk)
    assert refused.value.response_code == 403


def test_no_role_above_the_managers_own_and_developers_do_not_manage(site_server, tanuki):
    project = tanuki["project"]
    _, maintainer_value = make_personal_token(tanuki["maintainer"], scopes=["api"])
    remote = client(site_server, maintainer_value).projects.get(project.pk, lazy=True)
    with pytest.raises(gitlab.GitlabCreateError) as too_high:
        remote.access_tokens.create(
            {
                "name": "owner",
                "scopes": ["api"],
                "access_level": AccessLevel.OWNER,
                "expires_at": in_days(LIFETIME_DAYS),
            }
        )
    assert too_high.value.response_code == 400
    assert json.loads(too_high.value.response_body) == {
        "message": {"access_level": ["You can give at most your own role (Maintainer)."]}
    }
    with pytest.raises(gitlab.GitlabCreateError) as no_expiry:
        remote.access_tokens.create({"name": "forever", "scopes": ["api"]})
    assert no_expiry.value.response_code == 400
    assert not Bot.objects.exists()

    _, developer_value = make_personal_token(tanuki["developer"], scopes=["api"])
    developer = client(site_server, developer_value)
    with pytest.raises(gitlab.GitlabListError) as refused:
        developer.projects.get(project.pk, lazy=True).access_tokens.list(get_all=True)
    assert refused.value.response_code == 403
    # A group's tokens are for its Owners: a Maintainer is refused too.
    maintainer_group = client(site_server, maintainer_value).groups.get(
        tanuki["group"].pk, lazy=True
    )
    with pytest.raises(gitlab.GitlabListError) as refused:
        maintainer_group.access_tokens.list(get_all=True)
    assert refused.value.response_code == 403


def test_a_developer_project_token_clones_and_pushes_and_a_reporters_push_is_refused(
    site_server, tanuki, tmp_path
):
    project = tanuki["project"]
    seed(project)
    _, developer_value = make_access_token(
        project,
        tanuki["maintainer"],
        access_level=AccessLevel.DEVELOPER,
        scopes=["read_repository", "write_repository"],
    )
    work = tmp_path / "work"
    git("clone", url(site_server, project, "anything", developer_value), str(work))
    assert (work / "README.md").read_text() == f"# {project.name}\n"
    (work / "change.txt").write_text("pushed by a project access token\n")
    git("add", "change.txt", cwd=work)
    git("commit", "-q", "-m", "Change", cwd=work)
    git("push", "origin", "main", cwd=work)
    head = git("rev-parse", "HEAD", cwd=work).stdout.strip()
    bare = git("--git-dir", str(project.repository_path), "rev-parse", "main").stdout.strip()
    assert bare == head

    _, reporter_value = make_access_token(
        project,
        tanuki["maintainer"],
        access_level=AccessLevel.REPORTER,
        scopes=["read_repository", "write_repository"],
        name="reporter",
    )
    reporter_work = tmp_path / "reporter"
    git("clone", url(site_server, project, "anything", reporter_value), str(reporter_work))
    assert (reporter_work / "change.txt").exists()
    git("commit", "-q", "--allow-empty", "-m", "nope", cwd=reporter_work)
    refused = git("push", "origin", "main", cwd=reporter_work, check=False)
    assert refused.returncode != 0
    assert (
        "remote: You need at least the Developer role in this project to push code "
        "(you have Reporter)." in refused.stderr
    )
    after = git("--git-dir", str(project.repository_path), "rev-parse", "main").stdout.strip()
    assert after == head


def test_a_project_token_cannot_clone_another_project(site_server, tanuki, tmp_path):
    seed(tanuki["project"])
    seed(tanuki["other"])
    _, value = make_access_token(
        tanuki["project"],
        tanuki["maintainer"],
        access_level=AccessLevel.MAINTAINER,
        scopes=["read_repository", "write_repository"],
    )
    git("ls-remote", url(site_server, tanuki["project"], "anything", value))
    refused = git(
        "clone",
        url(site_server, tanuki["other"], "anything", value),
        str(tmp_path / "other"),
        check=False,
    )
    assert refused.returncode != 0
    assert "remote: The project was not found." in refused.stderr
    assert not (tmp_path / "other" / "README.md").exists()


def test_twine_and_pip_with_a_group_token_on_a_subgroups_project(site_server, tanuki, tmp_path):
    project = tanuki["project"]  # tanuki/backend/api
    token, value = make_access_token(
        tanuki["group"], tanuki["owner"], access_level=AccessLevel.DEVELOPER, scopes=["api"]
    )
    wheel, sdist = build_wheel(tmp_path), build_sdist(tmp_path)
    twine_upload(site_server, project, "__token__", value, wheel, sdist)
    stored = PackageFile.objects.filter(package__project=project).order_by("file_name")
    assert [item.file_name for item in stored] == [
        "tinypkg-1.0.0-py3-none-any.whl",
        "tinypkg-1.0.0.tar.gz",
    ]
    pip_install(site_server, project, "anything", value, tmp_path / "site")
    assert (tmp_path / "site" / "tinypkg" / "__init__.py").read_text() == 'VERSION = "1.0.0"\n'
    token.refresh_from_db()
    assert token.last_used_at is not None

    # The group's token reaches nothing outside the group.
    refused = twine_upload(
        site_server, tanuki["other"], "__token__", value, build_wheel(tmp_path), check=False
    )
    assert refused.returncode != 0
    assert "404 Not Found" in refused.stdout + refused.stderr
    assert not PackageFile.objects.filter(package__project=tanuki["other"]).exists()


def test_project_token_pushes_with_write_registry_and_not_with_read_registry_only(
    registry, tanuki, tmp_path
):
    project = tanuki["project"]
    writer, write_value = make_access_token(
        project,
        tanuki["maintainer"],
        access_level=AccessLevel.DEVELOPER,
        scopes=["read_registry", "write_registry"],
    )
    reader, read_value = make_access_token(
        project,
        tanuki["maintainer"],
        access_level=AccessLevel.DEVELOPER,
        scopes=["read_registry"],
        name="reader",
    )
    image = build_oci_image(tmp_path / "image")
    target = f"{registry}/tanuki/backend/api/web:v1"
    push(image, target, f"{writer.user.username}:{write_value}")
    pulled = tmp_path / "pulled"
    pull(target, f"{reader.user.username}:{read_value}", pulled)
    assert len(json.loads((pulled / "index.json").read_text())["manifests"]) == 1
    refused = push(
        image,
        f"{registry}/tanuki/backend/api/other:v1",
        f"{reader.user.username}:{read_value}",
        check=False,
    )
    assert refused.returncode != 0
    assert "denied" in refused.stderr.lower() or "unauthorized" in refused.stderr.lower()
    elsewhere = push(
        image,
        f"{registry}/elsewhere/other:v1",
        f"{writer.user.username}:{write_value}",
        check=False,
    )
    assert elsewhere.returncode != 0
