"""The package registry in process: the PyPI upload form, the simple index (PEP 503 / 691),
generic files, and every refusal (nothing stored)."""

import base64
import hashlib
import io
import os
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.factories import GroupFactory, ProjectFactory, make_deploy_token
from tests.wheels import build_wheel
from tokens_site.models import InstanceSettings, Visibility
from tokens_site.packages.models import Package, PackageFile

pytestmark = pytest.mark.django_db


@pytest.fixture
def project():
    return ProjectFactory(group=GroupFactory(path="tanuki"), path="app")


@pytest.fixture
def writer(project):
    token, value = make_deploy_token(
        project, scopes=["read_package_registry", "write_package_registry"]
    )
    header = "Basic " + base64.b64encode(f"{token.username}:{value}".encode()).decode()
    return {"HTTP_AUTHORIZATION": header}


def assert_nothing_stored(settings):
    assert not Package.objects.exists()
    assert not PackageFile.objects.exists()
    media = Path(settings.MEDIA_ROOT)
    assert not [path for path in media.rglob("*") if path.is_file()]


def limit_package_files_to_one_mib():
    instance = InstanceSettings.current()
    instance.package_file_max_size_mb = 1
    instance.save()


def upload(client, project, auth, wheel_path, **fields):
    data = wheel_path.read_bytes()
    form = {
        ":action": "file_upload",
        "protocol_version": "1",
        "name": "tinypkg",
        "version": "1.0.0",
        "requires_python": ">=3.8",
        "sha256_digest": hashlib.sha256(data).hexdigest(),
        "content": SimpleUploadedFile(wheel_path.name, data),
        **fields,
    }
    form = {key: value for key, value in form.items() if value is not None}
    return client.post(f"/api/v4/projects/{project.pk}/packages/pypi", form, **auth)


def test_upload_and_simple_index_in_html_and_json(client, project, writer, tmp_path):
    response = upload(client, project, writer, build_wheel(tmp_path))
    assert response.status_code == 201 and response.json() == {"message": "201 Created"}
    from tokens_site.models import AuditAction, AuditEvent

    event = AuditEvent.objects.get(action=AuditAction.PACKAGE_PUBLISH)
    assert (event.details["package_type"], event.details["name"]) == ("pypi", "tinypkg")
    assert event.details["by"].startswith("gitlab+deploy-token-")
    item = PackageFile.objects.get()
    assert item.file.read() == (tmp_path / "tinypkg-1.0.0-py3-none-any.whl").read_bytes()

    page = client.get(
        f"/api/v4/projects/{project.pk}/packages/pypi/simple/tinypkg/",
        HTTP_ACCEPT="text/html",
        **writer,
    )
    assert page["Content-Type"].startswith("text/html")
    assert page["Vary"] == "Accept, Accept-Language"  # no Cookie: no session is read
    html = page.content.decode()
    assert f"#sha256={item.sha256}" in html
    assert 'data-requires-python="&gt;=3.8"' in html
    assert f"http://testserver/api/v4/projects/{project.pk}/packages/pypi/files/" in html

    as_json = client.get(
        f"/api/v4/projects/{project.pk}/packages/pypi/simple/tinypkg/",
        HTTP_ACCEPT="application/vnd.pypi.simple.v1+json, text/html;q=0.01",
        **writer,
    )
    assert as_json["Content-Type"] == "application/vnd.pypi.simple.v1+json"
    body = as_json.json()
    assert body["name"] == "tinypkg" and body["files"][0]["hashes"] == {"sha256": item.sha256}
    assert body["files"][0]["requires-python"] == ">=3.8"
    index = client.get(f"/api/v4/projects/{project.pk}/packages/pypi/simple/", **writer)
    assert "tinypkg/" in index.content.decode()
    index_json = client.get(
        f"/api/v4/projects/{project.pk}/packages/pypi/simple/",
        HTTP_ACCEPT="application/vnd.pypi.simple.v1+json",
        **writer,
    )
    assert index_json["Content-Type"] == "application/vnd.pypi.simple.v1+json"
    assert index_json.json() == {"meta": {"api-version": "1.0"}, "projects": [{"name": "tinypkg"}]}
    assert body["meta"] == {"api-version": "1.0"}
    download = client.get(body["files"][0]["url"].removeprefix("http://testserver"), **writer)
    assert b"".join(download.streaming_content) == item.file.open().read()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": None}, "Missing fields: name."),
        ({"content": None}, "Missing fields: content."),
        ({"sha256_digest": "0" * 64}, "sha256_digest does not match the file"),
        ({"name": "bad name!"}, "is not a valid package name"),
        ({"version": "one.two"}, "is not a valid version"),
        ({"name": "otherpkg"}, "is not for otherpkg"),
        ({"version": "2.0"}, "is not for tinypkg 2.0"),
        ({":action": "remove_pkg"}, "Only the file_upload action is supported."),
        ({"requires_python": ">=3." + "9" * 300}, "requires_python is too long"),
        ({"requires_python": "three or more"}, "is not a version specifier"),
        ({"version": "1.0.0+" + "a" * 300}, "The version is too long"),
    ],
)
def test_bad_uploads_are_refused_and_nothing_is_stored(
    client, project, writer, tmp_path, settings, fields, message
):
    response = upload(client, project, writer, build_wheel(tmp_path), **fields)
    assert response.status_code == 400
    assert message in response.json()["message"]
    assert_nothing_stored(settings)


