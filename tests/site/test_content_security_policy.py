"""The Content-Security-Policy header (django-csp, settings.CONTENT_SECURITY_POLICY) on pages,
error pages and the admin, and templates that need no exception to it. The browser tests
(tests/e2e) check that no page breaks it."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from tests.broken_urls import BROKEN
from tests.factories import make_personal_token
from tests.roles import visit

pytestmark = pytest.mark.django_db

# What the policy must say on every page (the order of directives in the header may vary);
# the browser tests check the same.
STRICT_DIRECTIVES = [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
]
PROJECT = "/tanuki/backend/api"
PROJECT_SETTINGS = f"{PROJECT}/-/settings/repository"


def assert_strict_policy(response) -> None:
    policy = response.headers.get("Content-Security-Policy", "")
    directives = {part.strip() for part in policy.split(";")}
    assert set(STRICT_DIRECTIVES) <= directives, policy
    assert "unsafe" not in policy  # neither 'unsafe-inline' nor 'unsafe-eval'


def test_a_page_has_the_policy(client, world):
    response = visit(client, world, "developer", "get", PROJECT)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert_strict_policy(response)


def test_the_sign_in_page_has_the_policy(client):
    response = client.get("/users/sign_in")
    assert response.status_code == 200
    assert_strict_policy(response)


@pytest.mark.parametrize(("role", "status"), [("non_member", 404), ("developer", 403)])
def test_error_pages_have_the_policy(client, world, role, status):
    response = visit(client, world, role, "get", PROJECT_SETTINGS)
    assert response.status_code == status
    assert f"{status}:" in response.content.decode()  # the site's own error page
    assert_strict_policy(response)


@pytest.mark.urls("tests.broken_urls")
def test_the_server_error_page_has_the_policy():
    response = Client(raise_request_exception=False).get(BROKEN)
    assert response.status_code == 500
    assert "500: Something went wrong" in response.content.decode()
    assert_strict_policy(response)


def test_the_admin_has_the_policy(client, admin_client):
    login = client.get("/admin/login/")
    assert login.status_code == 200
    assert_strict_policy(login)
    index = admin_client.get("/admin/")
    assert index.status_code == 200
    assert_strict_policy(index)


def test_answers_that_are_not_pages_have_the_policy_too(client, world):
    """API, Git, static files, early refusals: nothing reads the header there but a browser
    that opens one directly, which then runs no inline script from it. One policy for all."""
    _, plaintext = make_personal_token(world["users"]["developer"], scopes=["read_api"])
    api = client.get("/api/v4/projects", headers={"Private-Token": plaintext})
    assert (api.status_code, api["Content-Type"]) == (200, "application/json")
    git = client.get(f"{PROJECT}.git/info/refs", {"service": "git-upload-pack"})
    assert git.status_code == 401
    static = client.get("/static/tokens_site/site.js")
    assert static.status_code == 200
    nul = client.get("/explore", {"search": "\x00"})
    assert (nul.status_code, nul["Content-Type"]) == (400, "text/plain; charset=utf-8")
    for response in (api, git, static, nul):
        assert_strict_policy(response)


# What a browser refuses under the policy: inline scripts and styles, and handlers in attributes.
INLINE_CODE = re.compile(
    r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=|javascript:", re.IGNORECASE
)


def served_templates() -> list[Path]:
    """The templates that are rendered as pages: not the emails, which no browser loads from
    this site."""
    root = Path(settings.BASE_DIR) / "templates"
    return sorted(
        path.relative_to(root)
        for path in root.rglob("*.html")
        if "email" not in path.relative_to(root).parts
    )


@pytest.mark.parametrize("template", served_templates(), ids=lambda path: path.as_posix())
def test_templates_hold_no_inline_script_or_style(template):
    source = (Path(settings.BASE_DIR) / "templates" / template).read_text()
    assert INLINE_CODE.findall(source) == []
