"""The real `npm` client against the site under gunicorn (issue 18): publish with a deploy token,
install from the project and the instance endpoints with another deploy token and with a
personal token, dist-tags, and what npm says when refused."""

import json
import os
import subprocess

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
from tokens_site.models import AccessLevel, AuditAction, AuditEvent
from tokens_site.packages.models import Package, PackageKind

pytestmark = pytest.mark.e2e

READ = ["read_package_registry"]
WRITE = ["read_package_registry", "write_package_registry"]


@pytest.fixture
def tanuki(transactional_db):
    require_program("npm")
    top = GroupFactory(path="tanuki")
    return {"group": top, "project": ProjectFactory(group=top, path="web")}


def npm(tmp_path, cwd, *args, registry: str, token: str, scope="tanuki", check=True):
    """npm with its own configuration (.npmrc in tmp_path): `@scope` from `registry` with
    `token` as its `_authToken`, as GitLab's documentation sets it up."""
    host_path = registry.removeprefix("http:")
    npmrc = tmp_path / f"npmrc-{abs(hash((registry, token)))}"
    npmrc.write_text(f"@{scope}:registry={registry}\n{host_path}:_authToken={token}\n")
    env = {
        **os.environ,
        "npm_config_userconfig": str(npmrc),
        "npm_config_cache": str(tmp_path / "npm-cache"),
        "npm_config_update_notifier": "false",
        "npm_config_audit": "false",
        "npm_config_fund": "false",
        "npm_config_loglevel": "warn",
    }
    result = subprocess.run(
        ["npm", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=180
    )
    if check and result.returncode != 0:
        raise AssertionError(f"npm {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


def make_package(path, version="1.0.0", name="@tanuki/hello"):
    path.mkdir(parents=True, exist_ok=True)
    (path / "package.json").write_text(
        json.dumps({"name": name, "version": version, "main": "index.js", "license": "MIT"})
    )
    (path / "index.js").write_text(f"module.exports = 'hello {version}';\n")
    return path


def consumer(path):
    path.mkdir(parents=True, exist_ok=True)
    (path / "package.json").write_text(json.dumps({"name": "consumer", "version": "0.0.0"}))
    return path


def installed_version(path, name="@tanuki/hello") -> str:
    return json.loads((path / "node_modules" / name / "package.json").read_text())["version"]


def test_publish_install_and_dist_tags(site_server, tanuki, tmp_path):
    project = tanuki["project"]
    project_registry = f"{site_server.url}/api/v4/projects/{project.pk}/packages/npm/"
    instance_registry = f"{site_server.url}/api/v4/packages/npm/"
    _, writer = make_deploy_token(project, scopes=WRITE)
    for version in ("1.0.0", "1.1.0"):
        package = make_package(tmp_path / f"src-{version}", version)
        npm(tmp_path, package, "publish", registry=project_registry, token=writer)
    published = Package.objects.get(kind=PackageKind.NPM, version="1.1.0")
    assert published.name == "@tanuki/hello"
    assert AuditEvent.objects.filter(action=AuditAction.PACKAGE_PUBLISH).count() == 2

    # Another deploy token (read only), from the project endpoint.
    _, reader = make_deploy_token(project, scopes=READ)
    app = consumer(tmp_path / "app")
    npm(tmp_path, app, "install", "@tanuki/hello", registry=project_registry, token=reader)
    assert installed_version(app) == "1.1.0"

    # The same deploy token from the instance endpoint.
    elsewhere = consumer(tmp_path / "elsewhere")
    npm(tmp_path, elsewhere, "install", "@tanuki/hello", registry=instance_registry, token=reader)
    assert installed_version(elsewhere) == "1.1.0"

    # A personal token of a Reporter, from the instance endpoint, an older version.
    user = UserFactory()
    MembershipFactory(user=user, group=tanuki["group"], access_level=AccessLevel.REPORTER)
    _, personal = make_personal_token(user, scopes=["read_api"])
    other = consumer(tmp_path / "other")
    npm(
        tmp_path,
        other,
        "install",
        "@tanuki/hello@1.0.0",
        registry=instance_registry,
        token=personal,
    )
    assert installed_version(other) == "1.0.0"

    # The personal token from the project endpoint too.
    third = consumer(tmp_path / "third")
    npm(tmp_path, third, "install", "@tanuki/hello", registry=project_registry, token=personal)
    assert installed_version(third) == "1.1.0"

    # dist-tags: add, list, remove.
    npm(
        tmp_path,
        app,
        "dist-tag",
        "add",
        "@tanuki/hello@1.0.0",
        "stable",
        registry=project_registry,
        token=writer,
    )
    listed = npm(
        tmp_path, app, "dist-tag", "ls", "@tanuki/hello", registry=project_registry, token=reader
    ).stdout
    assert "latest: 1.1.0" in listed and "stable: 1.0.0" in listed
    npm(
        tmp_path, app, "install", "@tanuki/hello@stable", registry=instance_registry, token=personal
    )
    assert installed_version(app) == "1.0.0"
    npm(
        tmp_path,
        app,
        "dist-tag",
        "rm",
        "@tanuki/hello",
        "stable",
        registry=project_registry,
        token=writer,
    )
    listed = npm(
        tmp_path, app, "dist-tag", "ls", "@tanuki/hello", registry=project_registry, token=reader
    ).stdout
    assert "stable" not in listed


def test_refusals_npm_shows(site_server, tanuki, tmp_path):
    project = tanuki["project"]
    registry = f"{site_server.url}/api/v4/projects/{project.pk}/packages/npm/"
    _, reader = make_deploy_token(project, scopes=READ)
    _, writer = make_deploy_token(project, scopes=WRITE)
    package = make_package(tmp_path / "src")
    # A read-only token cannot publish.
    refused = npm(tmp_path, package, "publish", registry=registry, token=reader, check=False)
    assert refused.returncode != 0
    assert "403" in refused.stderr
    # The same version twice: npm reads the package document first and refuses itself (the
    # server's own 403 is tested at the HTTP level, tests/site/test_npm.py).
    npm(tmp_path, package, "publish", registry=registry, token=writer)
    again = npm(tmp_path, package, "publish", registry=registry, token=writer, check=False)
    assert again.returncode != 0
    assert "cannot publish over the previously published versions: 1.0.0" in again.stderr
    assert Package.objects.filter(kind=PackageKind.NPM).count() == 1
    # Another scope than the project's top-level group.
    foreign = make_package(tmp_path / "foreign", name="@elsewhere/hello")
    wrong = npm(
        tmp_path,
        foreign,
        "publish",
        registry=registry,
        token=writer,
        scope="elsewhere",
        check=False,
    )
    assert wrong.returncode != 0
    assert "400" in wrong.stderr and "must be @tanuki" in wrong.stderr
    # A wrong token.
    app = consumer(tmp_path / "app")
    bad = npm(
        tmp_path,
        app,
        "install",
        "@tanuki/hello",
        registry=registry,
        token="gldt-" + "x" * 32,
        check=False,
    )
    assert bad.returncode != 0
    assert "401" in bad.stderr or "403" in bad.stderr or "404" in bad.stderr
