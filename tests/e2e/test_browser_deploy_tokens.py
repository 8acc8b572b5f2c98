"""Deploy tokens in a real browser, following the seeds' steps: Settings > Repository, expand
Deploy tokens, select Add token, fill the form, create, save the token (shown once), revoke."""

import re

import pytest

from deploy_tokens.models import DeployToken
from tests.e2e.conftest import sign_in
from tests.factories import PASSWORD, GroupFactory, ProjectFactory, UserFactory
from tokens_site.tokens import token_digest

pytestmark = pytest.mark.e2e


@pytest.fixture
def owner_and_project(transactional_db):
    owner = UserFactory(username="olga")
    group = GroupFactory(path="tanuki", owner=owner)
    project = ProjectFactory(group=group, path="awesome_project", name="Awesome project")
    return owner, group, project


def create_token(page, *, name: str, scopes: list[str], username: str = "") -> tuple[str, str]:
    # Left sidebar: Settings > Repository.
    page.locator("nav.sidebar").get_by_role("link", name="Repository").click()
    page.get_by_text("Expand").click()
    # The form is there but hidden until "Add token" is selected.
    name_field = page.get_by_label("Name", exact=True)
    assert name_field.count() == 1 and not name_field.is_visible()
    page.get_by_text("Add token", exact=True).click()
    name_field.fill(name)
    if username:
        page.get_by_label("Username").fill(username)
    for scope in scopes:
        # The label is the scope, then its description (which may name another scope).
        page.get_by_role("checkbox", name=re.compile(rf"^{scope}\b")).check()
    page.get_by_role("button", name="Create deploy token").click()
    panel = page.locator("#new-deploy-token")
    assert panel.get_by_role("heading").inner_text() == "Your new deploy token"
    assert "Once you leave or refresh the page, you won't be able to access it again." in (
        panel.inner_text()
    )
    return (
        panel.get_by_label("Username").input_value(),
        panel.get_by_label("Token").input_value(),
    )


def test_project_token_shown_once_copied_and_revoked(site_server, page, owner_and_project):
    _, _, project = owner_and_project
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    sign_in(page, site_server, "olga", PASSWORD)
    page.goto(f"{site_server.url}/tanuki/awesome_project")
    username, token = create_token(page, name="ci", scopes=["read_repository", "read_registry"])
    assert username.startswith("gitlab+deploy-token-") and token.startswith("gldt-")
    assert DeployToken.objects.get(project=project).token_digest == token_digest(token)

    page.get_by_role("button", name="Copy deploy token").click()
    assert page.evaluate("navigator.clipboard.readText()") == token

    page.reload()
    assert token not in page.content()
    assert page.locator("#new-deploy-token").count() == 0
    assert DeployToken.objects.count() == 1
    page.goto(f"{site_server.url}/tanuki/awesome_project/-/settings/repository")
    assert token not in page.content()

    page.get_by_text("Expand").click()
    row = page.locator("tr[data-token=ci]")
    assert "read_repository, read_registry" in row.inner_text()
    row.get_by_role("button", name="Revoke", exact=True).click()
    assert "This action cannot be undone." in row.inner_text()
    row.get_by_role("button", name="Revoke ci").click()
    assert page.get_by_role("status").inner_text() == "Revoked deploy token ci."
    assert "This project has no active deploy tokens." in page.content()
    assert DeployToken.objects.get(project=project).revoked


def test_group_token_shown_once_and_back_does_not_show_it(site_server, page, owner_and_project):
    _, group, _ = owner_and_project
    sign_in(page, site_server, "olga", PASSWORD)
    page.goto(f"{site_server.url}/groups/tanuki")
    username, token = create_token(
        page, name="registry", scopes=["write_registry"], username="pusher"
    )
    assert username == "pusher"
    page.get_by_role("link", name="Group overview").click()
    page.wait_for_url(f"{site_server.url}/groups/tanuki")
    # Back to the answer that showed the token: its history entry is the plain settings page
    # (site.js replaced it), fetched again by GET: no "Confirm Form Resubmission", no token.
    page.go_back()
    page.wait_for_load_state()
    assert page.url == f"{site_server.url}/groups/tanuki/-/settings/repository#deploy-tokens"
    assert token not in page.content()
    assert "Confirm Form Resubmission" not in page.content()
    # A reload is the same plain page: nothing new is made.
    page.reload()
    page.wait_for_load_state()
    assert token not in page.content()
    assert "Active deploy tokens (1)" in page.content()
    assert DeployToken.objects.filter(group=group).count() == 1


def test_rotate_shows_the_new_value_once_under_the_same_username(
    site_server, page, owner_and_project
):
    """Issue 16: Rotate on the token's row, confirmed; the show-once panel has the new value
    and the old username; the old value is gone."""
    _, _, project = owner_and_project
    sign_in(page, site_server, "olga", PASSWORD)
    page.goto(f"{site_server.url}/tanuki/awesome_project")
    username, old_value = create_token(page, name="ci", scopes=["read_repository"])
    page.goto(f"{site_server.url}/tanuki/awesome_project/-/settings/repository")
    page.get_by_text("Expand").click()
    row = page.locator("#active-deploy-tokens tr[data-token=ci]")
    row.get_by_role("button", name="Rotate", exact=True).click()
    assert "stops working now" in row.inner_text()
    row.get_by_role("button", name="Rotate ci").click()
    panel = page.locator("#new-deploy-token")
    assert panel.get_by_role("heading").inner_text() == "Your new deploy token"
    new_value = panel.get_by_label("Token").input_value()
    assert panel.get_by_label("Username").input_value() == username
    assert new_value.startswith("gldt-") and new_value != old_value
    current = DeployToken.objects.get(project=project, revoked=False)
    assert current.token_digest == token_digest(new_value) and current.username == username
    page.reload()
    assert new_value not in page.content()
    inactive = page.locator("#inactive-deploy-tokens tr[data-token=ci]")
    assert "Rotated" in inactive.inner_text()
    # Again, keeping the old value working for 2 hours: the row says until when.
    row = page.locator("#active-deploy-tokens tr[data-token=ci]")
    row.get_by_role("button", name="Rotate", exact=True).click()
    row.get_by_label("Keep the old value working for (hours)").fill("2")
    row.get_by_role("button", name="Rotate ci").click()
    assert "works until" in page.get_by_role("status").inner_text()
    third_value = page.locator("#new-deploy-token").get_by_label("Token").input_value()
    assert third_value not in (old_value, new_value)
    page.goto(f"{site_server.url}/tanuki/awesome_project/-/settings/repository")
    page.get_by_text("Expand").click()
    row = page.locator("#active-deploy-tokens tr[data-token=ci]")
    assert "rotating — old value works until" in row.inner_text()
    assert DeployToken.objects.filter(project=project).active().count() == 2
