"""Secret push protection (issue 17), below the HTTP layer: the pre-receive hook run as git runs
it (a process in the repository, the ref updates on stdin) on real objects, the site's reading
of its report, and other services' secret formats. The real `git push` through the site is in
tests/e2e/test_push_protection.py."""

import json
import os
import subprocess
import sys

import pytest

from tests.factories import ProjectFactory, UserFactory, make_deploy_token, make_personal_token
from tokens_site.auth.principal import Kind, Principal
from tokens_site.git_http import pre_receive
from tokens_site.git_http.push_protection import (
    HOOKS_DIRECTORY,
    PROJECT_ROOT,
    PushProtection,
    record_report,
)
from tokens_site.models import AuditAction, AuditEvent, InstanceSettings
from tokens_site.token_scan import Found, scan
from tokens_site.tokens import token_digest, token_generate

ZERO = "0" * 40
GIT_ENV = {
    "PATH": os.environ["PATH"],
    "HOME": "/nonexistent",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "T",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "T",
    "GIT_COMMITTER_EMAIL": "t@example.com",
}


def git(*args, cwd=None) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, env=GIT_ENV, capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture
def repository(tmp_path):
    """A bare repository with `main` at a first commit, and a work tree to commit in; `commit`
    fetches a new commit's objects into the bare repository without moving any ref (as a push
    in quarantine) and returns it."""
    bare, work = tmp_path / "bare.git", tmp_path / "work"
    git("init", "-q", "--bare", "-b", "main", str(bare))
    git("init", "-q", "-b", "main", str(work))
    (work / "README").write_text("hello\n")
    git("add", ".", cwd=work)
    git("commit", "-q", "-m", "first", cwd=work)
    git("push", "-q", str(bare), "main", cwd=work)

    def commit(files: dict[str, str | bytes]) -> str:
        for name, content in files.items():
            path = work / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content if isinstance(content, bytes) else content.encode())
        git("add", ".", cwd=work)
        git("commit", "-q", "-m", "more", cwd=work)
        git("fetch", "-q", str(work), "main:refs/incoming", cwd=bare)
        git("update-ref", "-d", "refs/incoming", cwd=bare)
        return git("rev-parse", "HEAD", cwd=work)

    return bare, commit


def run_hook(bare, updates: list[str], tmp_path, *, options=(), third_party=False, key="k"):
    """The hook as git starts it; returns (exit status, stderr, report or None)."""
    report = tmp_path / "report.json"
    report.write_text("")
    env = {
        **GIT_ENV,
        "GIT_DIR": str(bare),
        "PYTHONPATH": str(PROJECT_ROOT),
        "TOKENS_HOOK_PYTHON": sys.executable,
        "TOKENS_PUSH_REPORT": str(report),
        "TOKENS_PUSH_THIRD_PARTY": "1" if third_party else "0",
        "TOKENS_DIGEST_KEY": key,
        "GIT_PUSH_OPTION_COUNT": str(len(options)),
        **{f"GIT_PUSH_OPTION_{n}": option for n, option in enumerate(options)},
    }
    done = subprocess.run(
        [str(HOOKS_DIRECTORY / "pre-receive")],
        cwd=bare,
        env=env,
        input="".join(f"{line}\n" for line in updates),
        capture_output=True,
        text=True,
        timeout=60,
    )
    text = report.read_text()
    return done.returncode, done.stderr, json.loads(text) if text else None


def test_a_token_in_an_added_file_refuses_with_commit_file_line_kind_and_digest(
    repository, tmp_path, settings
):
    bare, commit = repository
    value = token_generate("glpat-")
    old = git("rev-parse", "main", cwd=bare)
    new = commit({"app/config.yml": f"a: 1\nb: 2\ntoken: {value}\n", "clean.txt": "nothing\n"})

    status, stderr, report = run_hook(
        bare, [f"{old} {new} refs/heads/main"], tmp_path, key=settings.TOKEN_DIGEST_KEY
    )

    assert status == 1
    assert stderr.splitlines()[0] == "PUSH BLOCKED: Secrets detected in code changes"
    assert f"Secret push protection found the following secrets in commit: {new}" in stderr
    assert f"-- app/config.yml:3 GitLab personal access token (glpat-…{value[-4:]})" in stderr
    assert value not in stderr
    assert report["refs"] == ["refs/heads/main"]
    [finding] = report["findings"]
    assert finding == {
        "commit": new,
        "path": "app/config.yml",
        "line": 3,
        "kind": "GitLab personal access token",
        "masked": f"glpat-…{value[-4:]}",
        "digest": token_digest(value),  # the site's digest: its token is found by it
    }


