"""The npm registry in process (issue 18): publish documents good and bad (nothing stored on a
refusal), the package document, tarballs, dist-tags, scopes, the instance level, duplicates
and the token rules. The real `npm` client is in tests/e2e/test_npm.py."""

import base64
import gzip
import hashlib
import io
import json
import tarfile
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
from tokens_site.models import AccessLevel, AuditAction, AuditEvent, InstanceSettings
from tokens_site.packages.models import Package, PackageFile, PackageTag

pytestmark = pytest.mark.django_db
NAME = "@tanuki/hello"


@pytest.fixture
def project():
    return ProjectFactory(group=GroupFactory(path="tanuki"), path="web")


def bearer(value: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {value}"}


@pytest.fixture
def writer(project):
    _, value = make_deploy_token(
        project, scopes=["read_package_registry", "write_package_registry"]
    )
    return bearer(value)


@pytest.fixture
def reader(project):
    _, value = make_deploy_token(project, scopes=["read_package_registry"])
    return bearer(value)


def tarball(version: str = "1.0.0") -> bytes:
    """The same bytes for the same version (gzip's header time is fixed)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        content = json.dumps({"name": NAME, "version": version}).encode()
        info = tarfile.TarInfo("package/package.json")
        info.size = len(content)
        archive.addfile(info, io.BytesIO(content))
    return gzip.compress(buffer.getvalue(), mtime=0)


def document(version="1.0.0", name=NAME, data: bytes | None = None, **changes) -> dict:
    """What `npm publish` sends."""
    data = tarball(version) if data is None else data
    integrity = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    body = {
        "_id": name,
        "name": name,
        "dist-tags": {"latest": version},
        "versions": {
            version: {
                "name": name,
                "version": version,
                "main": "index.js",
                "_id": f"{name}@{version}",
                "dist": {
                    "integrity": integrity,
                    "shasum": hashlib.sha1(data).hexdigest(),  # noqa: S324
                    "tarball": f"http://elsewhere/{name}/-/{name}-{version}.tgz",
                },
            }
        },
        "_attachments": {
            f"{name}-{version}.tgz": {
                "content_type": "application/octet-stream",
                "data": base64.b64encode(data).decode(),
                "length": len(data),
            }
        },
    }
    body.update(changes)
    return body


def publish(client, project, auth, body, name=NAME):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.generic(
        "PUT",
        f"/api/v4/projects/{project.pk}/packages/npm/{name.replace('/', '%2f')}",
        raw,
        content_type="application/json",
        **auth,
    )


def assert_nothing_stored(settings):
    assert not Package.objects.exists()
    assert not PackageFile.objects.exists()
    assert not [path for path in Path(settings.MEDIA_ROOT).rglob("*") if path.is_file()]


def test_publish_then_read_the_document_and_the_tarball(client, project, writer, reader):
    response = publish(client, project, writer, document())
    assert response.status_code == 200, response.content
    got = client.get(f"/api/v4/projects/{project.pk}/packages/npm/@tanuki%2fhello", **reader)
    assert got.status_code == 200
    body = got.json()
    assert body["name"] == NAME
    assert body["dist-tags"] == {"latest": "1.0.0"}
    manifest = body["versions"]["1.0.0"]
    assert manifest["main"] == "index.js" and "_id" not in manifest
    url = manifest["dist"]["tarball"]
    assert url == (
        f"http://testserver/api/v4/projects/{project.pk}/packages/npm/{NAME}/-/{NAME}-1.0.0.tgz"
    )
    download = client.get(url.removeprefix("http://testserver"), **reader)
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == tarball()
    event = AuditEvent.objects.get(action=AuditAction.PACKAGE_PUBLISH)
    assert event.details["package_type"] == "npm" and event.details["version"] == "1.0.0"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not a JSON document"),
        (b"[1]", "must be a JSON object"),
        ({**document(), "_attachments": {}}, "`_attachments` must hold"),
        (
            {key: value for key, value in document().items() if key != "_attachments"},
            "`_attachments` must hold",
        ),
        (document(data=b"x", version="1.0.0") | {"versions": document()["versions"]}, "integrity"),
        (document(version="1.0"), "not a valid SemVer 2 version"),
        (document(version="01.0.0"), "not a valid SemVer 2 version"),
        ({**document(), "versions": {}}, "exactly one version"),
        ({**document(), "name": "@tanuki/other"}, "publishes @tanuki/other"),
        (
            {
                **document(),
                "_attachments": {"x.tgz": {"data": "!!!not base64", "length": 3}},
            },
            "not valid base64",
        ),
        ({**document(), "dist-tags": {"1.2.3": "1.0.0"}}, "not a valid dist-tag"),
    ],
)
def test_bad_publish_documents_are_400_with_the_reason_and_nothing_stored(
    client, project, writer, settings, body, reason
):
    response = publish(client, project, writer, body)
    assert response.status_code == 400, response.content
    assert reason in response.json()["message"]
    assert_nothing_stored(settings)


def test_names_outside_the_projects_scope_or_invalid_are_refused(client, project, writer, settings):
    for name, reason in [
        ("@elsewhere/hello", "must be @tanuki"),
        ("hello", "not a valid package name"),
        ("@tanuki/Hello", "not a valid package name"),
    ]:
        response = publish(client, project, writer, document(name=name), name=name)
        assert response.status_code == 400, (name, response.content)
        assert reason in response.json()["message"]
    assert_nothing_stored(settings)


def test_a_duplicate_version_is_403_unless_the_instance_allows_it(client, project, writer):
    assert publish(client, project, writer, document()).status_code == 200
    again = publish(client, project, writer, document())
    assert again.status_code == 403
    assert "Package already exists" in again.json()["message"]
    instance = InstanceSettings.current()
    instance.package_duplicates_allowed = True
    instance.save()
    replaced = publish(client, project, writer, document(data=tarball("1.0.0") + b"\0"))
    assert replaced.status_code == 200
    assert Package.objects.count() == 1 and PackageFile.objects.count() == 1


def test_over_the_size_limit_is_413_and_nothing_stored(client, project, writer, settings):
    instance = InstanceSettings.current()
    instance.package_file_max_size_mb = 1
    instance.save()
    big = tarball() + b"\0" * (1024 * 1024)
    response = publish(client, project, writer, document(data=big))
    assert response.status_code == 413
    assert "too large" in response.json()["message"]
    assert_nothing_stored(settings)


def test_scopes_of_reading_and_writing(client, project, reader, writer):
    _, write_only = make_deploy_token(project, scopes=["write_package_registry"])
    refused = publish(client, project, reader, document())
    assert refused.status_code == 403
    assert publish(client, project, writer, document()).status_code == 200
    read = client.get(f"/api/v4/projects/{project.pk}/packages/npm/{NAME}", **bearer(write_only))
    assert read.status_code == 403
    anonymous = client.get(f"/api/v4/projects/{project.pk}/packages/npm/{NAME}")
    assert anonymous.status_code == 401
    assert anonymous["WWW-Authenticate"].startswith("Bearer")


def test_dist_tags_add_list_remove(client, project, writer, reader):
    publish(client, project, writer, document("1.0.0"))
    publish(
        client, project, writer, document("2.0.0-beta.1", **{"dist-tags": {"beta": "2.0.0-beta.1"}})
    )
    base = f"/api/v4/projects/{project.pk}/packages/npm/-/package/@tanuki%2fhello/dist-tags"
    assert client.get(base, **reader).json() == {"latest": "1.0.0", "beta": "2.0.0-beta.1"}
    put = client.generic(
        "PUT", f"{base}/stable", '"1.0.0"', content_type="application/json", **writer
    )
    assert put.status_code == 200
    missing = client.generic(
        "PUT", f"{base}/x", '"9.9.9"', content_type="application/json", **writer
    )
    assert missing.status_code == 404
    assert client.delete(f"{base}/beta", **reader).status_code == 403
    assert client.delete(f"{base}/beta", **writer).status_code == 200
    assert client.get(base, **reader).json() == {"latest": "1.0.0", "stable": "1.0.0"}
    assert PackageTag.objects.count() == 2


def test_the_instance_level_finds_the_package_by_scope_for_those_who_reach_it(
    client, project, writer
):
    publish(client, project, writer, document())
    member = UserFactory()
    MembershipFactory(user=member, project=project, access_level=AccessLevel.REPORTER)
    _, member_token = make_personal_token(member, scopes=["read_api"])
    _, outsider_token = make_personal_token(UserFactory(), scopes=["read_api"])
    url = "/api/v4/packages/npm/@tanuki%2fhello"
    found = client.get(url, **bearer(member_token))
    assert found.status_code == 200
    tarball_url = found.json()["versions"]["1.0.0"]["dist"]["tarball"]
    assert tarball_url.startswith("http://testserver/api/v4/packages/npm/")
    download = client.get(tarball_url.removeprefix("http://testserver"), **bearer(member_token))
    assert download.status_code == 200
    assert client.get(url, **bearer(outsider_token)).status_code == 404
    assert client.get(url).status_code == 401
    # A group deploy token reaches it too; another project of the scope cannot take the name.
    deep = ProjectFactory(group=GroupFactory(parent=GroupFactory(parent=project.group)))
    _, deep_writer = make_deploy_token(deep, scopes=["write_package_registry"])
    _, group_value = make_deploy_token(project.group, scopes=["read_package_registry"])
    taken = publish(client, deep, bearer(deep_writer), document("3.0.0"))
    assert taken.status_code == 403
    assert "published by another project of @tanuki (tanuki/web)" in taken.json()["message"]
    assert list(client.get(url, **bearer(group_value)).json()["versions"]) == ["1.0.0"]


def test_package_files_go_through_the_packages_storage_alias(
    client, project, writer, settings, tmp_path
):
    """Any storage by configuration (README: S3 with django-storages): here a second file
    system location stands for it."""
    elsewhere = tmp_path / "package-store"
    settings.STORAGES = {
        **settings.STORAGES,
        "packages": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(elsewhere)},
        },
    }
    assert publish(client, project, writer, document()).status_code == 200
    stored = [path.name for path in elsewhere.rglob("*") if path.is_file()]
    assert stored == ["hello-1.0.0.tgz"]
    assert not [path for path in Path(settings.MEDIA_ROOT).rglob("*") if path.is_file()]


def test_deleting_a_package_through_the_api_and_the_page_is_for_maintainers_and_audited(
    client, project, writer, settings, django_capture_on_commit_callbacks
):

    publish(client, project, writer, document("1.0.0"))
    publish(client, project, writer, document("2.0.0"))
    first, second = Package.objects.order_by("id")
    developer, maintainer = UserFactory(), UserFactory()
    MembershipFactory(user=developer, project=project, access_level=AccessLevel.DEVELOPER)
    MembershipFactory(user=maintainer, project=project, access_level=AccessLevel.MAINTAINER)
    _, developer_token = make_personal_token(developer, scopes=["api"])
    _, maintainer_token = make_personal_token(maintainer, scopes=["api"])
    listed = client.get(f"/api/v4/projects/{project.pk}/packages", **bearer(developer_token))
    assert [(p["name"], p["version"], p["package_type"]) for p in listed.json()] == [
        (NAME, "1.0.0", "npm"),
        (NAME, "2.0.0", "npm"),
    ]
    url = f"/api/v4/projects/{project.pk}/packages/{first.pk}"
    refused = client.delete(url, **bearer(developer_token))
    assert refused.status_code == 403
    assert "Maintainer" in refused.json()["message"]
    with django_capture_on_commit_callbacks(execute=True):  # files go once it commits
        assert client.delete(url, **bearer(maintainer_token)).status_code == 204
    assert client.get(url, **bearer(maintainer_token)).status_code == 404
    event = AuditEvent.objects.get(action=AuditAction.PACKAGE_DELETE)
    assert (event.details["version"], event.details["files"]) == ("1.0.0", ["hello-1.0.0.tgz"])
    # The page: a Developer sees no Delete; a Maintainer deletes the other version.
    client.force_login(developer)
    page = f"/{project.full_path}/-/packages"
    assert "Delete @tanuki/hello 2.0.0" not in client.get(page).content.decode()
    delete = f"{page}/{second.pk}/delete"
    assert client.post(delete).status_code == 403
    client.force_login(maintainer)
    assert "Delete @tanuki/hello 2.0.0" in client.get(page).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(delete, follow=True)
    assert "Package @tanuki/hello 2.0.0 was deleted." in done.content.decode()
    assert not Package.objects.exists() and not PackageTag.objects.exists()
    assert not [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]


def test_a_project_access_token_publishes_and_reads_as_a_bearer_token(client, project):
    from tests.factories import AdminFactory, make_access_token

    _, value = make_access_token(project, AdminFactory(), scopes=["api"])
    assert publish(client, project, bearer(value), document()).status_code == 200
    read = client.get(f"/api/v4/projects/{project.pk}/packages/npm/{NAME}", **bearer(value))
    assert read.status_code == 200 and list(read.json()["versions"]) == ["1.0.0"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"versions": NaN}', "not a JSON document"),
        (b'{"name": "\\ud800"}', "not a JSON document"),
        (b'{"versions":' + b"[" * 5000 + b"]" * 5000 + b"}", "not a JSON document"),
        (document(version="1.0.0+build"), "not a valid SemVer 2 version"),
        (document(version="1\u0661.0.0"), "not a valid SemVer 2 version"),
    ],
)
def test_documents_the_database_cannot_keep_are_400(
    client, project, writer, settings, body, reason
):
    response = publish(client, project, writer, body)
    assert response.status_code == 400, response.content
    assert reason in response.json()["message"]
    assert_nothing_stored(settings)


def test_a_replaced_version_keeps_its_tags(client, project, writer):
    publish(client, project, writer, document("1.0.0"))
    base = f"/api/v4/projects/{project.pk}/packages/npm/-/package/@tanuki%2fhello/dist-tags"
    client.generic("PUT", f"{base}/stable", '"1.0.0"', content_type="application/json", **writer)
    instance = InstanceSettings.current()
    instance.package_duplicates_allowed = True
    instance.save()
    again = document("1.0.0", data=tarball("1.0.0") + b"\0", **{"dist-tags": {}})
    assert publish(client, project, writer, again).status_code == 200
    assert client.get(base, **writer).json() == {"latest": "1.0.0", "stable": "1.0.0"}


def test_the_package_admin_lists_searches_and_deletes_with_files(
    admin_client, client, project, writer, settings, django_capture_on_commit_callbacks
):
    publish(client, project, writer, document("1.0.0"))
    publish(client, project, writer, document("2.0.0"))
    listing = admin_client.get("/admin/packages/package/?q=hello&kind__exact=npm").content.decode()
    assert listing.count("@tanuki/hello") >= 2 and "tanuki/web" in listing
    package = Package.objects.get(version="1.0.0")
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(
            "/admin/packages/package/",
            {"action": "delete_selected", "_selected_action": [package.pk], "post": "yes"},
        )
    assert list(Package.objects.values_list("version", flat=True)) == ["2.0.0"]
    stored = [p.name for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]
    assert stored == ["hello-2.0.0.tgz"]
    assert AuditEvent.objects.filter(action=AuditAction.PACKAGE_DELETE).count() == 1
