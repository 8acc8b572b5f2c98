"""The real `git` client against the site under gunicorn: clone, fetch and push over HTTP with
deploy tokens, personal access tokens and passwords, and what it says when refused."""

import base64
import gzip
import http.client
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from deploy_tokens.services import deploy_token_revoke
from tests.e2e.conftest import GIT_ENV, git, require_program, start_server, stop_server, url
from tests.factories import (
    GroupFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    make_deploy_token,
    make_personal_token,
)
from tokens_site.models import (
    AccessLevel,
    AuditAction,
    AuditEvent,
    InstanceSettings,
    UserPreferences,
    Visibility,
)
from tokens_site.tokens import utc_today

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def git_installed():
    require_program("git")


def test_clone_with_a_project_deploy_token(site_server, tanuki, tmp_path):
    token, value = make_deploy_token(tanuki["project"], scopes=["read_repository"])
    git("clone", url(site_server, tanuki["project"], token.username, value), str(tmp_path / "c"))
    assert (tmp_path / "c" / "README.md").read_text() == f"# {tanuki['project'].name}\n"


def test_clone_with_a_group_deploy_token_two_subgroups_down(site_server, tanuki, tmp_path):
    token, value = make_deploy_token(tanuki["group"], scopes=["read_repository"])
    git("clone", url(site_server, tanuki["deep"], token.username, value), str(tmp_path / "deep"))
    assert (tmp_path / "deep" / "README.md").exists()


