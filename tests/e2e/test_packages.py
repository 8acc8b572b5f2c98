"""The package registry with the real clients against the site under gunicorn: twine uploads,
pip installs, curl PUT/GET of generic files with every way of passing a token."""

import json
import os
import socket
import subprocess
import sys
from urllib.parse import quote

import pytest

from tests.e2e.conftest import require_program
from tests.factories import (
    GroupFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    make_deploy_token,
    make_personal_token,
)
from tests.wheels import build_sdist, build_wheel
from tokens_site.models import AccessLevel, InstanceSettings
from tokens_site.packages.models import PackageFile

pytestmark = pytest.mark.e2e


def run(*command, env=None, check=True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", **(env or {})},
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{command[0]} failed:\n{result.stdout}\n{result.stderr}")
    return result


def twine_upload(server, project, username, password, *files, skip_existing=False, check=True):
    command = [
        sys.executable,
        "-m",
        "twine",
        "upload",
        "--non-interactive",
        "--disable-progress-bar",
        "--repository-url",
        f"{server.url}/api/v4/projects/{project.pk}/packages/pypi",
        "--username",
        username,
        "--password",
        password,
    ]
    if skip_existing:
        command.append("--skip-existing")
    return run(*command, *map(str, files), check=check)


def pip_install(server, project, username, password, target, package="tinypkg", check=True):
    index = (
        f"http://{quote(username, safe='')}:{quote(password, safe='')}@{server.host}"
        f"/api/v4/projects/{project.pk}/packages/pypi/simple"
    )
    return run(
        sys.executable,
        "-m",
        "pip",
        "install",
        "--no-cache-dir",
        "--no-deps",
        "--target",
        str(target),
        "--index-url",
        index,
        package,
        check=check,
    )


@pytest.fixture
def project(transactional_db):
    return ProjectFactory(group=GroupFactory(path="tanuki"), path="app")


def test_twine_and_pip_with_a_deploy_token(site_server, project, tmp_path):
    writer, write_value = make_deploy_token(project, scopes=["write_package_registry"])
    reader, read_value = make_deploy_token(project, scopes=["read_package_registry"])
    wheel, sdist = build_wheel(tmp_path), build_sdist(tmp_path)
    twine_upload(site_server, project, writer.username, write_value, wheel, sdist)
    stored = PackageFile.objects.filter(package__project=project).order_by("file_name")
    assert [item.file_name for item in stored] == [
        "tinypkg-1.0.0-py3-none-any.whl",
        "tinypkg-1.0.0.tar.gz",
    ]
    pip_install(site_server, project, reader.username, read_value, tmp_path / "site")
    assert (tmp_path / "site" / "tinypkg" / "__init__.py").read_text() == 'VERSION = "1.0.0"\n'


def test_upload_refused_with_only_read_package_registry(site_server, project, tmp_path):
    reader, value = make_deploy_token(project, scopes=["read_package_registry"])
    refused = twine_upload(
        site_server, project, reader.username, value, build_wheel(tmp_path), check=False
    )
    assert refused.returncode != 0
    assert "403" in refused.stdout + refused.stderr
    assert "needs write_package_registry" in refused.stdout + refused.stderr
    assert not PackageFile.objects.exists()


def test_twine_and_pip_with_a_personal_token_and_skip_existing(site_server, project, tmp_path):
    developer = UserFactory()
    MembershipFactory(user=developer, project=project, access_level=AccessLevel.DEVELOPER)
    _, value = make_personal_token(developer, scopes=["api"])
    wheel = build_wheel(tmp_path, version="2.0.0")
    twine_upload(site_server, project, "__token__", value, wheel)
    again = twine_upload(site_server, project, "__token__", value, wheel, check=False)
    assert again.returncode != 0 and "already exists" in again.stdout + again.stderr
    skipped = twine_upload(site_server, project, "__token__", value, wheel, skip_existing=True)
    assert "Skipping" in skipped.stdout + skipped.stderr
    assert PackageFile.objects.count() == 1

    reporter = UserFactory()
    MembershipFactory(user=reporter, project=project, access_level=AccessLevel.REPORTER)
    _, read_value = make_personal_token(reporter, scopes=["read_api"])
    pip_install(site_server, project, "anything", read_value, tmp_path / "site", "tinypkg==2.0.0")
    assert "2.0.0" in (tmp_path / "site" / "tinypkg" / "__init__.py").read_text()
    wrong = pip_install(
        site_server, project, "anything", "glpat-" + "x" * 32, tmp_path / "x", check=False
    )
    assert wrong.returncode != 0


def test_curl_put_and_get_a_generic_file_with_each_header_form(site_server, project, tmp_path):
    curl = require_program("curl")
    deploy, deploy_value = make_deploy_token(
        project, scopes=["read_package_registry", "write_package_registry"]
    )
    maintainer = UserFactory()
    MembershipFactory(user=maintainer, project=project, access_level=AccessLevel.MAINTAINER)
    _, personal_value = make_personal_token(maintainer, scopes=["api"])
    payload = tmp_path / "release.tar.gz"
    payload.write_bytes(os.urandom(300_000))
    base = f"{site_server.url}/api/v4/projects/{project.pk}/packages/generic/tool"
    credentials = {
        "basic": ["--user", f"{deploy.username}:{deploy_value}"],
        "private": ["--header", f"PRIVATE-TOKEN: {personal_value}"],
        "deploy": ["--header", f"Deploy-Token: {deploy_value}"],
    }
    for number, (form, auth) in enumerate(credentials.items()):
        url = f"{base}/1.{number}.0/release.tar.gz"
        put = run(
            curl,
            "--silent",
            "--show-error",
            "--fail-with-body",
            *auth,
            "--upload-file",
            str(payload),
            url,
        )
        assert put.stdout == '{"message": "201 Created"}', form
        out = tmp_path / f"downloaded-{form}"
        run(curl, "--silent", "--show-error", "--fail", *auth, "--output", str(out), url)
        assert out.read_bytes() == payload.read_bytes(), form
    anonymous = run(
        curl,
        "--silent",
        "--output",
        "/dev/null",
        "--write-out",
        "%{http_code}",
        f"{base}/1.0.0/release.tar.gz",
    )
    assert anonymous.stdout == "401"


def test_generic_uploads_refuse_traversal_bad_names_and_oversized_bodies(
    site_server, project, tmp_path
):
    curl = require_program("curl")
    _deploy, value = make_deploy_token(project, scopes=["write_package_registry"])
    base = f"{site_server.url}/api/v4/projects/{project.pk}/packages/generic"
    body = tmp_path / "body"
    body.write_bytes(b"x" * 2 * 1024 * 1024)

    def put(url, *extra):
        return run(
            curl,
            "--silent",
            "--path-as-is",
            "--header",
            f"Deploy-Token: {value}",
            "--upload-file",
            str(body),
            "--write-out",
            "\n%{http_code}",
            *extra,
            url,
            check=False,
        ).stdout

    assert put(f"{base}/tool/1.0.0/..%2F..%2Fetc%2Fpasswd").endswith("400")
    assert put(f"{base}/tool/1.0.0/.hidden").endswith("400")
    assert put(f"{base}/bad%20name/1.0.0/file.bin").endswith("400")
    instance = InstanceSettings.current()
    instance.package_file_max_size_mb = 1
    instance.save()
    too_big = put(f"{base}/tool/1.0.0/file.bin")
    assert too_big.endswith("413") and "limit is 1 MiB" in too_big
    chunked = put(f"{base}/tool/1.0.0/file.bin", "--header", "Transfer-Encoding: chunked")
    assert chunked.endswith("413")
    assert not PackageFile.objects.exists()
    assert not any((site_server.log_path.parent / "media").rglob("*.bin"))


def test_curl_streams_a_chunked_generic_upload_from_stdin(site_server, project, tmp_path):
    curl = require_program("curl")
    _deploy, value = make_deploy_token(
        project, scopes=["read_package_registry", "write_package_registry"]
    )
    payload = os.urandom(700_000)
    url = f"{site_server.url}/api/v4/projects/{project.pk}/packages/generic/tool/2.0.0/tool.bin"
    auth = ["--header", f"Deploy-Token: {value}"]
    upload_stdin = ["--upload-file", "-", url]
    put = subprocess.run(
        [curl, "--silent", "--show-error", "--fail-with-body", "--verbose", *auth, *upload_stdin],
        input=payload,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert put.returncode == 0, put.stderr.decode()
    assert b"Transfer-Encoding: chunked" in put.stderr  # curl's own report of what it sent
    assert put.stdout == b'{"message": "201 Created"}'
    out = tmp_path / "downloaded"
    run(curl, "--silent", "--show-error", "--fail", *auth, "--output", str(out), url)
    assert out.read_bytes() == payload
    assert PackageFile.objects.get().size == len(payload)


def send_and_hang_up(server, head: str, body: bytes) -> tuple[int, str]:
    """Send a request's head and part of its body, close our side as a client that went away
    does, and return the status and body of the answer."""
    host, port = server.host.split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(head.encode() + body)
        sock.shutdown(socket.SHUT_WR)
        sock.settimeout(30)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    status_line, _, rest = received.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2].decode()


def test_a_generic_upload_cut_short_under_gunicorn_is_refused(site_server, project, tmp_path):
    _deploy, value = make_deploy_token(project, scopes=["write_package_registry"])
    path = f"/api/v4/projects/{project.pk}/packages/generic/tool/1.0.0/tool.bin"
    head = f"PUT {path} HTTP/1.1\r\nHost: {site_server.host}\r\nDeploy-Token: {value}\r\n"
    status, body = send_and_hang_up(site_server, head + "Content-Length: 1000\r\n\r\n", b"x" * 10)
    assert (status, json.loads(body)) == (
        400,
        {"message": "The upload was incomplete: received 10 of 1000 bytes."},
    )
    chunked_status, chunked_body = send_and_hang_up(
        site_server, head + "Transfer-Encoding: chunked\r\n\r\n", b"3e8\r\n" + b"x" * 10
    )
    assert chunked_status == 400 and "upload was interrupted after" in chunked_body
    assert not PackageFile.objects.exists()
    assert not any(path.is_file() for path in (site_server.log_path.parent / "media").rglob("*"))
