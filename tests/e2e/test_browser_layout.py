"""No page scrolls sideways (issue 20): with 255-character names of groups, projects, tokens and
members, at a phone's 390 px and a laptop's 1366 px, the document is no wider than the viewport
and no box in it scrolls sideways either, and long names are cut with an ellipsis, their full
text in a tooltip. The admin's lists fit 1366 px the same way."""

import pytest
from django.urls import reverse

from deploy_tokens.models import DeployToken
from personal_tokens.models import PersonalAccessToken
from tests.e2e.conftest import sign_in
from tests.factories import (
    PASSWORD,
    AdminFactory,
    GroupFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    make_access_token,
    make_deploy_token,
    make_personal_token,
)
from tokens_site.models import AccessLevel, Group, Project

pytestmark = pytest.mark.e2e

LONG = "Tanuki " + "long" * 62  # 255 characters

# The document's width and viewport's, and every box that scrolls sideways.
WIDTHS = """() => ({
  document: document.documentElement.scrollWidth,
  viewport: document.documentElement.clientWidth,
  scrolling: [...document.querySelectorAll("*")]
    .filter((e) => e.scrollWidth > e.clientWidth + 1
      && ["auto", "scroll"].includes(getComputedStyle(e).overflowX))
    .map((e) => `${e.tagName}.${e.className} ${e.scrollWidth}/${e.clientWidth}`),
})"""


def assert_fits(page, where: str) -> None:
    widths = page.evaluate(WIDTHS)
    assert widths["document"] <= widths["viewport"] and not widths["scrolling"], (where, widths)


def long_named_world(user):
    """A group and a project with 255-character names and paths the length of a long one,
    tokens of every kind with 255-character names, and a member with a long username."""
    group = GroupFactory(name=LONG, path="g" * 200)
    MembershipFactory(user=user, group=group, access_level=AccessLevel.OWNER)
    project = ProjectFactory(group=group, name=LONG, path="p" * 200)
    MembershipFactory(user=UserFactory(username="u" * 150), project=project)
    scopes = ["read_repository", "read_registry", "write_registry", "read_package_registry"]
    make_deploy_token(project, name=LONG, scopes=scopes, username="d" * 255)
    make_personal_token(user, name=LONG, scopes=["api", "read_user", "read_repository"])
    make_access_token(project, user, name=LONG)
    return group, project


@pytest.mark.parametrize("width", [390, 1366])
def test_long_names_never_widen_a_page(site_server, page, transactional_db, width):
    assert len(LONG) == 255
    user = UserFactory(username="wide")
    group, project = long_named_world(user)
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, site_server, "wide", PASSWORD)
    for path in (
        "/",
        "/explore",
        f"/groups/{group.full_path}",
        f"/groups/{group.full_path}/-/group_members",
        f"/groups/{group.full_path}/-/settings/access_tokens",
        f"/{project.full_path}",
        f"/{project.full_path}/-/project_members",
        f"/{project.full_path}/-/settings/repository#deploy-tokens",
        f"/{project.full_path}/-/settings/access_tokens",
        f"/{project.full_path}/-/packages",
        f"/{project.full_path}/-/container_registry",
        "/-/user_settings/personal_access_tokens",
        "/-/user_settings/two_factor_auth",
    ):
        page.goto(f"{site_server.url}{path}")
        assert_fits(page, path)
    page.goto(f"{site_server.url}/-/user_settings/personal_access_tokens")
    name = page.locator("tr[data-token] .ellipsis").first
    assert name.get_attribute("title") == LONG
    assert name.evaluate("(e) => e.scrollWidth > e.clientWidth")  # cut, not wrapped
    page.goto(f"{site_server.url}/{project.full_path}")
    heading = page.locator("h1").first
    assert heading.get_attribute("title") == LONG


def test_the_admins_lists_fit_a_laptop(site_server, page, transactional_db):
    admin = AdminFactory(username="root")
    long_named_world(admin)
    page.set_viewport_size({"width": 1366, "height": 900})
    sign_in(page, site_server, "root", PASSWORD)
    page.goto(f"{site_server.url}/admin/")
    lists = page.eval_on_selector_all(
        "#content-main a[href$='/']", "(links) => links.map((a) => a.getAttribute('href'))"
    )
    lists = sorted({href for href in lists if href.count("/") == 4})
    assert "/admin/deploy_tokens/deploytoken/" in lists
    assert "/admin/personal_tokens/personalaccesstoken/" in lists
    for path in [*lists, "/admin/token-information/"]:
        page.goto(f"{site_server.url}{path}")
        assert_fits(page, path)
    page.goto(f"{site_server.url}/admin/deploy_tokens/deploytoken/")
    assert page.locator("#result_list .ellipsis").first.get_attribute("title") == LONG
    assert page.locator("#result_list td.field-belongs_to").count() == 1  # its own class

    # Each kind's change page, and the token information page with a long-named token found.
    for model in (DeployToken, PersonalAccessToken, Group, Project):
        change = reverse(
            f"admin:{model._meta.app_label}_{model._meta.model_name}_change",
            args=[model.objects.order_by("pk").last().pk],
        )
        page.goto(f"{site_server.url}{change}")
        assert_fits(page, change)
    _, secret = make_personal_token(admin, name=LONG)
    page.goto(f"{site_server.url}/admin/token-information/")
    page.locator("textarea").first.fill(secret)
    page.locator("#content form [type=submit]").first.click()
    page.locator("tr[data-token]").first.wait_for()
    assert_fits(page, "token information, found")
