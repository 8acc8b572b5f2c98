"""Issue 17: Admin → Token information in the browser: paste a log, see its tokens masked with
their owners, revoke one, then all the active ones."""

import pytest
from playwright.sync_api import expect

from deploy_tokens.models import DeployToken
from personal_tokens.models import PersonalAccessToken
from tests.e2e.conftest import sign_in
from tests.factories import (
    PASSWORD,
    AdminFactory,
    GroupFactory,
    ProjectFactory,
    UserFactory,
    make_deploy_token,
    make_personal_token,
)

pytestmark = pytest.mark.e2e


def test_paste_see_and_revoke(site_server, page, transactional_db):
    AdminFactory(username="root")
    alice = UserFactory(username="alice")
    project = ProjectFactory(path="api", group=GroupFactory(path="tanuki", owner=alice))
    _, personal = make_personal_token(alice, name="laptop")
    _, deploy = make_deploy_token(project, name="ci")
    sign_in(page, site_server, "root", PASSWORD)
    page.goto(f"{site_server.url}/admin/")
    page.get_by_role("link", name="Token information").click()
    page.get_by_label("Text to search (at most 1 MB)").fill(
        f"GET /api/v4/user?private_token={personal}\nclone with {deploy}\n"
    )
    page.get_by_role("button", name="Find tokens").click()
    assert page.get_by_role("heading", name="2 tokens found").is_visible()
    table = page.locator("#found-tokens")
    assert personal not in page.content() and deploy not in page.content()
    laptop = table.locator("tr", has_text="laptop")
    assert "user alice" in laptop.inner_text() and "active" in laptop.inner_text()
    ci = table.locator("tr", has_text="deploy token")
    assert "project tanuki/api" in ci.inner_text()
    ci.get_by_role("button", name="Revoke").click()
    # The answer is the same URL: wait for its message, not for a navigation.
    expect(page.locator(".messagelist")).to_contain_text("Revoked 1 token(s)")
    assert "revoked" in page.locator("#found-tokens tr", has_text="deploy token").inner_text()
    assert not DeployToken.objects.active().exists()
    page.get_by_role("button", name="Revoke all active").click()
    expect(page.locator("#found-tokens tr", has_text="laptop")).to_contain_text("revoked")
    expect(page.locator(".messagelist")).to_contain_text("Revoked 1 token(s)")
    assert not PersonalAccessToken.objects.active().exists()
