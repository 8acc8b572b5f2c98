"""The NuGet v3 feed (issue 18) at the HTTP level, walked as a v3 client walks it: the seed's
flow (service index → push → registration → flat container download) with a deploy token, the
group-level feed through a group deploy token two subgroups down, search, symbol packages, and
every refusal (nothing stored). The .nupkg files are built here with zipfile."""

import base64
import hashlib
import io
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from tests.factories import GroupFactory, ProjectFactory, make_deploy_token, make_personal_token
from tokens_site.models import AuditAction, AuditEvent, InstanceSettings
from tokens_site.packages.models import Package, PackageFile

pytestmark = pytest.mark.django_db

NUSPEC = """<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
  <metadata>
    <id>{id}</id>
    <version>{version}</version>
    <authors>Tanuki</authors>
    <description>A package for the tests.</description>
    <dependencies>
      <group targetFramework="net8.0">
        <dependency id="Newtonsoft.Json" version="13.0.1" />
      </group>
    </dependencies>
  </metadata>
</package>
"""


# The Open Packaging Conventions parts `nuget pack` writes beside the .nuspec.
CONTENT_TYPES = """<?xml version="1.0" encoding="utf-8"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
  <Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>
  <Default Extension="nuspec" ContentType="application/octet"/>
  <Default Extension="dll" ContentType="application/octet"/>
</Types>
"""
RELS = """<?xml version="1.0" encoding="utf-8"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">
  <Relationship Type="http://schemas.microsoft.com/packaging/2010/07/manifest"
    Target="/{id}.nuspec" Id="R1"/>
</Relationships>
"""


def nupkg(package_id="MyNuGetPkg", version="1.3.0.17", nuspec: str | None = None) -> bytes:
    """A .nupkg as `nuget pack` makes it: the .nuspec, the OPC parts, a library."""
    buffer = io.BytesIO()
    text = NUSPEC.format(id=package_id, version=version) if nuspec is None else nuspec
    entries = {
        f"{package_id}.nuspec": text,
        "[Content_Types].xml": CONTENT_TYPES,
        "_rels/.rels": RELS.format(id=package_id),
        "lib/net8.0/MyNuGetPkg.dll": b"MZ\0\0",
    }
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in entries.items():
            # A fixed time: the same package is the same bytes (compared after download).
            archive.writestr(zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0)), content)
    return buffer.getvalue()


def basic(username: str, secret: str) -> dict:
    header = base64.b64encode(f"{username}:{secret}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {header}"}


@pytest.fixture
def tree():
    top = GroupFactory(path="tanuki")
    middle = GroupFactory(parent=top, path="a")
    bottom = GroupFactory(parent=middle, path="b")
    return {"top": top, "project": ProjectFactory(group=bottom, path="app")}


@pytest.fixture
def writer(tree):
    token, value = make_deploy_token(
        tree["project"], scopes=["read_package_registry", "write_package_registry"]
    )
    return basic(token.username, value)


def push(client, project, auth, data: bytes, *, symbols=False, name="package.nupkg"):
    path = f"/api/v4/projects/{project.pk}/packages/nuget/" + ("symbolpackage" if symbols else "")
    body = encode_multipart(BOUNDARY, {"package": SimpleUploadedFile(name, data)})
    return client.generic("PUT", path, body, content_type=MULTIPART_CONTENT, **auth)


def resource(index: dict, kind: str) -> str:
    return next(item["@id"] for item in index["resources"] if item["@type"] == kind)


def local(url: str) -> str:
    return url.removeprefix("http://testserver")


def assert_nothing_stored(settings):
    assert not Package.objects.exists()
    assert not PackageFile.objects.exists()
    assert not [path for path in Path(settings.MEDIA_ROOT).rglob("*") if path.is_file()]


