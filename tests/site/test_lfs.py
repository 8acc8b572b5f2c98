"""Git LFS at the HTTP level (issue 19): the batch API, transfers, verify and locks, their
refusals (nothing stored), the token rules, and the batch's query count, constant in the number
of objects. The real `git lfs` is in tests/e2e/test_lfs.py."""

import base64
import hashlib
import json
from pathlib import Path

import pytest

from tests.factories import (
    GroupFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    make_deploy_token,
    make_personal_token,
)
from tokens_site.models import AccessLevel, InstanceSettings, LfsLock, LfsObject

pytestmark = pytest.mark.django_db


@pytest.fixture
def project():
    return ProjectFactory(group=GroupFactory(path="tanuki"), path="app")


def basic(username: str, secret: str) -> dict:
    return {
        "HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode()
    }


@pytest.fixture
def developer(project):
    user = UserFactory()
    MembershipFactory(user=user, project=project, access_level=AccessLevel.DEVELOPER)
    _, value = make_personal_token(user, scopes=["read_repository", "write_repository"])
    return user, basic("x", value)


def lfs_object(content: bytes) -> dict:
    return {"oid": hashlib.sha256(content).hexdigest(), "size": len(content)}


def batch(client, project, auth, operation, objects):
    return client.post(
        f"/{project.full_path}.git/info/lfs/objects/batch",
        json.dumps({"operation": operation, "transfers": ["basic"], "objects": objects}),
        content_type="application/vnd.git-lfs+json",
        **auth,
    )


def put_object(client, url: str, content: bytes, auth):
    return client.generic("PUT", url, content, content_type="application/octet-stream", **auth)


def local(href: str) -> str:
    return href.removeprefix("http://testserver")


def assert_nothing_stored(settings):
    assert not LfsObject.objects.exists()
    assert not [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]


def test_upload_verify_and_download_through_the_batch_api(client, project, developer):
    _, auth = developer
    content = b"large file content" * 100
    item = lfs_object(content)
    response = batch(client, project, auth, "upload", [item])
    assert response.status_code == 200
    assert response["Content-Type"] == "application/vnd.git-lfs+json"
    assert "no-store" in response["Cache-Control"]
    [answer] = response.json()["objects"]
    assert "header" not in answer["actions"]["upload"]  # credentials never echoed
    upload = put_object(client, local(answer["actions"]["upload"]["href"]), content, auth)
    assert upload.status_code == 200
    verify = client.post(
        local(answer["actions"]["verify"]["href"]),
        json.dumps(item),
        content_type="application/vnd.git-lfs+json",
        **auth,
    )
    assert verify.status_code == 200
    # Uploading it again: nothing to do.
    assert "actions" not in batch(client, project, auth, "upload", [item]).json()["objects"][0]
    # A read-only deploy token downloads it.
    token, secret = make_deploy_token(project, scopes=["read_repository"])
    reader = basic(token.username, secret)
    [found] = batch(client, project, reader, "download", [item]).json()["objects"]
    download = client.get(local(found["actions"]["download"]["href"]), **reader)
    assert b"".join(download.streaming_content) == content
    missing = lfs_object(b"never uploaded")
    [absent] = batch(client, project, reader, "download", [missing]).json()["objects"]
    assert absent["error"]["code"] == 404


def test_the_token_rules_are_gits(client, project, developer):
    token, secret = make_deploy_token(project, scopes=["read_repository"])
    reader = basic(token.username, secret)
    refused = batch(client, project, reader, "upload", [lfs_object(b"x")])
    assert refused.status_code == 403
    assert "message" in refused.json()
    assert batch(client, project, {}, "download", [lfs_object(b"x")]).status_code == 401
    outsider = basic("x", make_personal_token(UserFactory(), scopes=["read_repository"])[1])
    assert batch(client, project, outsider, "download", [lfs_object(b"x")]).status_code == 404


