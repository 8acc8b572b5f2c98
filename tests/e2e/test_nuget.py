"""The real NuGet client here, Debian's `nuget` (Mono, NuGet 2.8.7), against the site under
gunicorn (issue 18): the seeds' commands exactly — `nuget source Add … -UserName <username>
-Password <deploy_token>`, `nuget push`, then install — with a deploy token. NuGet 2.x speaks
the v2 (OData) protocol, also to the seeds' `index.json` URL; the v3 documents are tested at the
HTTP level (tests/site/test_nuget.py)."""

import os
import subprocess

import pytest

from tests.e2e.conftest import require_program
from tests.factories import GroupFactory, ProjectFactory, make_deploy_token
from tests.site.test_nuget import NUSPEC, nupkg
from tokens_site.packages.models import Package, PackageKind

pytestmark = pytest.mark.e2e


@pytest.fixture
def project(transactional_db):
    require_program("nuget")
    return ProjectFactory(group=GroupFactory(path="tanuki"), path="dotnet")


def nuget(home, *args, check=True) -> subprocess.CompletedProcess:
    """nuget with its own configuration (HOME: its NuGet.Config lives under it)."""
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    result = subprocess.run(
        ["nuget", *args, "-NonInteractive"],
        cwd=home,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"nuget {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.mark.parametrize("feed", ["index.json", "v2"])
def test_the_seeds_push_and_install_with_deploy_tokens(site_server, project, tmp_path, feed):
    source = f"{site_server.url}/api/v4/projects/{project.pk}/packages/nuget/{feed}"
    writer, writer_value = make_deploy_token(
        project, scopes=["read_package_registry", "write_package_registry"]
    )
    publisher = tmp_path / "publisher"
    publisher.mkdir()
    # No dependencies: NuGet 2 would look for them in this feed too.
    nuspec = NUSPEC.format(id="MyNuGetPkg", version="1.3.0.17")
    nuspec = nuspec[: nuspec.index("<dependencies>")] + nuspec[nuspec.index("</metadata>") :]
    (publisher / "mypkg.nupkg").write_bytes(nupkg(nuspec=nuspec))
    nuget(
        publisher,
        "source",
        "Add",
        "-Name",
        "GitLab",
        "-Source",
        source,
        "-UserName",
        writer.username,
        "-Password",
        writer_value,
    )
    # NuGet 2.x wants an API key to push; the deploy token authenticates (any key will do).
    pushed = nuget(publisher, "push", "mypkg.nupkg", "-Source", "GitLab", "-ApiKey", "unused")
    assert "Your package was pushed." in pushed.stdout
    assert Package.objects.get(kind=PackageKind.NUGET).display_name == "MyNuGetPkg"

    # Another deploy token, read-only, installs it.
    reader, reader_value = make_deploy_token(project, scopes=["read_package_registry"])
    consumer = tmp_path / "consumer"
    consumer.mkdir()
    nuget(
        consumer,
        "source",
        "Add",
        "-Name",
        "GitLab",
        "-Source",
        source,
        "-UserName",
        reader.username,
        "-Password",
        reader_value,
    )
    # (`nuget list` is not run: NuGet 2.8 on Mono without a terminal wraps descriptions to a
    # console width of 0, forever.)
    nuget(consumer, "install", "MyNuGetPkg", "-Source", "GitLab", "-OutputDirectory", "packages")
    installed = consumer / "packages" / "MyNuGetPkg.1.3.0.17"
    assert (installed / "lib" / "net8.0" / "MyNuGetPkg.dll").exists()

    # The read-only token cannot push.
    (consumer / "mypkg.nupkg").write_bytes((publisher / "mypkg.nupkg").read_bytes())
    refused = nuget(
        consumer,
        "push",
        "mypkg.nupkg",
        "-Source",
        "GitLab",
        "-ApiKey",
        "unused",
        check=False,
    )
    assert refused.returncode != 0
    assert "403" in refused.stdout + refused.stderr