def test_each_secret_is_named_with_the_commit_that_added_it(repository, tmp_path):
    bare, commit = repository
    old = git("rev-parse", "main", cwd=bare)
    first_value, second_value = token_generate("gldt-"), token_generate("glpat-")
    first = commit({"one.txt": first_value})
    second = commit({"two.txt": f"\n\n{second_value}"})
    status, stderr, report = run_hook(bare, [f"{old} {second} refs/heads/topic"], tmp_path)
    assert status == 1
    assert [(f["commit"], f["path"], f["line"], f["kind"]) for f in report["findings"]] == [
        (first, "one.txt", 1, "GitLab deploy token"),
        (second, "two.txt", 3, "GitLab personal access token"),
    ]
    assert stderr.index(first) < stderr.index("one.txt") < stderr.index(second)


def test_clean_binary_big_deleted_and_existing_content_passes(repository, tmp_path):
    bare, commit = repository
    value = token_generate("glpat-")
    old = git("rev-parse", "main", cwd=bare)
    new = commit(
        {
            "logo.png": b"\x89PNG\r\n\x1a\n\0" + value.encode(),  # binary: a NUL early on
            "dump.sql": "x" * (pre_receive.BLOB_MAX_BYTES) + value,  # over 1 MiB
            "ok.py": "print('hello')\n",
        }
    )
    assert run_hook(bare, [f"{old} {new} refs/heads/main"], tmp_path)[:2] == (0, "")
    # A branch deleted, and a new branch at a commit the repository already has.
    assert (
        run_hook(bare, [f"{old} {ZERO} refs/heads/gone", f"{ZERO} {old} refs/heads/b"], tmp_path)[0]
        == 0
    )


def test_the_skip_option_passes_and_is_reported(repository, tmp_path):
    bare, commit = repository
    old = git("rev-parse", "main", cwd=bare)
    new = commit({"leak.txt": token_generate("glpat-")})
    status, stderr, report = run_hook(
        bare,
        [f"{old} {new} refs/heads/main"],
        tmp_path,
        options=["ci.skip", "secret_push_protection.skip_all"],
    )
    assert status == 0
    assert "Secret push protection skipped (secret_push_protection.skip_all)" in stderr
    assert report == {"skipped": True, "refs": ["refs/heads/main"]}


def test_other_services_secrets_only_with_the_setting(repository, tmp_path):
    bare, commit = repository
    old = git("rev-parse", "main", cwd=bare)
    new = commit({".env": "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n"})
    assert run_hook(bare, [f"{old} {new} refs/heads/main"], tmp_path)[0] == 0
    status, stderr, report = run_hook(
        bare, [f"{old} {new} refs/heads/main"], tmp_path, third_party=True
    )
    assert status == 1
    assert "-- .env:1 AWS access key ID (AKIA…MPLE)" in stderr
    assert "digest" not in report["findings"][0]  # not ours: nothing to look up


def test_a_hook_that_cannot_scan_refuses_the_push(repository, tmp_path):
    bare, _commit = repository
    missing = "1" * 40
    status, stderr, report = run_hook(bare, [f"{ZERO} {missing} refs/heads/x"], tmp_path)
    assert status == 1
    assert "Secret push protection could not scan this push" in stderr
    assert "rev-list" in report["error"]


