"""The dependency proxy at the HTTP level (issue 19), against a small upstream registry served
by a thread here (it answers what each test tells it: good content, wrong digests, 500s, or
nothing in time): the token service's rules, caching, the upstream's failures (502, or the
cache), bad names, purging, and the group page. The real skopeo is in
tests/e2e/test_dependency_proxy.py."""

import base64
import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.factories import (
    GroupFactory,
    MembershipFactory,
    UserFactory,
    make_deploy_token,
    make_personal_token,
)
from tokens_site.models import (
    AccessLevel,
    DependencyProxyBlob,
    DependencyProxyManifest,
    InstanceSettings,
)

pytestmark = pytest.mark.django_db

LAYER = b"layer bytes" * 100
LAYER_DIGEST = "sha256:" + hashlib.sha256(LAYER).hexdigest()
MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": LAYER_DIGEST,
            "size": len(LAYER),
        },
        "layers": [],
    }
).encode()
MANIFEST_DIGEST = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()


class Upstream:
    """What the fake upstream answers: `mode` is "good", "bad-digest", "error" or "slow"."""

    mode = "good"
    requests: list[str] = []


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_HEAD(self):
        self.do_GET(head=True)

    def do_GET(self, head=False):
        Upstream.requests.append(f"{self.command} {self.path}")
        if Upstream.mode == "slow":
            time.sleep(1.5)
        if Upstream.mode == "error":
            self.send_response(500)
            self.end_headers()
            return
        if "/manifests/" in self.path:
            body, digest = MANIFEST, MANIFEST_DIGEST
            kind = "application/vnd.oci.image.manifest.v1+json"
        elif self.path.endswith(LAYER_DIGEST):
            body, digest, kind = LAYER, LAYER_DIGEST, "application/octet-stream"
        else:
            self.send_response(404)
            self.end_headers()
            return
        if Upstream.mode == "bad-digest":
            body = body + b" tampered"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Docker-Content-Digest", digest)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)


