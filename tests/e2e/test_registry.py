"""skopeo against Debian's docker-registry configured for token auth with this site's
/jwt/auth: push and pull a small OCI image (built here) with deploy tokens."""

import gzip
import hashlib
import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.e2e.conftest import require_program, start_docker_registry, stop_process
from tests.factories import (
    GroupFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    make_deploy_token,
    make_personal_token,
)
from tests.processes import manage
from tokens_site.models import AccessLevel

pytestmark = pytest.mark.e2e


def _blob(directory: Path, data: bytes) -> dict:
    digest = hashlib.sha256(data).hexdigest()
    (directory / "blobs" / "sha256" / digest).write_bytes(data)
    return {"digest": f"sha256:{digest}", "size": len(data)}


def build_oci_image(directory: Path, tag: str = "v1") -> Path:
    """A one-layer OCI image layout (a text file in a tarball), no container engine needed."""
    (directory / "blobs" / "sha256").mkdir(parents=True)
    (directory / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    layer_tar = io.BytesIO()
    with tarfile.open(fileobj=layer_tar, mode="w") as tar:
        content = f"hello from {directory.name}\n".encode()
        info = tarfile.TarInfo("hello.txt")
        info.size, info.mtime = len(content), 0
        tar.addfile(info, io.BytesIO(content))
    uncompressed = layer_tar.getvalue()
    layer = _blob(directory, gzip.compress(uncompressed, mtime=0))
    config = _blob(
        directory,
        json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "config": {},
                "rootfs": {
                    "type": "layers",
                    "diff_ids": [f"sha256:{hashlib.sha256(uncompressed).hexdigest()}"],
                },
            }
        ).encode(),
    )
    manifest = _blob(
        directory,
        json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **config},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **layer}],
            }
        ).encode(),
    )
    (directory / "index.json").write_text(
        json.dumps(
            {
                "schemaVersion": 2,
                "manifests": [
                    {
                        "mediaType": "application/vnd.oci.image.manifest.v1+json",
                        **manifest,
                        "annotations": {"org.opencontainers.image.ref.name": tag},
                    }
                ],
            }
        )
    )
    return directory


def registry_auth_section(site_server, certificate: Path) -> str:
    """The `auth:` section `manage.py registry_config` prints for this site, as an operator
    pastes it into the registry's config.yml (the command writes the certificate too)."""
    printed = manage(
        "registry_config", "--certificate", str(certificate), EXTERNAL_URL=site_server.url
    )
    assert printed.returncode == 0, printed.stderr
    section = printed.stdout[printed.stdout.index("auth:\n") :]
    assert f"realm: {site_server.url}/jwt/auth" in section
    assert certificate.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    return section


@pytest.fixture
def registry(site_server, tmp_path):
    """docker-registry on loopback, configured with what `registry_config` prints for this
    site (so a working registry proves the command's output); stopped afterwards."""
    require_program("skopeo")
    auth = registry_auth_section(site_server, tmp_path / "certs" / "registry-token.crt")
    process, host = start_docker_registry(tmp_path, "registry", auth)
    yield host
    stop_process(process)


def skopeo(*args, check=True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        ["skopeo", "--insecure-policy", *args], capture_output=True, text=True, timeout=120
    )
    if check and result.returncode != 0:
        raise AssertionError(f"skopeo {' '.join(args)} failed:\n{result.stderr}")
    return result


def push(image: Path, target: str, creds: str, check=True):
    return skopeo(
        "copy",
        "--dest-tls-verify=false",
        "--dest-creds",
        creds,
        f"oci:{image}:v1",
        f"docker://{target}",
        check=check,
    )


def pull(source: str, creds: str, destination: Path, check=True):
    return skopeo(
        "copy",
        "--src-tls-verify=false",
        "--src-creds",
        creds,
        f"docker://{source}",
        f"oci:{destination}:v1",
        check=check,
    )


@pytest.fixture
def tanuki(transactional_db):
    top = GroupFactory(path="tanuki")
    return {"top": top, "project": ProjectFactory(group=top, path="app")}