def test_the_seeds_flow_as_a_v3_client_walks_it(client, tree, writer):
    project = tree["project"]
    source = f"/api/v4/projects/{project.pk}/packages/nuget/index.json"
    # NuGet asks without credentials first, and sends them after the Basic challenge.
    challenge = client.get(source)
    assert challenge.status_code == 401
    assert challenge["WWW-Authenticate"].startswith("Basic")
    index = client.get(source, **writer).json()
    assert index["version"] == "3.0.0"
    kinds = {item["@type"] for item in index["resources"]}
    assert {
        "PackagePublish/2.0.0",
        "RegistrationsBaseUrl/3.6.0",
        "PackageBaseAddress/3.0.0",
        "SearchQueryService",
        "SymbolPackagePublish/4.9.0",
    } <= kinds

    pushed = client.generic(
        "PUT",
        local(resource(index, "PackagePublish/2.0.0")),
        encode_multipart(BOUNDARY, {"package": SimpleUploadedFile("p.nupkg", nupkg())}),
        content_type=MULTIPART_CONTENT,
        **writer,
    )
    assert pushed.status_code == 201, pushed.content
    event = AuditEvent.objects.get(action=AuditAction.PACKAGE_PUBLISH)
    assert (event.details["package_type"], event.details["version"]) == ("nuget", "1.3.0.17")

    # Registration: the ids are compared lowercased.
    registrations = local(resource(index, "RegistrationsBaseUrl/3.6.0"))
    registration = client.get(f"{registrations}/mynugetpkg/index.json", **writer).json()
    [page] = registration["items"]
    [leaf] = page["items"]
    entry = leaf["catalogEntry"]
    assert (entry["id"], entry["version"], entry["authors"]) == (
        "MyNuGetPkg",
        "1.3.0.17",
        "Tanuki",
    )
    assert entry["dependencyGroups"] == [
        {
            "targetFramework": "net8.0",
            "dependencies": [{"id": "Newtonsoft.Json", "range": "13.0.1"}],
        }
    ]
    assert (
        client.get(local(leaf["@id"]), **writer).json()["packageContent"]
        == (leaf["packageContent"])
    )

    # Flat container: versions, the .nupkg, the .nuspec.
    flat = local(resource(index, "PackageBaseAddress/3.0.0"))
    assert client.get(f"{flat}/mynugetpkg/index.json", **writer).json() == {
        "versions": ["1.3.0.17"]
    }
    download = client.get(local(leaf["packageContent"]), **writer)
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == nupkg()
    nuspec = client.get(f"{flat}/mynugetpkg/1.3.0.17/mynugetpkg.nuspec", **writer)
    assert b"<id>MyNuGetPkg</id>" in nuspec.content

    # Search.
    found = client.get(f"{local(resource(index, 'SearchQueryService'))}?q=nuget", **writer).json()
    assert found["totalHits"] == 1
    assert found["data"][0]["id"] == "MyNuGetPkg"
    assert (
        client.get(f"{local(resource(index, 'SearchQueryService'))}?q=zzz", **writer).json()[
            "totalHits"
        ]
        == 0
    )


def test_a_symbol_package_is_stored_beside_the_package(client, tree, writer):
    project = tree["project"]
    assert push(client, project, writer, nupkg()).status_code == 201
    symbols = push(client, project, writer, nupkg(), symbols=True, name="p.snupkg")
    assert symbols.status_code == 201
    assert sorted(PackageFile.objects.values_list("file_name", flat=True)) == [
        "mynugetpkg.1.3.0.17.nupkg",
        "mynugetpkg.1.3.0.17.snupkg",
    ]


def test_the_group_feed_reads_through_a_group_deploy_token_two_subgroups_down(client, tree, writer):
    push(client, tree["project"], writer, nupkg())
    token, value = make_deploy_token(tree["top"], scopes=["read_package_registry"])
    auth = basic(token.username, value)
    base = f"/api/v4/groups/{tree['top'].pk}/-/packages/nuget"
    index = client.get(f"{base}/index.json", **auth).json()
    kinds = {item["@type"] for item in index["resources"]}
    assert "PackagePublish/2.0.0" not in kinds  # read-only
    registration = client.get(f"{base}/metadata/MyNuGetPkg/index.json", **auth).json()
    content = registration["items"][0]["items"][0]["packageContent"]
    assert content.startswith(f"http://testserver{base}/download/")
    download = client.get(local(content), **auth)
    assert b"".join(download.streaming_content) == nupkg()
    assert client.get(f"{base}/index.json").status_code == 401
    _, outsider = make_personal_token(scopes=["read_api"])
    assert client.get(f"{base}/index.json", **basic("x", outsider)).status_code == 404
    # Publishing is the project's feed only.
    refused = client.put(f"{base}/", **auth)
    assert refused.status_code == 405
    assert "read-only" in refused.json()["message"]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"not a zip", "not a zip file"),
        (b"PK\x03\x04broken", "not a zip file"),
        ("no nuspec", "no .nuspec at its root"),
        (nupkg(package_id="bad id!"), "not a valid NuGet package id"),
        (nupkg(version="one.two"), "not a valid NuGet version"),
        (nupkg(nuspec="<package><metadata><id>x</id>"), "not valid XML"),
        (
            nupkg(nuspec='<!DOCTYPE x [<!ENTITY a "b">]><package/>'),
            "may not declare a DOCTYPE",
        ),
        (  # the same in UTF-16, where the bytes do not spell DOCTYPE
            nupkg(
                nuspec='<?xml version="1.0" encoding="utf-16"?><!DOCTYPE x><package/>'.encode(
                    "utf-16"
                )
            ),
            "may not declare a DOCTYPE",
        ),
    ],
)
def test_bad_packages_are_400_with_the_reason_and_nothing_stored(
    client, tree, writer, settings, data, reason
):
    if data == "no nuspec":
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("lib/x.dll", b"x")
        data = buffer.getvalue()
    response = push(client, tree["project"], writer, data)
    assert response.status_code == 400, response.content
    assert reason in response.json()["message"]
    assert_nothing_stored(settings)