def test_a_bad_file_name_is_refused(client, project, writer, tmp_path):
    wheel = build_wheel(tmp_path)
    renamed = tmp_path / "not-a-wheel.txt"
    renamed.write_bytes(wheel.read_bytes())
    response = upload(client, project, writer, renamed)
    assert response.status_code == 400 and "is not a wheel" in response.json()["message"]


def test_non_normalized_simple_names_redirect_to_the_normalized_url(
    client, project, writer, tmp_path
):
    upload(client, project, writer, build_wheel(tmp_path))
    base = f"/api/v4/projects/{project.pk}/packages/pypi/simple"
    for spelling in ("TinyPkg/", "TINYPKG/", "tinypkg"):
        response = client.get(f"{base}/{spelling}", **writer)
        assert response.status_code == 301, spelling
        assert response["Location"] == f"http://testserver{base}/tinypkg/"
    assert client.get(f"{base}/tinypkg/", **writer).status_code == 200


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        ("application/vnd.pypi.simple.latest+json", "application/vnd.pypi.simple.v1+json"),
        ("application/vnd.pypi.simple.latest+html", "application/vnd.pypi.simple.v1+html"),
        ("application/vnd.pypi.simple.v1+html", "application/vnd.pypi.simple.v1+html"),
        (
            "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.1, "
            "text/html;q=0.01",
            "application/vnd.pypi.simple.v1+json",
        ),
        ("text/html", "text/html"),
        ("", "text/html"),
    ],
)
def test_simple_pages_answer_in_the_format_asked_for(
    client, project, writer, tmp_path, accept, content_type
):
    upload(client, project, writer, build_wheel(tmp_path))
    for page in ("", "tinypkg/"):
        response = client.get(
            f"/api/v4/projects/{project.pk}/packages/pypi/simple/{page}",
            HTTP_ACCEPT=accept,
            **writer,
        )
        assert response.status_code == 200
        assert response["Content-Type"].split(";")[0] == content_type
        if content_type.endswith("json"):
            assert response.json()["meta"] == {"api-version": "1.0"}
        else:
            assert "tinypkg" in response.content.decode()


def test_a_pypi_upload_over_the_size_limit_gets_413(client, project, writer, tmp_path, settings):
    limit_package_files_to_one_mib()
    sdist = tmp_path / "tinypkg-1.0.0.tar.gz"
    for size in (2 * 1024 * 1024, 1024 * 1024 + 1):  # refused by its length, or while spooled
        sdist.write_bytes(os.urandom(size))
        response = upload(client, project, writer, sdist)
        assert response.status_code == 413, size
        assert "limit is 1 MiB" in response.json()["message"]
    assert_nothing_stored(settings)


def test_a_multipart_body_without_boundary_gets_a_json_400(client, project, writer, settings):
    response = client.post(
        f"/api/v4/projects/{project.pk}/packages/pypi",
        b"name=tinypkg",
        content_type="multipart/form-data",
        **writer,
    )
    assert response.status_code == 400
    assert "not a valid multipart/form-data body" in response.json()["message"]
    assert_nothing_stored(settings)


