"""Secret push protection with the real `git` client against the site under gunicorn (issue
17): a push holding a token is refused with the file, line and kind; the skip push option lets
it through and is audited; big, binary and clean pushes are accepted."""

import os
import subprocess

import pytest

from deploy_tokens.services import deploy_token_revoke
from tests.e2e.conftest import git
from tests.e2e.test_git import bare_git, developer_clone
from tests.factories import AdminFactory, make_deploy_token, make_personal_token
from tokens_site.models import AuditAction, AuditEvent, InstanceSettings
from tokens_site.token_format import checksum

pytestmark = pytest.mark.e2e


def commit_files(work, files: dict[str, bytes | str], message="Add files") -> str:
    for name, content in files.items():
        path = work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content)
        else:
            path.write_bytes(content)
    git("add", ".", cwd=work)
    git("commit", "-q", "-m", message, cwd=work)
    return git("rev-parse", "HEAD", cwd=work).stdout.strip()


def push(work, *options) -> subprocess.CompletedProcess:
    return git("push", *options, "origin", "main", cwd=work, check=False)


def settings_file(value: str) -> str:
    return f"# settings\nDEBUG = False\nTOKEN = '{value}'\n"


def masked(value: str, prefix: str) -> str:
    return f"{prefix}…{value[-4:]}"


def test_a_push_holding_a_personal_token_is_refused_with_file_line_and_kind(
    site_server, tanuki, tmp_path
):
    project = tanuki["project"]
    work, _ = developer_clone(site_server, tanuki, tmp_path / "work")
    leaked, value = make_personal_token(name="leaked")
    before = bare_git(project, "rev-parse", "main").stdout
    commit = commit_files(work, {"config/settings.py": settings_file(value)})

    refused = push(work)

    assert refused.returncode != 0
    output = refused.stderr
    assert "remote: PUSH BLOCKED: Secrets detected in code changes" in output
    assert f"remote: Secret push protection found the following secrets in commit: {commit}" in (
        output
    )
    assert (
        f"remote: -- config/settings.py:3 GitLab personal access token "
        f"({masked(value, 'glpat-')})" in output
    )
    assert "git push -o secret_push_protection.skip_all" in output
    assert "! [remote rejected] main -> main (pre-receive hook declined)" in output
    assert value not in output
    # Nothing landed, and nothing of it is kept.
    assert bare_git(project, "rev-parse", "main").stdout == before
    assert bare_git(project, "cat-file", "-e", commit, check=False).returncode != 0
    # Audited: the refusal on the project (masked), and a find on the token itself.
    block = AuditEvent.objects.get(action=AuditAction.SECRET_PUSH_PROTECTION_BLOCK)
    assert block.target_id == str(project.pk)
    assert block.details["refs"] == ["refs/heads/main"]
    assert block.details["findings"] == [
        {
            "commit": commit,
            "path": "config/settings.py",
            "line": 3,
            "kind": "GitLab personal access token",
            "masked": masked(value, "glpat-"),
        }
    ]
    assert value not in str(block.details)
    find = AuditEvent.objects.get(action=AuditAction.TOKEN_LEAK_FIND)
    assert (find.target_type, find.target_id) == ("personalaccesstoken", str(leaked.pk))
    assert find.details["found_in"] == f"a push to {project.full_path}"
    assert find.actor_username == block.actor_username == block.details["pushed_by"] != ""


def test_the_skip_option_lets_the_push_through_and_is_audited(site_server, tanuki, tmp_path):
    project = tanuki["project"]
    work, _ = developer_clone(site_server, tanuki, tmp_path / "work")
    _, value = make_personal_token()
    commit = commit_files(work, {"notes.txt": f"the token is {value}\n"})
    assert push(work).returncode != 0

    skipped = push(work, "-o", "secret_push_protection.skip_all")

    assert skipped.returncode == 0, skipped.stderr
    assert "remote: Secret push protection skipped" in skipped.stderr
    assert bare_git(project, "rev-parse", "main").stdout.strip() == commit
    skip = AuditEvent.objects.get(action=AuditAction.SECRET_PUSH_PROTECTION_SKIP)
    assert skip.target_id == str(project.pk)
    assert skip.details["refs"] == ["refs/heads/main"]
    assert skip.actor_username
    # What is in the repository now is not scanned again: another branch at that commit.
    pushed = git("push", "origin", "main:other", cwd=work, check=False)
    assert pushed.returncode == 0, pushed.stderr