def test_a_body_that_is_not_multipart_is_400(client, tree, writer, settings):
    response = client.generic(
        "PUT",
        f"/api/v4/projects/{tree['project'].pk}/packages/nuget/",
        nupkg(),
        content_type="application/octet-stream",
        **writer,
    )
    assert response.status_code == 400
    assert "multipart/form-data" in response.json()["message"]
    assert_nothing_stored(settings)


def test_duplicates_are_409_unless_allowed_and_versions_are_normalized(client, tree, writer):
    project = tree["project"]
    assert push(client, project, writer, nupkg(version="1.03.0.0")).status_code == 201
    assert Package.objects.get().version == "1.3.0"
    again = push(client, project, writer, nupkg(version="1.3.0"))
    assert again.status_code == 409
    assert "already exists" in again.json()["message"]
    instance = InstanceSettings.current()
    instance.package_duplicates_allowed = True
    instance.save()
    assert push(client, project, writer, nupkg(version="1.3.0")).status_code == 201
    assert Package.objects.count() == 1


def test_over_the_size_limit_is_413_and_nothing_stored(client, tree, writer, settings):
    instance = InstanceSettings.current()
    instance.package_file_max_size_mb = 1
    instance.save()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("MyNuGetPkg.nuspec", NUSPEC.format(id="MyNuGetPkg", version="1.0.0"))
        archive.writestr("big.bin", b"\0" * (2 * 1024 * 1024))
    response = push(client, tree["project"], writer, buffer.getvalue())
    assert response.status_code == 413
    assert_nothing_stored(settings)


def test_the_scopes_of_reading_and_pushing(client, tree):
    project = tree["project"]
    reader, reader_value = make_deploy_token(project, scopes=["read_package_registry"])
    pusher, pusher_value = make_deploy_token(project, scopes=["write_package_registry"])
    refused = push(client, project, basic(reader.username, reader_value), nupkg())
    assert refused.status_code == 403
    assert "write_package_registry" in refused.json()["message"]
    assert push(client, project, basic(pusher.username, pusher_value), nupkg()).status_code == 201
    read = client.get(
        f"/api/v4/projects/{project.pk}/packages/nuget/index.json",
        **basic(pusher.username, pusher_value),
    )
    assert read.status_code == 403
    assert "read_package_registry" in read.json()["message"]


def test_the_package_registry_page_lists_nuget_and_npm_with_their_recipes(client, tree, writer):
    from tests.factories import AdminFactory
    from tests.site.test_npm import bearer, document, publish

    project = tree["project"]
    push(client, project, writer, nupkg())
    _, npm_writer = make_deploy_token(
        project, scopes=["read_package_registry", "write_package_registry"]
    )
    assert publish(client, project, bearer(npm_writer), document()).status_code == 200
    client.force_login(AdminFactory())
    page = client.get(f"/{project.full_path}/-/packages").content.decode()
    api = f"http://127.0.0.1:8000/api/v4/projects/{project.pk}/packages"
    # The seeds' recipe, with this project's feed and placeholders.
    assert (
        f'nuget source Add -Name GitLab -Source "{api}/nuget/index.json" -UserName '
        "&lt;username&gt; -Password &lt;deploy_token&gt;" in page
    )
    assert "nuget push mypkg.nupkg -Source GitLab" in page
    assert f"@tanuki:registry={api}/npm/" in page
    assert (
        f"//127.0.0.1:8000/api/v4/projects/{project.pk}/packages/npm/:_authToken=&lt;token&gt;"
        in page
    )
    assert "nuget install MyNuGetPkg -Version 1.3.0.17 -Source GitLab" in page
    assert "npm install @tanuki/hello@1.0.0" in page