def test_clone_fetch_and_big_push_with_a_personal_token(site_server, tanuki, tmp_path):
    developer = UserFactory()
    MembershipFactory(user=developer, group=tanuki["group"], access_level=AccessLevel.DEVELOPER)
    token, value = make_personal_token(developer, scopes=["write_repository"])
    work, reader = tmp_path / "work", tmp_path / "reader"
    git("clone", url(site_server, tanuki["project"], "anything", value), str(work))
    git("clone", url(site_server, tanuki["project"], "x", value), str(reader))
    # 3 MiB of new, incompressible objects: more than git's 1 MiB post buffer, so the push
    # body goes out chunked.
    for n in range(3):
        (work / f"blob{n}.bin").write_bytes(os.urandom(1024 * 1024))
    git("add", ".", cwd=work)
    git("commit", "-q", "-m", "Add 3 MiB", cwd=work)
    pushed = subprocess.run(
        ["git", "push", "origin", "main"],
        cwd=work,
        env={**GIT_ENV, "GIT_TRACE_CURL": "1", "GIT_TRACE_CURL_NO_DATA": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert pushed.returncode == 0, pushed.stderr
    assert "main -> main" in pushed.stderr
    assert "Transfer-Encoding: chunked" in pushed.stderr
    head = git("rev-parse", "HEAD", cwd=work).stdout.strip()
    bare = git("--git-dir", str(tanuki["project"].repository_path), "rev-parse", "main")
    assert bare.stdout.strip() == head
    # And the objects come back to an existing clone with a fetch.
    fetched = git("fetch", "origin", cwd=reader)
    assert "main       -> origin/main" in fetched.stderr
    git("merge", "-q", "--ff-only", "origin/main", cwd=reader)
    assert (reader / "blob2.bin").stat().st_size == 1024 * 1024
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_push_refused_for_a_deploy_token_with_the_reason(site_server, tanuki, tmp_path):
    token, value = make_deploy_token(tanuki["project"], scopes=["read_repository"])
    work = tmp_path / "w"
    git("clone", url(site_server, tanuki["project"], token.username, value), str(work))
    git("commit", "-q", "--allow-empty", "-m", "nope", cwd=work)
    refused = git("push", "origin", "main", cwd=work, check=False)
    assert refused.returncode != 0
    assert "remote: Deploy tokens cannot push code: they only read the repository." in (
        refused.stderr
    )
    assert "403" in refused.stderr


def test_push_refused_for_a_reporter_with_the_reason(site_server, tanuki, tmp_path):
    reporter = UserFactory()
    MembershipFactory(user=reporter, group=tanuki["group"], access_level=AccessLevel.REPORTER)
    _, value = make_personal_token(reporter, scopes=["write_repository"])
    work = tmp_path / "w"
    git("clone", url(site_server, tanuki["project"], "x", value), str(work))
    git("commit", "-q", "--allow-empty", "-m", "nope", cwd=work)
    refused = git("push", "origin", "main", cwd=work, check=False)
    assert refused.returncode != 0
    assert (
        "remote: You need at least the Developer role in this project to push code "
        "(you have Reporter)." in refused.stderr
    )


def japanese_refusal() -> str:
    """The reporter's refusal as the site words it in Japanese (the catalogue's entry)."""
    from django.utils import translation

    from tokens_site.access.abilities import Ability
    from tokens_site.access.policy import Access

    reporter = Access(
        level=AccessLevel.REPORTER, visibility="private", signed_in=True, on_group=False
    )
    with translation.override("ja"):
        return str(reporter.refusal(Ability.WRITE_REPOSITORY))


def push_as_reporter(site_server, tanuki, tmp_path, *, language="", env=None):
    reporter = UserFactory()
    if language:
        UserPreferences.objects.create(user=reporter, language=language)
    MembershipFactory(user=reporter, group=tanuki["group"], access_level=AccessLevel.REPORTER)
    _, value = make_personal_token(reporter, scopes=["write_repository"])
    work = tmp_path / "w"
    git("clone", url(site_server, tanuki["project"], "x", value), str(work))
    git("commit", "-q", "--allow-empty", "-m", "nope", cwd=work)
    return subprocess.run(
        ["git", "push", "origin", "main"],
        cwd=work,
        env={**GIT_ENV, **(env or {})},
        capture_output=True,
        text=True,
    )


def test_a_japanese_users_token_is_refused_in_japanese(site_server, tanuki, tmp_path):
    refused = push_as_reporter(site_server, tanuki, tmp_path, language="ja")
    assert refused.returncode != 0
    expected = japanese_refusal()
    assert "Developer" not in expected and "デベロッパー" in expected
    assert f"remote: {expected}" in refused.stderr, refused.stderr


def test_git_asks_in_its_own_language_when_the_user_chose_none(site_server, tanuki, tmp_path):
    # git sends Accept-Language from LANGUAGE / LC_ALL / LANG.
    refused = push_as_reporter(
        site_server, tanuki, tmp_path, env={"LANGUAGE": "ja", "LC_ALL": "C.UTF-8"}
    )
    assert f"remote: {japanese_refusal()}" in refused.stderr, refused.stderr


def test_refused_after_revoke_and_after_the_expiry_date(site_server, tanuki, tmp_path):
    token, value = make_deploy_token(tanuki["project"])
    remote = url(site_server, tanuki["project"], token.username, value)
    git("ls-remote", remote)
    deploy_token_revoke(actor=tanuki["owner"], token=token)
    revoked = git("ls-remote", remote, check=False)
    assert revoked.returncode != 0 and "Authentication failed" in revoked.stderr
    personal, personal_value = make_personal_token(
        UserFactory(is_superuser=True), scopes=["read_repository"]
    )
    remote = url(site_server, tanuki["project"], "x", personal_value)
    git("ls-remote", remote)
    # No service makes a token that expires today; the server is another process, which
    # the test's clock cannot move: its date is set directly.
    personal.__class__.objects.filter(pk=personal.pk).update(expires_at=utc_today())
    expired = git("ls-remote", remote, check=False)
    assert expired.returncode != 0 and "Authentication failed" in expired.stderr


def test_deploy_token_with_a_wrong_username_is_refused(site_server, tanuki):
    _, value = make_deploy_token(tanuki["project"])
    refused = git("ls-remote", url(site_server, tanuki["project"], "someone", value), check=False)
    assert refused.returncode != 0 and "Authentication failed" in refused.stderr


def test_anonymous_clone_of_public_project_and_401_on_private(site_server, tmp_path):
    group = GroupFactory(path="open", visibility=Visibility.PUBLIC)
    public = ProjectFactory(group=group, path="lib", visibility=Visibility.PUBLIC)
    private = ProjectFactory(group=group, path="secret")
    git("clone", url(site_server, public), str(tmp_path / "lib"))
    refused = git("ls-remote", url(site_server, private), check=False)
    assert refused.returncode != 0
    assert "could not read Username" in refused.stderr  # git was asked for credentials (401)


def test_password_over_basic_when_allowed(site_server, tanuki):
    user = UserFactory(username="alice")
    MembershipFactory(user=user, project=tanuki["project"], access_level=AccessLevel.REPORTER)
    from tests.factories import PASSWORD

    git("ls-remote", url(site_server, tanuki["project"], "alice", PASSWORD))


def test_gzip_encoded_upload_pack_request(site_server, tanuki):
    """git gzips large fetch negotiations; the server must inflate them."""
    token, value = make_deploy_token(tanuki["project"])
    head = git("--git-dir", str(tanuki["project"].repository_path), "rev-parse", "main").stdout
    request = f"0032want {head.strip()}\n".encode() + b"0000" + b"0009done\n"
    connection = http.client.HTTPConnection(site_server.host, timeout=30)
    credentials = base64.b64encode(f"{token.username}:{value}".encode()).decode()
    connection.request(
        "POST",
        f"/{tanuki['project'].full_path}.git/git-upload-pack",
        body=gzip.compress(request),
        headers={
            "Authorization": f"Basic {credentials}",
            "Content-Type": "application/x-git-upload-pack-request",
            "Content-Encoding": "gzip",
        },
    )
    response = connection.getresponse()
    body = response.read()
    assert response.status == 200
    assert response.getheader("Content-Type") == "application/x-git-upload-pack-result"
    assert b"PACK" in body


def test_ban_holds_across_two_server_processes(site_server, tanuki, tmp_path):
    token, value = make_deploy_token(tanuki["project"])
    other = start_server(tmp_path)
    try:
        remote_other = url(other, tanuki["project"], token.username, value)
        git("ls-remote", remote_other)
        forged = url(site_server, tanuki["project"], "x", "glpat-" + "Z" * 32)
        for _ in range(30):
            git("ls-remote", forged, check=False)
        # No wait: the other server asks the store on every request.
        banned = git("ls-remote", remote_other, check=False)
        assert banned.returncode != 0
        assert "remote: Too many failed authentication attempts" in banned.stderr
        assert AuditEvent.objects.filter(
            action=AuditAction.IP_BAN, target_label="127.0.0.1"
        ).exists()
    finally:
        stop_server(other)


# Pushes that fail half-way: git on the server must fail them cleanly, which removes the
# quarantine directory the pack was being received into (objects/tmp_objdir-incoming-*).
WAIT_SECONDS = 20


def wait_for(condition, timeout: float = WAIT_SECONDS) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def quarantines(repository: Path) -> list[Path]:
    return sorted((repository / "objects").glob("*incoming-*"))


def developer_clone(server, tanuki, path):
    """A clone of tanuki/awesome_project with a Developer's personal access token
    (write_repository); returns the clone's path and the token."""
    developer = UserFactory()
    MembershipFactory(user=developer, group=tanuki["group"], access_level=AccessLevel.DEVELOPER)
    _, value = make_personal_token(developer, scopes=["write_repository"])
    git("clone", url(server, tanuki["project"], "x", value), str(path))
    return path, value


def commit_random_mib(work, mib: int) -> str:
    """Commit `mib` files of 1 MiB of random (incompressible) bytes; returns the commit."""
    for n in range(mib):
        (work / f"random{n}.bin").write_bytes(os.urandom(1024 * 1024))
    git("add", ".", cwd=work)
    git("commit", "-q", "-m", f"Add {mib} MiB", cwd=work)
    return git("rev-parse", "HEAD", cwd=work).stdout.strip()


def bare_git(project, *args, check=True) -> subprocess.CompletedProcess:
    return git("--git-dir", str(project.repository_path), *args, check=check)


def test_push_killed_mid_upload_leaves_no_quarantine(site_server, tanuki, tmp_path):
    """The client is killed while its pack uploads. receive-pack then reads the end of the body
    and fails the push; it removes its quarantine only if it can also write its answer (with
    git's stdout closed under it, it died of SIGPIPE and left 20 MiB behind)."""
    project = tanuki["project"]
    work, _ = developer_clone(site_server, tanuki, tmp_path / "work")
    commit_random_mib(work, 20)
    before = bare_git(project, "rev-parse", "main").stdout
    # Its own session, so that the kill takes git's helpers (git-remote-http, pack-objects) too.
    pushing = subprocess.Popen(
        ["git", "push", "origin", "main"],
        cwd=work,
        env=GIT_ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        # The server is receiving the pack once its quarantine exists.
        assert wait_for(lambda: quarantines(project.repository_path) or pushing.poll() is not None)
    finally:
        os.killpg(pushing.pid, signal.SIGKILL)
        pushing.wait()
    assert bare_git(project, "rev-parse", "main").stdout == before, "the push ended before the kill"
    assert wait_for(lambda: not quarantines(project.repository_path)), site_server.log()
    bare_git(project, "fsck", "--no-progress")
    # The repository still takes the same push.
    git("push", "origin", "main", cwd=work)


def test_push_over_the_size_limit_is_refused_with_the_reason(site_server, tanuki, tmp_path):
    project = tanuki["project"]
    instance = InstanceSettings.current()
    instance.git_push_max_size_mb = 1
    instance.save()
    work, _ = developer_clone(site_server, tanuki, tmp_path / "work")
    # Far over the limit: git stops reading at 1 MiB while the client still sends.
    commit = commit_random_mib(work, 20)
    objects_before = bare_git(project, "count-objects", "-v").stdout
    refused = git("push", "origin", "main", cwd=work, check=False)
    assert refused.returncode != 0
    assert "remote: fatal: pack exceeds maximum allowed size" in refused.stderr
    # The client read the server's whole answer (not a reset connection).
    assert "! [remote rejected] main -> main (unpacker error)" in refused.stderr, refused.stderr
    # Nothing of it is kept.
    assert wait_for(lambda: not quarantines(project.repository_path))
    assert bare_git(project, "cat-file", "-e", commit, check=False).returncode != 0
    assert bare_git(project, "count-objects", "-v").stdout == objects_before
    instance.git_push_max_size_mb = 1024
    instance.save()
    git("push", "origin", "main", cwd=work)
    assert bare_git(project, "rev-parse", "main").stdout.strip() == commit


def test_push_with_a_malformed_chunk_ends_cleanly(site_server, tanuki, tmp_path):
    """gunicorn's own errors for a malformed chunked body are not OSErrors: the request still
    ends, and git fails the push and removes its quarantine."""
    project = tanuki["project"]
    work, value = developer_clone(site_server, tanuki, tmp_path / "work")
    old = git("rev-parse", "HEAD", cwd=work).stdout.strip()
    new = commit_random_mib(work, 3)
    pack = subprocess.run(
        ["git", "pack-objects", "--stdout", "--revs", "-q"],
        cwd=work,
        input=f"{new}\n^{old}\n".encode(),
        capture_output=True,
        check=True,
    ).stdout
    command = f"{old} {new} refs/heads/main\0 report-status side-band-64k\n".encode()
    body = b"%04x" % (len(command) + 4) + command + b"0000" + pack[: len(pack) // 2]
    # One good chunk with half the pack, then a chunk size that is not hexadecimal.
    chunked = b"%x\r\n" % len(body) + body + b"\r\nnot-a-size\r\n"
    credentials = base64.b64encode(f"x:{value}".encode()).decode()
    connection = http.client.HTTPConnection(site_server.host, timeout=60)
    connection.request(
        "POST",
        f"/{project.full_path}.git/git-receive-pack",
        body=chunked,
        headers={
            "Authorization": f"Basic {credentials}",
            "Content-Type": "application/x-git-receive-pack-request",
            "Transfer-Encoding": "chunked",
        },
    )
    answer = connection.getresponse().read()
    assert b"ng refs/heads/main unpacker error" in answer
    assert wait_for(lambda: not quarantines(project.repository_path))
    assert "Traceback" not in site_server.log()
