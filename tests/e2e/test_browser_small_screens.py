"""A phone's screen, 390 by 844 (issue 20): tables are stacked cards with every field and action
in view, confirmations are modal dialogs (focus inside, Escape and Cancel close them, focus
back on the button that opened them), the sidebar folds under its name and keeps its sections,
and a paste longer than a name field allows is cut and said."""

import pytest

from personal_tokens.models import PersonalAccessToken
from tests.e2e.conftest import sign_in
from tests.factories import (
    PASSWORD,
    GroupFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    make_personal_token,
)
from tokens_site.models import AccessLevel, Membership

pytestmark = pytest.mark.e2e

PHONE = {"width": 390, "height": 844}
TOKENS = "/-/user_settings/personal_access_tokens"


def in_view(locator) -> bool:
    box = locator.bounding_box()
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]


def focus_is_in(page, selector: str) -> bool:
    return page.evaluate(
        "(selector) => document.querySelector(selector).contains(document.activeElement)",
        selector,
    )


@pytest.fixture
def phone(page):
    page.set_viewport_size(PHONE)
    return page


def test_revoke_a_token_through_its_card_and_the_dialog(site_server, phone, transactional_db):
    page = phone
    user = UserFactory(username="olga")
    token, _ = make_personal_token(
        user, name="laptop", scopes=["api", "read_user", "read_repository", "write_repository"]
    )
    sign_in(page, site_server, "olga", PASSWORD)
    page.goto(f"{site_server.url}{TOKENS}")

    # A card: every column's value under its name, the actions in view.
    card = page.locator("#active-personal-access-tokens tr[data-token='laptop']")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    for label, value in [("Token name", "laptop"), ("Scopes", "write_repository")]:
        cell = card.locator(f"td[data-label='{label}']")
        assert value in cell.inner_text() and in_view(cell)
    assert card.locator("thead").count() == 0
    opener = card.get_by_role("button", name="Revoke", exact=True)
    assert in_view(opener) and in_view(card.get_by_role("button", name="Rotate", exact=True))

    # The dialog: modal, above the card (not inside its box), focus on Cancel and kept inside.
    opener.click()
    dialog = page.get_by_role("dialog", name="Revoke laptop?")
    assert dialog.is_visible() and dialog.evaluate("(d) => d.matches(':modal')")
    assert in_view(dialog) and in_view(dialog.get_by_role("button", name="Revoke laptop"))
    assert page.evaluate("() => document.activeElement.textContent") == "Cancel"
    for key in ["Tab"] * 4 + ["Shift+Tab"] * 4:
        page.keyboard.press(key)
        assert focus_is_in(page, "dialog[open]"), key
    # Escape closes it; focus returns to the button that opened it; nothing was revoked.
    page.keyboard.press("Escape")
    assert not dialog.is_visible()
    assert opener.evaluate("(button) => button === document.activeElement")
    # So does Cancel.
    opener.click()
    dialog.get_by_role("button", name="Cancel").click()
    assert not dialog.is_visible()
    token.refresh_from_db()
    assert not token.revoked

    opener.click()
    dialog.get_by_role("button", name="Revoke laptop").click()
    assert page.get_by_role("status").inner_text() == "Revoked personal access token laptop."
    assert page.locator("#inactive-personal-access-tokens tr[data-token='laptop']").is_visible()
    assert PersonalAccessToken.objects.get(pk=token.pk).revoked


def test_change_a_members_role_and_remove_them_through_the_cards(
    site_server, phone, transactional_db
):
    page = phone
    owner = UserFactory(username="olga")
    project = ProjectFactory(group=GroupFactory(path="tanuki", owner=owner), path="web")
    bob = MembershipFactory(
        user=UserFactory(username="bob"), project=project, access_level=AccessLevel.DEVELOPER
    )
    sign_in(page, site_server, "olga", PASSWORD)
    page.goto(f"{site_server.url}/{project.full_path}/-/project_members")

    card = page.locator("tr[data-member='bob']")
    role = card.get_by_label("Role of bob")
    assert in_view(role) and in_view(card.get_by_role("button", name="Change role"))
    role.select_option(label="Maintainer")
    card.get_by_role("button", name="Change role").click()
    assert page.get_by_role("status").inner_text() == "bob is now Maintainer."
    bob.refresh_from_db()
    assert bob.access_level == AccessLevel.MAINTAINER

    remove = page.locator("tr[data-member='bob']").get_by_role("button", name="Remove member")
    assert in_view(remove)
    remove.click()
    dialog = page.get_by_role("dialog", name="Remove bob?")
    assert in_view(dialog)
    dialog.get_by_role("button", name="Remove", exact=True).click()
    assert page.get_by_role("status").inner_text() == "bob was removed."
    assert not Membership.objects.filter(pk=bob.pk).exists()


def test_the_sidebar_folds_under_its_name_and_keeps_its_sections(
    site_server, phone, transactional_db
):
    page = phone
    owner = UserFactory(username="olga")
    project = ProjectFactory(group=GroupFactory(path="tanuki", owner=owner), path="web")
    sign_in(page, site_server, "olga", PASSWORD)
    page.goto(f"{site_server.url}/{project.full_path}")

    sidebar = page.get_by_role("navigation", name="Project")
    menu = sidebar.get_by_role("button", name="Menu")
    members = sidebar.get_by_role("link", name="Members")
    assert menu.get_attribute("aria-expanded") == "false" and not members.is_visible()
    menu.click()
    assert menu.get_attribute("aria-expanded") == "true"
    for section in ("Manage", "Deploy", "Settings"):
        assert sidebar.get_by_text(section, exact=True).is_visible()
    members.click()
    page.wait_for_url(f"**/{project.full_path}/-/project_members")
    # On a wide screen nothing folds.
    page.set_viewport_size({"width": 1280, "height": 900})
    assert members.is_visible() and not menu.is_visible()


def test_a_paste_longer_than_the_name_field_is_cut_and_said(site_server, phone, transactional_db):
    page = phone
    UserFactory(username="olga")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    sign_in(page, site_server, "olga", PASSWORD)
    page.goto(f"{site_server.url}{TOKENS}")
    page.get_by_text("Add new token").click()
    name = page.get_by_label("Token name")

    pasted = "Tanuki " * 1428 + "end!"  # 10,000 characters
    page.evaluate("(text) => navigator.clipboard.writeText(text)", pasted)
    name.focus()
    page.keyboard.press("Control+V")
    assert name.input_value() == pasted[:255]
    assert page.get_by_text("The pasted text was cut to fit: at most 255 characters.").is_visible()

    # Sent whole anyway (a script, an old browser): the form refuses it and the page holds.
    name.evaluate("(field, text) => { field.value = text; }", pasted)
    page.get_by_role("checkbox", name="api", exact=False).first.check()
    page.get_by_role("button", name="Create personal access token").click()
    assert page.get_by_text(
        "Ensure this value has at most 255 characters (it has 10000)."
    ).is_visible()
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    assert not PersonalAccessToken.objects.exists()