def test_the_v2_feed_answers_what_nuget_2_asks(client, tree, writer):
    """NuGet 2.x (Debian's Mono nuget): $metadata, FindPackagesById(), Packages(Id,Version),
    paging, and the download its entries point to; under v2/ and under the seeds' index.json/."""
    project = tree["project"]
    push(client, project, writer, nupkg())
    for root in ("v2", "index.json"):
        base = f"/api/v4/projects/{project.pk}/packages/nuget/{root}"
        metadata = client.get(f"{base}/$metadata", **writer).content.decode()
        assert 'FunctionImport Name="FindPackagesById"' in metadata
        found = client.get(f"{base}/FindPackagesById()?id='MyNuGetPkg'", **writer)
        assert found["Content-Type"].startswith("application/atom+xml")
        feed = found.content.decode()
        assert "<d:Id>MyNuGetPkg</d:Id>" in feed and "<d:Version>1.3.0.17</d:Version>" in feed
        assert "Newtonsoft.Json:13.0.1:net8.0" in feed
        source = feed.split('content type="application/zip" src="')[1].split('"')[0]
        download = client.get(local(source), **writer)
        assert b"".join(download.streaming_content) == nupkg()
        beyond = client.get(f"{base}/FindPackagesById()?id='MyNuGetPkg'&$skip=1", **writer)
        assert "<entry>" not in beyond.content.decode()
        entry = client.get(f"{base}/Packages(Id='MyNuGetPkg',Version='1.3.0.17')", **writer)
        assert entry.status_code == 200 and "<d:Id>MyNuGetPkg</d:Id>" in entry.content.decode()
        missing = client.get(f"{base}/Packages(Id='MyNuGetPkg',Version='9.9.9')", **writer)
        assert missing.status_code == 404
        assert client.get(f"{base}/nonsense", **writer).status_code == 404


def test_damaged_archives_odd_queries_and_versions_are_answered_not_crashed(
    client, tree, writer, settings
):
    project = tree["project"]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("MyNuGetPkg.nuspec", NUSPEC.format(id="MyNuGetPkg", version="1.0.0") * 20)
    data = bytearray(buffer.getvalue())
    data[60:80] = b"\xff" * 20  # inside the deflated .nuspec
    damaged = push(client, project, writer, bytes(data))
    assert damaged.status_code == 400, damaged.content
    bogus = '<?xml version="1.0" encoding="x-bogus"?><package/>'
    assert push(client, project, writer, nupkg(nuspec=bogus)).status_code == 400
    assert_nothing_stored(settings)
    base = f"/api/v4/projects/{project.pk}/packages/nuget"
    for query in ("query?skip=%C2%B2&take=%C2%B2", "v2/Packages()?$top=%C2%B2&$skip=%C2%B2"):
        assert client.get(f"{base}/{query}", **writer).status_code == 200
    # Versions differing only in case are one version; symbols need their package first.
    assert push(client, project, writer, nupkg(version="1.0.0-Beta")).status_code == 201
    assert push(client, project, writer, nupkg(version="1.0.0-beta")).status_code == 409
    orphan = push(client, project, writer, nupkg(version="9.0.0"), symbols=True, name="p.snupkg")
    assert orphan.status_code == 404 and "before its symbol package" in orphan.json()["message"]


def test_versions_are_ordered_as_nuget_orders_them_and_v2_carries_the_hash(client, tree, writer):
    project = tree["project"]
    for version in ("1.10.0", "1.9.0", "1.10.0-rc.1"):
        assert push(client, project, writer, nupkg(version=version)).status_code == 201
    base = f"/api/v4/projects/{project.pk}/packages/nuget"
    page = client.get(f"{base}/metadata/mynugetpkg/index.json", **writer).json()["items"][0]
    assert (page["lower"], page["upper"]) == ("1.9.0", "1.10.0")
    assert [leaf["catalogEntry"]["version"] for leaf in page["items"]] == [
        "1.9.0",
        "1.10.0-rc.1",
        "1.10.0",
    ]
    # The second pushed (1.9.0) alone on its page: not the latest, known from all versions.
    feed = client.get(f"{base}/v2/FindPackagesById()?id='MyNuGetPkg'&$skip=1&$top=1", **writer)
    text = feed.content.decode()
    digest = base64.b64encode(hashlib.sha512(nupkg(version="1.10.0")).digest()).decode()
    assert "<d:PackageHash></d:PackageHash>" not in text
    assert text.count("<entry>") == 1 and "<d:Version>1.9.0</d:Version>" in text
    assert '<d:IsLatestVersion m:type="Edm.Boolean">false</d:IsLatestVersion>' in text
    full = client.get(f"{base}/v2/FindPackagesById()?id='MyNuGetPkg'", **writer).content.decode()
    assert digest in full


def test_a_utf16_nuspec_is_kept_as_text(client, tree, writer):
    nuspec = NUSPEC.format(id="MyNuGetPkg", version="2.0.0").replace("utf-8", "utf-16")
    assert (
        push(client, tree["project"], writer, nupkg(nuspec=nuspec.encode("utf-16"))).status_code
        == 201
    )
    stored = Package.objects.get().metadata["nuspec"]
    assert "\x00" not in stored and "<id>MyNuGetPkg</id>" in stored
