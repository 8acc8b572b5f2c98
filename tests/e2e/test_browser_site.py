"""The site in a real browser: sign in, create a group, a subgroup and a project, add a member,
and find the clone URL."""

import pytest

from tests.e2e.conftest import sign_in
from tests.factories import PASSWORD, UserFactory
from tokens_site.models import AccessLevel, Membership, Project

pytestmark = pytest.mark.e2e


def test_sign_in_create_group_subgroup_project_and_add_member(site_server, page):
    UserFactory(username="alice")
    UserFactory(username="bob")
    sign_in(page, site_server, "alice", PASSWORD)

    page.get_by_role("link", name="New group").click()
    page.get_by_label("Group name").fill("Tanuki")
    assert page.get_by_label("Group URL").input_value() == "tanuki"  # filled from the name
    page.get_by_role("button", name="Create group").click()
    page.wait_for_url(f"{site_server.url}/groups/tanuki")
    assert page.get_by_role("status").inner_text() == "Group 'Tanuki' was created."

    page.get_by_role("link", name="New subgroup").click()
    page.get_by_label("Group name").fill("Backend")
    page.get_by_role("button", name="Create subgroup").click()
    page.wait_for_url(f"{site_server.url}/groups/tanuki/backend")

    page.get_by_role("link", name="New project").click()
    page.get_by_label("Project name").fill("Awesome project")
    page.get_by_label("Project slug").fill("awesome_project")
    page.get_by_role("button", name="Create project").click()
    page.wait_for_url(f"{site_server.url}/tanuki/backend/awesome_project")
    clone_url = page.get_by_label("HTTP clone URL").input_value()
    assert clone_url == f"{site_server.url}/tanuki/backend/awesome_project.git"
    assert page.get_by_role("button", name="Copy URL").is_visible()

    page.get_by_role("link", name="Members").click()
    page.get_by_label("Username").fill("bob")
    page.get_by_label("Role").select_option(label="Developer")
    page.get_by_role("button", name="Add member").click()
    assert page.get_by_role("status").inner_text() == "bob was added as Developer."
    assert page.locator("tr[data-member=bob]").is_visible()
    assert page.locator("tr[data-inherited=alice]").inner_text().endswith("Inherited from tanuki")

    project = Project.objects.get(full_path="tanuki/backend/awesome_project")
    assert project.repository_path.is_dir()
    assert Membership.objects.get(project=project, user__username="bob").access_level == (
        AccessLevel.DEVELOPER
    )


def test_form_errors_are_shown_and_nothing_is_created(site_server, page):
    UserFactory(username="carol")
    sign_in(page, site_server, "carol", PASSWORD)
    page.goto(f"{site_server.url}/groups/new")
    page.get_by_label("Group name").fill("API")
    page.get_by_label("Group URL").fill("api")
    page.get_by_role("button", name="Create group").click()
    assert "'api' is reserved for the site's own pages" in page.content()
    assert page.get_by_label("Group name").input_value() == "API"  # nothing typed is lost
