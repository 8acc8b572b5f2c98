"""The dependency proxy with the real `skopeo` (issue 19): a group deploy token with
`read_registry` and `write_registry` pulls an image through the site from an upstream registry
(Debian's docker-registry, started here), which is then stopped: the second pull is served from
the cache. A token with `read_registry` only is refused, naming what it lacks."""

import pytest

from tests.e2e.conftest import require_program, start_docker_registry, stop_process
from tests.e2e.test_registry import build_oci_image, skopeo
from tests.factories import (
    GroupFactory,
    MembershipFactory,
    UserFactory,
    make_deploy_token,
    make_personal_token,
)
from tokens_site.models import AccessLevel, DependencyProxyBlob, InstanceSettings

pytestmark = pytest.mark.e2e


@pytest.fixture
def upstream(tmp_path, transactional_db):
    """docker-registry without authentication on loopback: the "upstream" registry."""
    require_program("skopeo")
    process, host = start_docker_registry(tmp_path, "upstream")
    instance = InstanceSettings.current()
    instance.dependency_proxy_upstream_url = f"http://{host}"
    instance.save()
    yield {"host": host, "process": process}
    stop_process(process)


def pull(source: str, creds: str, destination, check=True):
    return skopeo(
        "copy",
        "--src-tls-verify=false",
        "--src-creds",
        creds,
        f"docker://{source}",
        f"oci:{destination}:v1",
        check=check,
    )


def test_pull_through_the_proxy_then_from_the_cache_with_the_upstream_down(
    site_server, upstream, tmp_path
):
    image = build_oci_image(tmp_path / "tiny")
    skopeo(
        "copy", "--dest-tls-verify=false", f"oci:{image}:v1", f"docker://{upstream['host']}/tiny:v1"
    )
    group = GroupFactory(path="tanuki")
    token, value = make_deploy_token(group, scopes=["read_registry", "write_registry"])
    proxied = f"{site_server.host}/tanuki/dependency_proxy/containers/tiny:v1"
    pull(proxied, f"{token.username}:{value}", tmp_path / "first")
    assert DependencyProxyBlob.objects.filter(group=group).count() == 2  # config and layer

    upstream["process"].terminate()
    upstream["process"].wait(timeout=10)
    pull(proxied, f"{token.username}:{value}", tmp_path / "second")
    first = sorted(p.name for p in (tmp_path / "first" / "blobs" / "sha256").iterdir())
    second = sorted(p.name for p in (tmp_path / "second" / "blobs" / "sha256").iterdir())
    assert first == second

    # A member's personal token pulls too; a token with read_registry only is refused.
    member = UserFactory()
    MembershipFactory(user=member, group=group, access_level=AccessLevel.GUEST)
    _, personal = make_personal_token(member, scopes=["read_registry", "write_registry"])
    pull(proxied, f"{member.username}:{personal}", tmp_path / "third")
    reader, reader_value = make_deploy_token(group, scopes=["read_registry"])
    refused = pull(proxied, f"{reader.username}:{reader_value}", tmp_path / "fourth", check=False)
    assert refused.returncode != 0
    # skopeo shows the status only; the reason is the token service's body (tests/site).
    assert "Requesting bearer token" in refused.stderr and "403" in refused.stderr
