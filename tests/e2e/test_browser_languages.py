"""The deploy-token and personal-token flows in each of the site's four languages (issue 21), in
a real browser: the language chosen in the avatar menu, a token created, shown once and revoked,
with the seeds' own terms on the page at each step."""

import re

import pytest

from deploy_tokens.models import DeployToken
from personal_tokens.models import PersonalAccessToken
from tests.e2e.conftest import sign_in
from tests.factories import PASSWORD, GroupFactory, ProjectFactory, UserFactory
from tokens_site.models import UserPreferences

pytestmark = pytest.mark.e2e

# The seeds' terms (locale/GLOSSARY.md): deploy token, personal access token, scopes, revoke.
TERMS = {
    "en": ("deploy token", "personal access token", "Scopes", "Revoke"),
    "zh-hans": ("部署令牌", "个人访问令牌", "作用域", "撤销"),
    "ja": ("デプロイトークン", "パーソナルアクセストークン", "スコープ", "取り消し"),
    "ko": ("배포 토큰", "개인 액세스 토큰", "범위", "취소"),
}
NAMES = {"en": "English", "zh-hans": "简体中文", "ja": "日本語", "ko": "한국어"}


def text(page) -> str:
    return page.locator("main").inner_text()


def choose_language(page, language: str) -> None:
    """The avatar menu's language buttons."""
    page.locator("#user-menu > summary").click()
    page.locator("#user-menu").get_by_role("button", name=NAMES[language]).click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == language


def revoke(page, row) -> None:
    """The row's danger button opens the dialog; its submit button confirms."""
    row.locator("button.danger[command=show-modal]").click()
    page.locator("dialog[open] button[type=submit]").click()
    page.wait_for_load_state()


@pytest.mark.parametrize("language", list(TERMS))
def test_deploy_token_flow(site_server, page, transactional_db, language):
    deploy_token, _, scopes, revoke_word = TERMS[language]
    owner = UserFactory(username="olga")
    project = ProjectFactory(group=GroupFactory(path="tanuki", owner=owner), path="api")
    sign_in(page, site_server, "olga", PASSWORD)
    choose_language(page, language)
    assert UserPreferences.objects.get(user=owner).language == language

    page.goto(f"{site_server.url}/{project.full_path}/-/settings/repository#deploy-tokens")
    assert deploy_token in text(page).lower()
    page.locator("#add-deploy-token > summary").click()
    assert scopes in text(page)
    page.locator("#id_name").fill("ci")
    page.locator("input[name=scopes][value=read_repository]").check()
    page.locator("#add-deploy-token form [type=submit]").click()

    panel = page.locator("#new-deploy-token")
    assert deploy_token in panel.inner_text().lower()
    value = panel.locator("#new-deploy-token-value").input_value()
    assert value.startswith("gldt-")
    row = page.locator("#active-deploy-tokens tr[data-token='ci']")
    assert revoke_word in row.inner_text()
    revoke(page, row)
    flash = page.locator(".flash.success").inner_text()
    assert revoke_word in flash and deploy_token in flash.lower()
    assert DeployToken.objects.get(name="ci").revoked
    assert value not in page.content()


@pytest.mark.parametrize("language", list(TERMS))
def test_personal_token_flow(site_server, page, transactional_db, language):
    _, personal_token, scopes, revoke_word = TERMS[language]
    UserFactory(username="kenji")
    sign_in(page, site_server, "kenji", PASSWORD)
    choose_language(page, language)

    page.goto(f"{site_server.url}/-/user_settings/personal_access_tokens")
    heading = page.locator("h1").inner_text()
    assert personal_token.lower() in heading.lower()
    page.locator("#add-personal-access-token > summary").click()
    assert scopes in text(page)
    page.locator("#id_name").fill("laptop")
    page.locator("input[name=scopes][value=read_api]").check()
    page.locator("#add-personal-access-token form [type=submit]").click()

    panel = page.locator("#new-personal-access-token")
    assert personal_token.lower() in panel.inner_text().lower()
    value = panel.locator("#new-personal-access-token-value").input_value()
    assert value.startswith("glpat-")
    page.reload()
    assert value not in page.content()
    row = page.locator("#active-personal-access-tokens tr[data-token='laptop']")
    revoke(page, row)
    flash = page.locator(".flash.success").inner_text()
    assert revoke_word in flash and re.search(re.escape(personal_token), flash, re.IGNORECASE)
    assert PersonalAccessToken.objects.get(name="laptop").revoked
