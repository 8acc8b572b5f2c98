"""The real `git lfs` (Debian's git-lfs) against the site under gunicorn (issue 19): push LFS
objects with a personal token, clone them with a project deploy token and with a group deploy
token two subgroups down (the seeds' troubleshooting case), and locks from two users."""

import os

import pytest

from tests.e2e.conftest import GIT_ENV, git, require_program, url
from tests.factories import MembershipFactory, UserFactory, make_deploy_token, make_personal_token
from tokens_site.models import AccessLevel, AddressBan, LfsLock, LfsObject, Visibility

pytestmark = pytest.mark.e2e


@pytest.fixture
def lfs_home(tmp_path, monkeypatch):
    """git lfs installed in a HOME of the test's own (its filters in that ~/.gitconfig)."""
    require_program("git-lfs")
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setitem(GIT_ENV, "HOME", str(home))
    monkeypatch.setitem(GIT_ENV, "GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    git("lfs", "install")
    return home


def developer(tanuki):
    user = UserFactory()
    MembershipFactory(user=user, group=tanuki["group"], access_level=AccessLevel.DEVELOPER)
    _, value = make_personal_token(user, scopes=["write_repository", "read_repository"])
    return user, value


def push_lfs_files(server, project, value, work, files: dict[str, bytes]):
    git("clone", url(server, project, "me", value), str(work))
    git("lfs", "track", "*.bin", cwd=work)
    for name, content in files.items():
        (work / name).write_bytes(content)
    git("add", ".gitattributes", *files, cwd=work)
    git("commit", "-q", "-m", "Add LFS files", cwd=work)
    pushed = git("push", "origin", "main", cwd=work)
    return pushed


def test_push_with_a_personal_token_and_clone_with_project_and_group_deploy_tokens(
    site_server, tanuki, tmp_path, lfs_home
):
    files = {"model.bin": os.urandom(300_000), "weights.bin": os.urandom(50_000)}
    _, value = developer(tanuki)
    for project in (tanuki["project"], tanuki["deep"]):
        push_lfs_files(site_server, project, value, tmp_path / f"work-{project.pk}", files)
        assert LfsObject.objects.filter(project=project).count() == 2
    # The repository itself holds pointers, not the content.
    blob = git("--git-dir", str(tanuki["project"].repository_path), "show", "main:model.bin")
    assert blob.stdout.startswith("version https://git-lfs.github.com/spec/v1")

    token, secret = make_deploy_token(tanuki["project"], scopes=["read_repository"])
    clone = tmp_path / "project-clone"
    git("clone", url(site_server, tanuki["project"], token.username, secret), str(clone))
    assert (clone / "model.bin").read_bytes() == files["model.bin"]

    # The seeds' troubleshooting case: a group deploy token, a project two subgroups down.
    group_token, group_secret = make_deploy_token(tanuki["group"], scopes=["read_repository"])
    deep = tmp_path / "deep-clone"
    git("clone", url(site_server, tanuki["deep"], group_token.username, group_secret), str(deep))
    assert (deep / "weights.bin").read_bytes() == files["weights.bin"]


def test_a_deploy_token_cannot_push_lfs_objects(site_server, tanuki, tmp_path, lfs_home):
    token, secret = make_deploy_token(tanuki["project"], scopes=["read_repository"])
    work = tmp_path / "w"
    git("clone", url(site_server, tanuki["project"], token.username, secret), str(work))
    git("lfs", "track", "*.bin", cwd=work)
    (work / "a.bin").write_bytes(b"x" * 1000)
    git("add", ".", cwd=work)
    git("commit", "-q", "-m", "lfs", cwd=work)
    refused = git("push", "origin", "main", cwd=work, check=False)
    assert refused.returncode != 0
    assert not LfsObject.objects.exists()


def test_locks_from_two_users(site_server, tanuki, tmp_path, lfs_home):
    _, alice_token = developer(tanuki)
    bob, bob_token = developer(tanuki)
    alice_work, bob_work = tmp_path / "alice", tmp_path / "bob"
    push_lfs_files(site_server, tanuki["project"], alice_token, alice_work, {"a.bin": b"a" * 10})
    git("clone", url(site_server, tanuki["project"], "bob", bob_token), str(bob_work))

    locked = git("lfs", "lock", "a.bin", cwd=alice_work)
    assert "Locked a.bin" in locked.stdout
    listed = git("lfs", "locks", cwd=bob_work).stdout
    assert "a.bin" in listed
    taken = git("lfs", "lock", "a.bin", cwd=bob_work, check=False)
    assert taken.returncode != 0
    # Bob cannot unlock Alice's lock, even with --force (a Developer); Alice can.
    refused = git("lfs", "unlock", "a.bin", "--force", cwd=bob_work, check=False)
    assert refused.returncode != 0
    assert "Maintainer" in refused.stderr + refused.stdout
    git("lfs", "unlock", "a.bin", cwd=alice_work)
    assert not LfsLock.objects.exists()
    assert "Locked a.bin" in git("lfs", "lock", "a.bin", cwd=bob_work).stdout
    assert LfsLock.objects.get().owner == bob


def test_an_anonymous_clone_of_a_public_project_downloads_its_lfs_objects(
    site_server, tanuki, tmp_path, lfs_home
):
    _, value = developer(tanuki)
    files = {"public.bin": os.urandom(20_000)}
    push_lfs_files(site_server, tanuki["project"], value, tmp_path / "work", files)
    for place in (tanuki["group"], tanuki["project"]):
        place.visibility = Visibility.PUBLIC
        place.save()
    clone = tmp_path / "anonymous"
    git("clone", url(site_server, tanuki["project"]), str(clone))
    assert (clone / "public.bin").read_bytes() == files["public.bin"]
    assert not AddressBan.objects.exists()