def test_third_party_formats_and_their_boundaries():
    aws, github = "AKIA" + "Z" * 16, "ghp_" + "x" * 36
    fine_grained = "github_pat_" + "A1_" * 27 + "b"
    text = (
        f"{aws}\nx{aws}\n{aws}Z\n{github}\n_{github}\n{fine_grained}\n"
        "-----BEGIN EC PRIVATE KEY-----\n-----BEGIN PUBLIC KEY-----\n"
    )
    assert scan(text) == []
    found = scan(text, third_party=True)
    assert [(f.kind, f.line, f.masked) for f in found] == [
        ("AWS access key ID", 1, "AKIA…ZZZZ"),
        ("GitHub personal access token", 4, "ghp_…xxxx"),
        ("GitHub fine-grained personal access token", 6, "github_pat_…A1_b"),
        ("Private key", 7, "-----BEGIN EC PRIVATE KEY-----"),
    ]


def test_the_refusal_lists_at_most_fifty_and_counts_the_rest():
    findings = [
        pre_receive.Finding(
            commit="c" * 40,
            oid="o",
            path=f"f{n}.txt",
            found=Found(value=token_generate("glpat-"), prefix="glpat-", line=1),
        )
        for n in range(pre_receive.SHOWN_MAX + 7)
    ]
    lines = pre_receive.refusal(findings)
    assert sum(line.startswith("-- ") for line in lines) == pre_receive.SHOWN_MAX
    assert "... and 7 more." in lines
    assert (
        lines.count(f"Secret push protection found the following secrets in commit: {'c' * 40}")
        == 1
    )


def test_the_hook_is_executable_and_imports_no_django():
    assert os.access(HOOKS_DIRECTORY / "pre-receive", os.X_OK)
    loaded = subprocess.run(
        [
            sys.executable,
            "-S",
            "-c",
            "import sys, tokens_site.git_http.pre_receive; print('django' in sys.modules)",
        ],
        env={"PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip() == "False"


@pytest.mark.django_db
def test_the_report_becomes_audit_events_and_finds_on_our_tokens():
    project = ProjectFactory()
    pusher = UserFactory()
    principal = Principal(kind=Kind.PERSONAL_TOKEN, username=pusher.username, user=pusher)
    personal, personal_value = make_personal_token()
    deploy, deploy_value = make_deploy_token(project)
    report = {
        "refs": ["refs/heads/main"],
        "findings": [
            {"commit": "c", "path": "a", "line": 1, "kind": "k", "masked": "m", "digest": d}
            for d in (token_digest(personal_value), token_digest(deploy_value), "0" * 64)
        ],
    }
    record_report(report, project=project, principal=principal, ip_address="192.0.2.1")
    block = AuditEvent.objects.get(action=AuditAction.SECRET_PUSH_PROTECTION_BLOCK)
    assert (block.target_id, block.actor, block.ip_address) == (
        str(project.pk),
        pusher,
        "192.0.2.1",
    )
    assert block.details["pushed_by"] == pusher.username
    assert all("digest" not in item for item in block.details["findings"])
    finds = AuditEvent.objects.filter(action=AuditAction.TOKEN_LEAK_FIND)
    assert sorted((e.target_type, e.target_id) for e in finds) == sorted(
        [("personalaccesstoken", str(personal.pk)), ("deploytoken", str(deploy.pk))]
    )
    assert {e.details["found_in"] for e in finds} == {f"a push to {project.full_path}"}

    record_report(
        {"skipped": True, "refs": ["refs/heads/x"]},
        project=project,
        principal=principal,
        ip_address=None,
    )
    assert AuditEvent.objects.get(action=AuditAction.SECRET_PUSH_PROTECTION_SKIP).details[
        "refs"
    ] == ["refs/heads/x"]


@pytest.mark.django_db
def test_push_protection_follows_the_instance_settings(tmp_path):
    instance = InstanceSettings.current()
    instance.secret_push_protection_enabled = False
    assert PushProtection.for_push(instance) is None
    instance.secret_push_protection_enabled = True
    instance.secret_push_protection_third_party = True
    protection = PushProtection.for_push(instance)
    assert protection.config == {"core.hooksPath": str(HOOKS_DIRECTORY)}
    assert protection.environment["TOKENS_PUSH_THIRD_PARTY"] == "1"
    # A push that never reached the hook leaves an empty report: nothing recorded, file gone.
    protection.record(
        project=ProjectFactory(), principal=Principal(kind=Kind.ANONYMOUS), ip_address=None
    )
    assert not protection.report.exists()
    assert not AuditEvent.objects.filter(action__startswith="secret_push_protection.").exists()
