"""No page scrolls sideways (issue 20): with 255-character group and project names, at a phone's
390 px and a laptop's 1366 px, the document is no wider than the viewport, and long names are cut
with an ellipsis, their full text in a tooltip."""

import pytest

from tests.e2e.conftest import sign_in
from tests.factories import PASSWORD, GroupFactory, MembershipFactory, ProjectFactory, UserFactory
from tokens_site.models import AccessLevel

pytestmark = pytest.mark.e2e

LONG = "Tanuki " + "long" * 62  # 255 characters


@pytest.mark.parametrize("width", [390, 1366])
def test_long_names_never_widen_a_page(site_server, page, transactional_db, width):
    assert len(LONG) == 255
    user = UserFactory(username="wide")
    group = GroupFactory(name=LONG, path="g" * 200)
    MembershipFactory(user=user, group=group, access_level=AccessLevel.OWNER)
    project = ProjectFactory(group=group, name=LONG, path="p" * 200)
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, site_server, "wide", PASSWORD)
    for path in (
        "/",
        f"/groups/{group.full_path}",
        f"/{project.full_path}",
        f"/{project.full_path}/-/project_members",
        f"/{project.full_path}/-/settings/repository",
        f"/{project.full_path}/-/packages",
        "/-/user_settings/personal_access_tokens",
    ):
        page.goto(f"{site_server.url}{path}")
        widths = page.evaluate(
            "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert widths[0] <= widths[1], (path, widths)
    page.goto(f"{site_server.url}/{project.full_path}")
    heading = page.locator("h1").first
    assert heading.get_attribute("title") == LONG