def test_uploading_the_same_file_twice_says_already_exists(client, project, writer, tmp_path):
    wheel = build_wheel(tmp_path)
    upload(client, project, writer, wheel)
    again = upload(client, project, writer, wheel)
    assert again.status_code == 400
    assert "already exists" in again.json()["message"] and "already exists" in again.reason_phrase
    assert PackageFile.objects.count() == 1


def test_a_token_of_another_project_gets_404(client, project, tmp_path):
    token, value = make_deploy_token(ProjectFactory(), scopes=["write_package_registry"])
    header = "Basic " + base64.b64encode(f"{token.username}:{value}".encode()).decode()
    response = upload(client, project, {"HTTP_AUTHORIZATION": header}, build_wheel(tmp_path))
    assert response.status_code == 404 and not PackageFile.objects.exists()


def test_public_project_packages_are_readable_anonymously(client, tmp_path):
    group = GroupFactory(path="open", visibility=Visibility.PUBLIC)
    public = ProjectFactory(group=group, path="lib", visibility=Visibility.PUBLIC)
    token, value = make_deploy_token(public, scopes=["write_package_registry"])
    header = "Basic " + base64.b64encode(f"{token.username}:{value}".encode()).decode()
    upload(client, public, {"HTTP_AUTHORIZATION": header}, build_wheel(tmp_path))
    response = client.get(
        "/api/v4/projects/open%2Flib/packages/pypi/simple/tinypkg/",
        RAW_URI="/api/v4/projects/open%2Flib/packages/pypi/simple/tinypkg/",
    )
    assert response.status_code == 200
    assert (
        client.put(f"/api/v4/projects/{public.pk}/packages/generic/a/1/f", b"x").status_code == 401
    )


def test_generic_put_get_and_deploy_token_header(client, project):
    _token, value = make_deploy_token(
        project, scopes=["read_package_registry", "write_package_registry"]
    )
    url = f"/api/v4/projects/{project.pk}/packages/generic/tool/1.2.3/tool.bin"
    put = client.put(
        url, b"payload", content_type="application/octet-stream", HTTP_DEPLOY_TOKEN=value
    )
    assert put.status_code == 201 and put.json() == {"message": "201 Created"}
    again = client.put(
        url, b"payload", content_type="application/octet-stream", HTTP_DEPLOY_TOKEN=value
    )
    assert again.status_code == 409
    got = client.get(url, HTTP_DEPLOY_TOKEN=value)
    assert b"".join(got.streaming_content) == b"payload"
    assert (
        client.get(url.replace("tool.bin", "other.bin"), HTTP_DEPLOY_TOKEN=value).status_code == 404
    )


def test_external_authorization_refuses_deploy_tokens_here_too(client, project):
    """The package registry is one of the 'everywhere' deploy tokens stop working."""
    _token, value = make_deploy_token(project, scopes=["read_package_registry"])
    instance = InstanceSettings.current()
    instance.external_authorization_enabled = True
    instance.save()
    url = f"/api/v4/projects/{project.pk}/packages/generic/tool/1.2.3/tool.bin"
    response = client.get(url, HTTP_DEPLOY_TOKEN=value)
    assert response.status_code == 403
    assert "external authorization" in response.json()["message"]
    assert not PackageFile.objects.exists()


def generic_put(client, project, url_tail, stream, length, **auth):
    return client.put(
        f"/api/v4/projects/{project.pk}/packages/generic/{url_tail}",
        content_type="application/octet-stream",
        CONTENT_LENGTH=str(length),
        **{"wsgi.input": stream},
        **auth,
    )


def test_a_generic_upload_that_arrives_short_is_refused(client, project, writer, settings):
    response = generic_put(
        client, project, "tool/1.0.0/tool.bin", io.BytesIO(b"x" * 10), 1000, **writer
    )
    assert response.status_code == 400
    assert response.json() == {"message": "The upload was incomplete: received 10 of 1000 bytes."}
    assert_nothing_stored(settings)


