"""The token pages pass axe-core (issue 20): no serious or critical violation on the personal,
project and group access token pages and the deploy token settings, each with its form open,
a table of tokens, a new token shown once and a confirmation dialog open, at a laptop's and a
phone's width. axe-core comes from npm (tests/e2e/axe, installed by ./dev setup) and is run
in the page through the DevTools protocol, so the site's Content-Security-Policy stays as it is."""

import os
import re
from pathlib import Path

import pytest

from tests.e2e.conftest import sign_in
from tests.factories import (
    PASSWORD,
    GroupFactory,
    ProjectFactory,
    UserFactory,
    make_access_token,
    make_deploy_token,
    make_personal_token,
)

pytestmark = pytest.mark.e2e

AXE = Path(__file__).parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")

RUN_AXE = """async () => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations.map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
  }));
}"""


def axe_source() -> str:
    if not AXE.is_file():
        message = "axe-core is not installed (./dev setup installs it with npm)"
        if os.environ.get("TOKENS_E2E_REQUIRED") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return AXE.read_text()


def serious_violations(page, source: str) -> list[dict]:
    if not page.evaluate("() => 'axe' in window"):
        page.evaluate(f"{source}\n;0")
    return [v for v in page.evaluate(RUN_AXE) if v["impact"] in SERIOUS]


@pytest.mark.parametrize("width", [1280, 390])
def test_token_pages_have_no_serious_accessibility_violation(
    site_server, page, transactional_db, width
):
    source = axe_source()
    owner = UserFactory(username="owner")
    group = GroupFactory(name="Tanuki", path="tanuki", owner=owner)
    project = ProjectFactory(group=group, name="API", path="api")
    make_personal_token(owner, name="laptop", scopes=["api"])
    make_deploy_token(project, name="ci", scopes=["read_repository"])
    make_access_token(project, owner, name="bot")
    make_access_token(group, owner, name="group-bot")
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, site_server, "owner", PASSWORD)

    pages = {
        "personal": "/-/user_settings/personal_access_tokens",
        "project access": "/tanuki/api/-/settings/access_tokens",
        "group access": "/groups/tanuki/-/settings/access_tokens",
        "deploy": "/tanuki/api/-/settings/repository#deploy-tokens",
    }
    found = {}
    for name, path in pages.items():
        page.goto(f"{site_server.url}{path}")
        # The form open, a token made (its value shown once), then a confirmation open.
        page.get_by_text(re.compile(r"^Add (new )?token$")).click()
        form = page.locator("details.add-token form")
        form.get_by_label(re.compile(r"^(Token name|Name)$")).fill("checked")
        form.get_by_role("checkbox").first.check()
        found[f"{name}: form"] = serious_violations(page, source)
        form.get_by_role("button", name=re.compile(r"^Create ")).click()
        page.locator("[data-shown-once]").wait_for()
        found[f"{name}: shown once"] = serious_violations(page, source)
        page.get_by_role("button", name="Revoke", exact=True).first.click()
        page.locator("dialog[open]").wait_for()
        found[f"{name}: dialog"] = serious_violations(page, source)
    assert {where: v for where, v in found.items() if v} == {}

    # The check sees what it should: a field without a label is a critical violation.
    page.keyboard.press("Escape")
    page.evaluate(
        "() => document.querySelector('main').append("
        "Object.assign(document.createElement('input'), {type: 'text'}))"
    )
    assert "label" in {v["id"] for v in serious_violations(page, source)}
