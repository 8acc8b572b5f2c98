"""The members page in a real browser: the username field offers matching users as one types."""

import pytest

from tests.e2e.conftest import sign_in
from tests.factories import PASSWORD, GroupFactory, ProjectFactory, UserFactory

pytestmark = pytest.mark.e2e


def test_typing_a_username_offers_matching_users(site_server, page, transactional_db):
    owner = UserFactory(username="olga")
    UserFactory(username="alice", first_name="Alice", last_name="Liddell")
    project = ProjectFactory(group=GroupFactory(path="tanuki", owner=owner), path="web")
    sign_in(page, site_server, "olga", PASSWORD)
    page.goto(f"{site_server.url}/{project.full_path}/-/project_members")
    page.get_by_label("Username").press_sequentially("ali")
    option = page.locator("#member-username-options option")
    option.first.wait_for(state="attached")
    assert option.first.get_attribute("value") == "alice"
    assert option.first.get_attribute("label") == "Alice Liddell (@alice)"