@pytest.mark.parametrize(
    ("objects", "status", "reason"),
    [
        ([{"oid": "not-hex", "size": 1}], 422, "64 hex digits"),
        ([{"oid": "A" * 64, "size": 1}], 422, "64 hex digits"),
        ([{"oid": "a" * 64, "size": -1}], 422, "whole number"),
        ([{"oid": "a" * 64, "size": "1"}], 422, "whole number"),
        ([], 422, "must be a list"),
        ([{"oid": f"{n:064x}", "size": 1} for n in range(10_000)], 413, "at most 1000"),
    ],
)
def test_bad_batch_requests_are_4xx_with_the_reason(
    client, project, developer, settings, objects, status, reason
):
    _, auth = developer
    response = batch(client, project, auth, "upload", objects)
    assert response.status_code == status
    assert reason in response.json()["message"]
    assert_nothing_stored(settings)


def test_uploads_whose_size_or_sha256_do_not_match_store_nothing(
    client, project, developer, settings
):
    _, auth = developer
    content = b"abc" * 1000
    item = lfs_object(content)
    base = f"/{project.full_path}.git/gitlab-lfs/objects"
    short = put_object(client, f"{base}/{item['oid']}/{item['size']}", content[:-1], auth)
    assert short.status_code == 400 and "not the object's size" in short.json()["message"]
    long = put_object(client, f"{base}/{item['oid']}/{item['size']}", content + b"!", auth)
    assert long.status_code == 400 and "larger than the object's size" in long.json()["message"]
    other = b"xyz" * 1000
    damaged = put_object(client, f"{base}/{item['oid']}/{item['size']}", other, auth)
    assert damaged.status_code == 400 and "sha256" in damaged.json()["message"]
    assert_nothing_stored(settings)


def test_objects_over_the_instance_limit_are_refused(client, project, developer, settings):
    _, auth = developer
    instance = InstanceSettings.current()
    instance.lfs_object_max_size_mb = 1
    instance.save()
    big = {"oid": "b" * 64, "size": 2 * 1024 * 1024}
    [answer] = batch(client, project, auth, "upload", [big]).json()["objects"]
    assert answer["error"]["code"] == 422 and "1 MiB" in answer["error"]["message"]
    direct = put_object(
        client, f"/{project.full_path}.git/gitlab-lfs/objects/{big['oid']}/{big['size']}", b"", auth
    )
    assert direct.status_code == 413
    assert_nothing_stored(settings)


def test_the_batch_costs_the_same_queries_for_1_and_100_objects(client, project, developer):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _, auth = developer
    batch(client, project, auth, "download", [lfs_object(b"warm")])  # last used, settings
    counts = []
    for count in (1, 100):
        objects = [lfs_object(f"{count}-{n}".encode()) for n in range(count)]
        with CaptureQueriesContext(connection) as queries:
            assert batch(client, project, auth, "download", objects).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_locks_create_list_verify_and_unlock(client, project, developer):
    alice, alice_auth = developer
    bob = UserFactory()
    MembershipFactory(user=bob, project=project, access_level=AccessLevel.DEVELOPER)
    bob_auth = basic("x", make_personal_token(bob, scopes=["write_repository"])[1])
    base = f"/{project.full_path}.git/info/lfs/locks"

    def post(url, body, auth):
        return client.post(
            url, json.dumps(body), content_type="application/vnd.git-lfs+json", **auth
        )

    created = post(base, {"path": "a.bin", "ref": {"name": "refs/heads/main"}}, alice_auth)
    assert created.status_code == 201
    lock = created.json()["lock"]
    assert lock["owner"]["name"] == alice.username
    conflict = post(base, {"path": "a.bin"}, bob_auth)
    assert conflict.status_code == 409 and conflict.json()["lock"]["id"] == lock["id"]
    assert post(base, {"path": "x" * 10_240}, bob_auth).status_code == 422
    listed = client.get(f"{base}?path=a.bin", **bob_auth).json()
    assert [item["path"] for item in listed["locks"]] == ["a.bin"]
    verify = post(f"{base}/verify", {"ref": {"name": "refs/heads/main"}}, bob_auth).json()
    assert (len(verify["ours"]), len(verify["theirs"])) == (0, 1)
    assert post(f"{base}/{lock['id']}/unlock", {}, bob_auth).status_code == 403
    assert post(f"{base}/{lock['id']}/unlock", {"force": True}, bob_auth).status_code == 403
    assert post(f"{base}/{lock['id']}/unlock", {}, alice_auth).status_code == 200
    assert not LfsLock.objects.exists()
    # A deploy token reads no locks (it cannot write) and holds none.
    token, secret = make_deploy_token(project, scopes=["read_repository"])
    assert client.get(base, **basic(token.username, secret)).status_code == 403