class DroppedConnection(io.RawIOBase):
    """A request body whose client goes away after `sent` bytes, as gunicorn reports it."""

    def __init__(self, sent: int) -> None:
        self.sent = sent

    def read(self, size: int = -1) -> bytes:
        if self.sent == 0:
            raise OSError("No more data after: b''")
        chunk = b"x" * min(size, self.sent)
        self.sent -= len(chunk)
        return chunk


def test_a_generic_upload_whose_connection_drops_gets_400(client, project, writer, settings):
    response = generic_put(
        client, project, "tool/1.0.0/tool.bin", DroppedConnection(100_000), 500_000, **writer
    )
    assert response.status_code == 400
    assert "interrupted after 100000 bytes" in response.json()["message"]
    assert_nothing_stored(settings)


@pytest.mark.parametrize(
    ("url_tail", "message"),
    [
        ("tool/1.0.0/..%2F..%2Fetc%2Fpasswd", "is not a valid file name"),
        ("tool/1.0.0/.hidden", "is not a valid file name"),
        ("bad%20name/1.0.0/file.bin", "is not a valid package name"),
        ("-tool/1.0.0/file.bin", "is not a valid package name"),
        ("tool/1.0%2F0/file.bin", "is not a valid version"),
        ("tool/..%20/file.bin", "is not a valid version"),
        ("tool/" + "1" * 256 + "/file.bin", "is not a valid version"),
    ],
)
def test_bad_generic_names_versions_and_file_names_get_400(
    client, project, writer, settings, url_tail, message
):
    url = f"/api/v4/projects/{project.pk}/packages/generic/{url_tail}"
    response = client.put(
        url, b"payload", content_type="application/octet-stream", RAW_URI=url, **writer
    )
    assert response.status_code == 400
    assert message in response.json()["message"]
    assert_nothing_stored(settings)


def test_a_generic_upload_over_the_size_limit_gets_413(client, project, writer, settings):
    limit_package_files_to_one_mib()
    body = b"x" * (1024 * 1024 + 1)
    response = client.put(
        f"/api/v4/projects/{project.pk}/packages/generic/tool/1.0.0/tool.bin",
        body,
        content_type="application/octet-stream",
        **writer,
    )
    assert response.status_code == 413 and "limit is 1 MiB" in response.json()["message"]
    assert_nothing_stored(settings)


def test_files_leave_storage_with_their_project(
    project, writer, client, tmp_path, django_capture_on_commit_callbacks
):
    upload(client, project, writer, build_wheel(tmp_path))
    stored = PackageFile.objects.get().file.path
    with django_capture_on_commit_callbacks(execute=True):
        project.delete()
    import os

    assert not os.path.exists(stored)


def test_packages_page_lists_packages_and_shows_how_to_use_them(client, project, writer, tmp_path):
    from tests.factories import MembershipFactory, UserFactory
    from tokens_site.models import AccessLevel

    upload(client, project, writer, build_wheel(tmp_path))
    guest, reporter = UserFactory(), UserFactory()
    MembershipFactory(user=guest, project=project, access_level=AccessLevel.GUEST)
    MembershipFactory(user=reporter, project=project, access_level=AccessLevel.REPORTER)
    client.force_login(guest)
    assert client.get("/tanuki/app/-/packages").status_code == 403
    client.force_login(reporter)
    page = client.get("/tanuki/app/-/packages").content.decode()
    assert 'data-package="tinypkg"' in page and "tinypkg-1.0.0-py3-none-any.whl" in page
    assert f"http://127.0.0.1:8000/api/v4/projects/{project.pk}/packages/pypi" in page
    assert "Deploy-Token: &lt;deploy_token&gt;" in page and "PRIVATE-TOKEN" in page
    assert "Package registry</a>" in page


def test_container_registry_page_without_a_registry_or_when_it_is_down(client, project, settings):
    from tests.factories import AdminFactory

    client.force_login(AdminFactory())
    settings.REGISTRY_URL = ""
    assert (
        "no container registry configured"
        in client.get("/tanuki/app/-/container_registry").content.decode()
    )
    settings.REGISTRY_URL = "http://127.0.0.1:9"  # nothing listens there
    page = client.get("/tanuki/app/-/container_registry").content.decode()
    assert "could not be reached" in page
    assert "docker login -u &lt;username&gt; -p &lt;deploy_token&gt; 127.0.0.1:9" in page
