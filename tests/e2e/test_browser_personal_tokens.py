"""Personal access tokens in a real browser, following the seed's steps: avatar → Edit profile →
Access tokens; the prefilled link; create, shown once, reload, revoke."""

import pytest

from personal_tokens.models import PersonalAccessToken
from tests.e2e.conftest import sign_in
from tests.factories import PASSWORD, UserFactory
from tokens_site.tokens import token_digest

pytestmark = pytest.mark.e2e


def test_prefilled_create_shown_once_and_revoke(site_server, page, transactional_db):
    user = UserFactory(username="dana")
    sign_in(page, site_server, "dana", PASSWORD)

    # The seed's steps from the top bar.
    page.get_by_label("Your avatar menu").click()
    page.get_by_role("link", name="Edit profile").click()
    page.get_by_role("link", name="Access tokens").click()
    page.wait_for_url(f"{site_server.url}/-/user_settings/personal_access_tokens")

    # The seed's prefill link, at the older address.
    page.goto(
        f"{site_server.url}/-/profile/personal_access_tokens"
        "?name=Example+Access+token&scopes=api,read_user,read_registry,nonsense"
    )
    assert page.url.endswith(
        "?name=Example+Access+token&scopes=api,read_user,read_registry,nonsense"
    )
    assert page.get_by_label("Token name").input_value() == "Example Access token"
    checked = page.locator("input[name=scopes]:checked").evaluate_all(
        "els => els.map(e => e.value)"
    )
    assert checked == ["api", "read_user", "read_registry"]

    page.get_by_role("button", name="Create personal access token").click()
    panel = page.locator("#new-personal-access-token")
    token = panel.get_by_label("Token").input_value()
    assert token.startswith("glpat-")
    assert panel.get_by_role("button", name="Copy personal access token").is_visible()
    stored = PersonalAccessToken.objects.get(user=user)
    assert stored.token_digest == token_digest(token)
    assert stored.scopes == ["api", "read_user", "read_registry"]

    page.reload()
    page.wait_for_load_state()
    assert token not in page.content()
    assert PersonalAccessToken.objects.count() == 1

    row = page.locator("tr[data-token='Example Access token']")
    assert "Never" in row.inner_text()  # last used, expires
    row.get_by_role("button", name="Revoke", exact=True).click()
    row.get_by_role("button", name="Revoke Example Access token").click()
    assert page.get_by_role("status").inner_text() == (
        "Revoked personal access token Example Access token."
    )
    assert "This user has no active personal access tokens." in page.content()
    assert PersonalAccessToken.objects.get().revoked


def test_back_and_reload_after_create_show_the_plain_page(site_server, page, transactional_db):
    UserFactory(username="erin")
    sign_in(page, site_server, "erin", PASSWORD)
    tokens_page = f"{site_server.url}/-/user_settings/personal_access_tokens"
    page.goto(tokens_page)
    page.get_by_text("Add new token").click()
    page.get_by_label("Token name").fill("ci")
    page.locator("input[name=scopes][value=read_api]").check()
    page.get_by_role("button", name="Create personal access token").click()
    token = page.locator("#new-personal-access-token").get_by_label("Token").input_value()
    assert token.startswith("glpat-")
    navigations = []
    page.on(
        "request",
        lambda request: (
            navigations.append(request.method) if request.is_navigation_request() else None
        ),
    )

    # Reload: the page again, by GET (no resubmission, no second token).
    page.reload()
    page.wait_for_load_state()
    assert page.url == tokens_page
    assert token not in page.content() and "Confirm Form Resubmission" not in page.content()
    assert page.locator("tr[data-token='ci']").count() == 1
    assert navigations == ["GET"]  # not the form's POST again

    # Away and Back: the plain page, not Chrome's ERR_CACHE_MISS.
    page.goto(f"{site_server.url}/")
    page.go_back()
    page.wait_for_load_state()
    assert page.url == tokens_page
    assert token not in page.content()
    assert page.get_by_role("heading", name="Personal access tokens").count() >= 1
    assert navigations == ["GET", "GET", "GET"]
    assert PersonalAccessToken.objects.count() == 1