def test_push_with_write_token_pull_with_read_token_and_read_only_push_refused(
    registry, tanuki, tmp_path
):
    project = tanuki["project"]
    writer, write_value = make_deploy_token(project, scopes=["read_registry", "write_registry"])
    reader, read_value = make_deploy_token(project, scopes=["read_registry"])
    image = build_oci_image(tmp_path / "image")
    target = f"{registry}/tanuki/app/web:v1"
    push(image, target, f"{writer.username}:{write_value}")
    pulled = tmp_path / "pulled"
    pull(target, f"{reader.username}:{read_value}", pulled)
    index = json.loads((pulled / "index.json").read_text())
    assert len(index["manifests"]) == 1
    refused = push(
        image, f"{registry}/tanuki/app/other:v1", f"{reader.username}:{read_value}", check=False
    )
    assert refused.returncode != 0
    assert "denied" in refused.stderr.lower() or "unauthorized" in refused.stderr.lower()
    wrong = pull(target, f"{reader.username}:gldt-{'A' * 32}", tmp_path / "nope", check=False)
    assert wrong.returncode != 0


def test_container_registry_page_lists_the_projects_images(
    registry, tanuki, tmp_path, client, settings
):
    from tests.factories import AdminFactory

    token, value = make_deploy_token(tanuki["project"], scopes=["read_registry", "write_registry"])
    image = build_oci_image(tmp_path / "image")
    push(image, f"{registry}/tanuki/app:v1", f"{token.username}:{value}")
    push(image, f"{registry}/tanuki/app/web:stable", f"{token.username}:{value}")
    settings.REGISTRY_URL = f"http://{registry}"
    client.force_login(AdminFactory())
    page = client.get("/tanuki/app/-/container_registry").content.decode()
    assert 'data-repository="tanuki/app"' in page and 'data-repository="tanuki/app/web"' in page
    assert "stable" in page and "v1" in page


def test_group_deploy_token_reaches_a_subgroup_projects_registry(registry, tanuki, tmp_path):
    deep = ProjectFactory(
        group=GroupFactory(parent=GroupFactory(parent=tanuki["top"], path="a"), path="b"),
        path="svc",
    )
    token, value = make_deploy_token(tanuki["top"], scopes=["read_registry", "write_registry"])
    image = build_oci_image(tmp_path / "image")
    push(image, f"{registry}/{deep.full_path}:v1", f"{token.username}:{value}")
    pull(f"{registry}/{deep.full_path}:v1", f"{token.username}:{value}", tmp_path / "out")
    other, other_value = make_deploy_token(
        GroupFactory(path="elsewhere"), scopes=["read_registry", "write_registry"]
    )
    refused = push(
        image, f"{registry}/{deep.full_path}:v2", f"{other.username}:{other_value}", check=False
    )
    assert refused.returncode != 0


def test_personal_token_of_a_developer_pushes_and_a_reporter_only_pulls(registry, tanuki, tmp_path):
    developer, reporter = UserFactory(), UserFactory()
    MembershipFactory(user=developer, group=tanuki["top"], access_level=AccessLevel.DEVELOPER)
    MembershipFactory(user=reporter, group=tanuki["top"], access_level=AccessLevel.REPORTER)
    _, dev_value = make_personal_token(developer, scopes=["api"])
    _, rep_value = make_personal_token(reporter, scopes=["read_registry", "write_registry"])
    image = build_oci_image(tmp_path / "image")
    push(image, f"{registry}/tanuki/app:v1", f"anything:{dev_value}")
    pull(f"{registry}/tanuki/app:v1", f"anything:{rep_value}", tmp_path / "out")
    assert (
        push(image, f"{registry}/tanuki/app:v2", f"anything:{rep_value}", check=False).returncode
        != 0
    )


def test_a_project_path_with_double_underscores_and_dashes_has_a_registry(
    registry, tanuki, tmp_path
):
    project = ProjectFactory(group=tanuki["top"], path="my__app--x")
    token, value = make_deploy_token(project, scopes=["read_registry", "write_registry"])
    image = build_oci_image(tmp_path / "image")
    push(image, f"{registry}/tanuki/my__app--x/web:v1", f"{token.username}:{value}")
    pull(f"{registry}/tanuki/my__app--x/web:v1", f"{token.username}:{value}", tmp_path / "out")
    assert json.loads((tmp_path / "out" / "index.json").read_text())["manifests"]