def test_revoked_and_deploy_tokens_are_refused_too_each_with_its_line(
    site_server, tanuki, tmp_path
):
    project = tanuki["project"]
    work, _ = developer_clone(site_server, tanuki, tmp_path / "work")
    deploy, deploy_value = make_deploy_token(project, scopes=["read_repository"])
    deploy_token_revoke(actor=AdminFactory(), token=deploy)
    # A token of a custom prefix this instance never issued, with a right checksum: a secret.
    body = "A" * 26
    foreign = f"acme-{body}{checksum('acme-' + body)}"
    commit_files(
        work,
        {
            "ci/deploy.env": f"USER=x\n\nPASSWORD={deploy_value}\n",
            "docs/a b.md": f"one\ntwo\nthree\n{foreign}\n",
        },
    )
    refused = push(work)
    assert refused.returncode != 0
    assert (
        f"remote: -- ci/deploy.env:3 GitLab deploy token ({masked(deploy_value, 'gldt-')})"
        in refused.stderr
    )
    assert (
        f"remote: -- docs/a b.md:4 GitLab personal access token ({masked(foreign, 'acme-')})"
        in (refused.stderr)
    )
    # The revoked token is found (and its find audited) all the same.
    assert AuditEvent.objects.filter(
        action=AuditAction.TOKEN_LEAK_FIND, target_id=str(deploy.pk)
    ).exists()


def test_other_services_secrets_only_when_the_instance_says_so(site_server, tanuki, tmp_path):
    project = tanuki["project"]
    work, _ = developer_clone(site_server, tanuki, tmp_path / "work")
    key_id = "AKIA" + "Q" * 15 + "7"
    github = "ghp_" + "a1B2" * 9
    commit = commit_files(
        work,
        {
            "aws.cfg": f"[default]\naws_access_key_id = {key_id}\n",
            "id_rsa": "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbn...\n",
            "gh.txt": f"x\n{github}\n",
        },
    )
    instance = InstanceSettings.current()
    instance.secret_push_protection_third_party = True
    instance.save()
    refused = push(work)
    assert refused.returncode != 0
    assert "remote: -- aws.cfg:2 AWS access key ID (AKIA…QQQ7)" in refused.stderr
    assert "remote: -- id_rsa:1 Private key (-----BEGIN OPENSSH PRIVATE KEY-----)" in refused.stderr
    assert "remote: -- gh.txt:2 GitHub personal access token (ghp_…a1B2)" in refused.stderr
    assert key_id not in refused.stderr and github not in refused.stderr

    instance.secret_push_protection_third_party = False
    instance.save()
    accepted = push(work)
    assert accepted.returncode == 0, accepted.stderr
    assert bare_git(project, "rev-parse", "main").stdout.strip() == commit


def test_push_protection_off_lets_tokens_through(site_server, tanuki, tmp_path):
    instance = InstanceSettings.current()
    instance.secret_push_protection_enabled = False
    instance.save()
    work, _ = developer_clone(site_server, tanuki, tmp_path / "work")
    _, value = make_personal_token()
    commit_files(work, {"leak.txt": value})
    pushed = push(work)
    assert pushed.returncode == 0, pushed.stderr
    assert not AuditEvent.objects.filter(action__startswith="secret_push_protection.").exists()


def test_a_clean_50_mb_push_is_accepted_and_big_or_binary_files_are_not_scanned(
    site_server, tanuki, tmp_path
):
    project = tanuki["project"]
    work, _ = developer_clone(site_server, tanuki, tmp_path / "work")
    _, value = make_personal_token()
    files = {
        # 48 text files of ~1 MB (hex: scanned, and nothing in them).
        **{f"data/part{n:02}.txt": os.urandom(500_000).hex() + "\n" for n in range(48)},
        # A token in a file over 1 MiB, and in a binary file: neither is scanned.
        "big.txt": "x" * (1024 * 1024) + f"\n{value}\n",
        "image.bin": b"\0\1\2" + value.encode() + os.urandom(1000),
    }
    commit = commit_files(work, files)
    pushed = push(work)
    assert pushed.returncode == 0, pushed.stderr
    assert bare_git(project, "rev-parse", "main").stdout.strip() == commit
    assert not AuditEvent.objects.filter(action__startswith="secret_push_protection.").exists()


def test_the_refusal_is_in_the_pushers_language(site_server, tanuki, tmp_path):
    """Issue 21: the hook's lines come from the site's catalogues, in the pusher's language."""
    from django.contrib.auth import get_user_model

    from tokens_site.models import UserPreferences

    work, _ = developer_clone(site_server, tanuki, tmp_path / "work")
    developer = get_user_model().objects.get(personal_access_tokens__name="token")
    UserPreferences.objects.create(user=developer, language="ja")
    _, value = make_personal_token(name="leaked")
    commit = commit_files(work, {"config/settings.py": settings_file(value)})
    refused = push(work)
    assert refused.returncode != 0
    assert "remote: プッシュがブロックされました" in refused.stderr
    assert f"コミット {commit} で次のシークレットが見つかりました" in refused.stderr
    assert "remote: -- config/settings.py:3 GitLab personal access token" in refused.stderr
    assert "PUSH BLOCKED" not in refused.stderr and value not in refused.stderr