def test_lfs_objects_count_toward_the_storage_on_the_project_page(client, project, developer):
    user, auth = developer
    content = b"z" * 2048
    item = lfs_object(content)
    base = f"/{project.full_path}.git/gitlab-lfs/objects"
    assert (
        put_object(client, f"{base}/{item['oid']}/{item['size']}", content, auth).status_code == 200
    )
    client.force_login(user)
    page = client.get(f"/{project.full_path}").content.decode()
    assert "Storage: Git LFS 2.0\xa0KB (1 object)" in page


def test_odd_bodies_and_cursors_are_answered_not_crashed(client, project, developer):
    _, auth = developer
    deep = b'{"operation": "download", "objects": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    response = client.post(
        f"/{project.full_path}.git/info/lfs/objects/batch",
        deep,
        content_type="application/vnd.git-lfs+json",
        **auth,
    )
    assert response.status_code == 422
    locks = client.get(
        f"/{project.full_path}.git/info/lfs/locks?cursor=%C2%B2&limit=%C2%B2&id=%C2%B2", **auth
    )
    assert locks.status_code == 200


def test_odd_types_and_text_are_4xx(client, project, developer):
    _, auth = developer
    base = f"/{project.full_path}.git/info/lfs"

    def post(url, body):
        return client.post(
            url, json.dumps(body), content_type="application/vnd.git-lfs+json", **auth
        )

    item = lfs_object(b"x")
    assert (
        post(
            f"{base}/objects/batch", {"operation": "download", "transfers": 5, "objects": [item]}
        ).status_code
        == 422
    )
    assert (
        post(
            f"{base}/objects/batch",
            {"operation": "download", "hash_algo": "md5", "objects": [item]},
        ).status_code
        == 409
    )
    for size in ("abc", [1], {}, 2**70):
        assert post(f"{base}/objects/verify", {"oid": item["oid"], "size": size}).status_code == 404
    for path in ("a\ud800", "a\x00b"):
        assert post(f"{base}/locks", {"path": path}).status_code == 422
    assert not LfsLock.objects.exists()


def test_an_object_stored_with_another_size_is_said_so_and_files_leave_with_their_project(
    client, project, developer, settings, django_capture_on_commit_callbacks
):
    _, auth = developer
    content = b"q" * 100
    item = lfs_object(content)
    put_object(
        client, f"/{project.full_path}.git/gitlab-lfs/objects/{item['oid']}/100", content, auth
    )
    [answer] = batch(client, project, auth, "upload", [{**item, "size": 99}]).json()["objects"]
    assert answer["error"]["code"] == 422
    with django_capture_on_commit_callbacks(execute=True):
        project.delete()
    assert_nothing_stored(settings)


def test_an_anonymous_download_of_a_public_project(client, project, developer):
    from tokens_site.models import Visibility

    _, auth = developer
    content = b"public" * 10
    item = lfs_object(content)
    put_object(
        client,
        f"/{project.full_path}.git/gitlab-lfs/objects/{item['oid']}/{item['size']}",
        content,
        auth,
    )
    for place in (project.group, project):
        place.visibility = Visibility.PUBLIC
        place.save()
    [answer] = batch(client, project, {}, "download", [item]).json()["objects"]
    assert answer["actions"]["download"] == {
        "href": f"http://testserver/{project.full_path}.git/gitlab-lfs/objects/{item['oid']}"
    }
    download = client.get(local(answer["actions"]["download"]["href"]))
    assert b"".join(download.streaming_content) == content