@pytest.fixture
def upstream(settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    Upstream.mode, Upstream.requests = "good", []
    instance = InstanceSettings.current()
    instance.dependency_proxy_upstream_url = f"http://127.0.0.1:{server.server_address[1]}"
    instance.save()
    settings.DEPENDENCY_PROXY_TIMEOUT_SECONDS = 0.5
    yield Upstream
    server.shutdown()
    server.server_close()


@pytest.fixture
def group():
    return GroupFactory(path="tanuki")


NAME = "tanuki/dependency_proxy/containers/tiny"


def basic(username, secret) -> dict:
    return {
        "HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode()
    }


def bearer_for(client, auth, name=NAME) -> dict:
    answer = client.get(
        "/jwt/auth", {"service": "dependency_proxy", "scope": f"repository:{name}:pull"}, **auth
    )
    assert answer.status_code == 200, answer.content
    return {"HTTP_AUTHORIZATION": f"Bearer {answer.json()['token']}"}


@pytest.fixture
def puller(client, group):
    token, value = make_deploy_token(group, scopes=["read_registry", "write_registry"])
    return bearer_for(client, basic(token.username, value))


def test_the_version_check_sends_clients_to_the_token_service(client):
    answer = client.get("/v2/")
    assert answer.status_code == 401
    assert answer["WWW-Authenticate"] == (
        'Bearer realm="http://127.0.0.1:8000/jwt/auth",service="dependency_proxy"'
    )


def test_pull_caches_and_serves_the_cache_when_the_upstream_fails(client, group, upstream, puller):
    manifest = client.get(f"/v2/{NAME}/manifests/v1", **puller)
    assert manifest.status_code == 200
    assert manifest.content == MANIFEST and manifest["Docker-Content-Digest"] == MANIFEST_DIGEST
    blob = client.get(f"/v2/{NAME}/blobs/{LAYER_DIGEST}", **puller)
    assert b"".join(blob.streaming_content) == LAYER
    assert DependencyProxyBlob.objects.filter(group=group).count() == 1
    # The tag is checked with a HEAD; the blob is not asked for again.
    upstream.requests.clear()
    assert client.get(f"/v2/{NAME}/manifests/v1", **puller).status_code == 200
    assert client.get(f"/v2/{NAME}/blobs/{LAYER_DIGEST}", **puller).status_code == 200
    assert upstream.requests == ["HEAD /v2/tiny/manifests/v1"]
    # The upstream answers 500, then nothing in time: the cache serves.
    for mode in ("error", "slow"):
        upstream.mode = mode
        assert client.get(f"/v2/{NAME}/manifests/v1", **puller).status_code == 200
        assert client.get(f"/v2/{NAME}/manifests/{MANIFEST_DIGEST}", **puller).status_code == 200


@pytest.mark.parametrize("mode", ["error", "slow", "bad-digest"])
def test_upstream_failures_are_502_with_the_reason_and_nothing_cached(
    client, group, upstream, puller, mode
):
    upstream.mode = mode
    manifest = client.get(f"/v2/{NAME}/manifests/v1", **puller)
    assert manifest.status_code == 502
    message = manifest.json()["errors"][0]["message"]
    assert {
        "error": "answered 500",
        "slow": "could not be reached",
        "bad-digest": "does not match",
    }[mode] in message
    blob = client.get(f"/v2/{NAME}/blobs/{LAYER_DIGEST}", **puller)
    assert blob.status_code == 502
    assert not DependencyProxyManifest.objects.exists()
    assert not DependencyProxyBlob.objects.exists()


def test_bad_names_and_references_are_400(client, group, upstream, puller):
    assert (
        client.get(
            "/v2/tanuki/dependency_proxy/containers/Bad_Name/manifests/v1", **puller
        ).status_code
        == 400
    )
    assert client.get(f"/v2/{NAME}/blobs/sha256:nothex", **puller).status_code == 400
    assert client.get(f"/v2/{NAME}/manifests/{'x' * 300}", **puller).status_code == 400


def test_the_token_services_rules(client, group, upstream):
    scope = {"service": "dependency_proxy", "scope": f"repository:{NAME}:pull"}
    reader, reader_value = make_deploy_token(group, scopes=["read_registry"])
    refused = client.get("/jwt/auth", scope, **basic(reader.username, reader_value))
    assert refused.status_code == 403
    assert "lacks write_registry" in refused.json()["errors"][0]["message"]
    # Another group's deploy token gets nothing (and learns nothing of the group).
    other, other_value = make_deploy_token(
        GroupFactory(path="other"), scopes=["read_registry", "write_registry"]
    )
    foreign = bearer_for(client, basic(other.username, other_value))
    assert client.get(f"/v2/{NAME}/manifests/v1", **foreign).status_code == 401
    assert client.get("/jwt/auth", scope).status_code == 401
    missing = {
        "service": "dependency_proxy",
        "scope": "repository:nogroup/dependency_proxy/containers/x:pull",
    }
    assert client.get("/jwt/auth", missing).status_code == 401  # anonymous: the same either way
    # A member (Guest) with a personal token pulls; an outsider's token grants nothing.
    member = UserFactory()
    MembershipFactory(user=member, group=group, access_level=AccessLevel.GUEST)
    _, member_token = make_personal_token(member, scopes=["read_registry", "write_registry"])
    granted = bearer_for(client, basic("x", member_token))
    assert client.get(f"/v2/{NAME}/manifests/v1", **granted).status_code == 200
    _, outsider_token = make_personal_token(UserFactory(), scopes=["api"])
    nothing = bearer_for(client, basic("x", outsider_token))
    assert client.get(f"/v2/{NAME}/manifests/v1", **nothing).status_code == 401
    # A container-registry token is not a dependency proxy token.
    assert client.get(f"/v2/{NAME}/manifests/v1").status_code == 401


def test_purging_the_cache_and_its_size_on_the_group_page(client, group, upstream, puller):
    client.get(f"/v2/{NAME}/manifests/v1", **puller)
    client.get(f"/v2/{NAME}/blobs/{LAYER_DIGEST}", **puller)
    owner, maintainer = UserFactory(), UserFactory()
    MembershipFactory(user=owner, group=group, access_level=AccessLevel.OWNER)
    MembershipFactory(user=maintainer, group=group, access_level=AccessLevel.MAINTAINER)
    client.force_login(owner)
    page = client.get("/groups/tanuki").content.decode()
    assert "Dependency proxy" in page and "cached" in page
    assert "/tanuki/dependency_proxy/containers/alpine:latest" in page
    url = f"/api/v4/groups/{group.pk}/dependency_proxy/cache"
    _, maintainer_token = make_personal_token(maintainer, scopes=["api"])
    refused = client.delete(url, HTTP_PRIVATE_TOKEN=maintainer_token)
    assert refused.status_code == 403
    _, owner_token = make_personal_token(owner, scopes=["api"])
    assert client.delete(url, HTTP_PRIVATE_TOKEN=owner_token).status_code == 202
    assert not DependencyProxyBlob.objects.exists() and not DependencyProxyManifest.objects.exists()


def test_a_unicode_tag_is_refused_and_blobs_leave_with_their_group(
    client, group, upstream, puller, settings, django_capture_on_commit_callbacks
):
    from pathlib import Path

    assert client.get(f"/v2/{NAME}/manifests/%C3%A9t%C3%A9", **puller).status_code == 400
    client.get(f"/v2/{NAME}/blobs/{LAYER_DIGEST}", **puller)
    assert [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]
    with django_capture_on_commit_callbacks(execute=True):
        group.delete()
    assert not [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]
