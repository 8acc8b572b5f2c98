"""Project access tokens in a real browser: Settings > Access tokens, Add new token, fill the
form, create, copy the token (shown once), rotate it (the new one shown once), revoke it; and
the value works against the API until then."""

import re
import urllib.error
import urllib.request

import pytest

from access_tokens.services import tokens_of
from tests.e2e.conftest import sign_in
from tests.factories import PASSWORD, GroupFactory, MembershipFactory, ProjectFactory, UserFactory
from tokens_site.models import AccessLevel, Bot, Membership
from tokens_site.tokens import token_digest

pytestmark = pytest.mark.e2e


@pytest.fixture
def project(transactional_db):
    group = GroupFactory(path="tanuki", owner=UserFactory(username="olga"))
    project = ProjectFactory(group=group, path="awesome_project", name="Awesome project")
    maintainer = UserFactory(username="max")
    MembershipFactory(user=maintainer, project=project, access_level=AccessLevel.MAINTAINER)
    return project


def api_status(server, project, token: str) -> int:
    """The status of GET /api/v4/projects/<id> with the token in PRIVATE-TOKEN."""
    request = urllib.request.Request(  # noqa: S310  (the test's own server)
        f"{server.url}/api/v4/projects/{project.pk}", headers={"PRIVATE-TOKEN": token}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code


def shown_token(page) -> str:
    panel = page.locator("#new-access-token")
    assert panel.get_by_role("heading").inner_text() == "Your new project access token"
    assert "Make sure you save it - you won't be able to access it again." in panel.inner_text()
    return panel.get_by_label("Token").input_value()


def test_maintainer_creates_rotates_and_revokes_a_project_token(site_server, page, project):
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    sign_in(page, site_server, "max", PASSWORD)
    page.goto(f"{site_server.url}/tanuki/awesome_project")
    # Left sidebar: Settings > Access tokens.
    page.locator("nav.sidebar").get_by_role("link", name="Access tokens").click()
    page.wait_for_url(f"{site_server.url}/tanuki/awesome_project/-/settings/access_tokens")

    # The form is there but hidden until "Add new token" is selected.
    name_field = page.get_by_label("Token name")
    assert name_field.count() == 1 and not name_field.is_visible()
    page.get_by_text("Add new token", exact=True).click()
    name_field.fill("ci")
    page.get_by_label("Token description").fill("Reads the API")
    role = page.get_by_label("Select a role")
    assert role.input_value() == "40"  # Maintainer, the default
    options = role.locator("option").all_inner_texts()
    assert options == ["Guest", "Reporter", "Developer", "Maintainer"]  # no Owner
    role.select_option(label="Reporter")
    # The label is the scope, then its description (which may name another scope).
    page.get_by_role("checkbox", name=re.compile(r"^read_api\b")).check()
    page.get_by_role("button", name="Create project access token").click()

    token = shown_token(page)
    assert token.startswith("glpat-")
    created = tokens_of(project).get()
    assert created.token_digest == token_digest(token)
    assert Membership.objects.get(user=created.user).access_level == AccessLevel.REPORTER
    assert Bot.objects.get(user=created.user).project == project

    page.get_by_role("button", name="Copy project access token").click()
    assert page.evaluate("navigator.clipboard.readText()") == token
    assert api_status(site_server, project, token) == 200

    # Shown once: a reload fetches the plain page (by GET: the history entry was replaced), so
    # it shows no value and makes nothing.
    page.reload()
    page.wait_for_load_state()
    assert token not in page.content()
    assert "That form was already submitted." not in page.content()
    assert tokens_of(project).count() == 1

    # Rotate: the old value stops, the new one is shown once and works.
    row = page.locator("#active-access-tokens tr[data-token=ci]")
    assert "Reporter" in row.inner_text() and "read_api" in row.inner_text()
    row.get_by_role("button", name="Rotate", exact=True).click()
    assert "This action cannot be undone." in row.inner_text()
    row.get_by_role("button", name="Rotate ci").click()
    rotated = shown_token(page)
    assert rotated.startswith("glpat-") and rotated != token
    assert api_status(site_server, project, token) == 401
    assert api_status(site_server, project, rotated) == 200
    successor = tokens_of(project).active().get()
    assert (successor.name, successor.description, successor.scopes, successor.user) == (
        "ci",
        "Reads the API",
        ["read_api"],
        created.user,
    )
    assert "Rotated" in page.locator("#inactive-access-tokens tr[data-token=ci]").inner_text()
    page.goto(f"{site_server.url}/tanuki/awesome_project/-/settings/access_tokens")
    assert rotated not in page.content()

    # Revoke: the new value stops too.
    row = page.locator("#active-access-tokens tr[data-token=ci]")
    row.get_by_role("button", name="Revoke", exact=True).click()
    assert "This action cannot be undone." in row.inner_text()
    row.get_by_role("button", name="Revoke ci").click()
    assert page.get_by_role("status").inner_text() == "Revoked project access token ci."
    assert "This project has no active access tokens." in page.content()
    assert page.locator("#inactive-access-tokens tr[data-token=ci]").count() == 2
    assert api_status(site_server, project, rotated) == 401
    assert not tokens_of(project).active().exists()
