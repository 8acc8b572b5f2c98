"""Which language answers (issue 21, tokens_site.language): the browser's Accept-Language for
visitors, a `?language=` link, a signed-in user's stored preference (also for their emails),
English for the REST API, and English whenever what is asked is unknown or malformed."""

import pytest
from django.conf import settings

from tests.factories import PASSWORD, UserFactory, make_personal_token
from tokens_site.models import UserPreferences

pytestmark = pytest.mark.django_db

SIGN_IN = "/users/sign_in"
# The sign-in page's heading in each language (locale/GLOSSARY.md).
SIGN_IN_HEADING = {"en": "Sign in", "zh-hans": "登录", "ja": "サインイン", "ko": "로그인"}


def heading(response) -> str:
    page = response.content.decode()
    return page.split("<h1>", 1)[1].split("</h1>", 1)[0]


def html_lang(response) -> str:
    page = response.content.decode()
    return page.split('<html lang="', 1)[1].split('"', 1)[0]


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("ja", "ja"),
        ("ko-KR,ko;q=0.9,en;q=0.8", "ko"),
        ("zh-CN,zh;q=0.9", "zh-hans"),
        ("zh-Hans", "zh-hans"),
        ("fr-FR,ja;q=0.5", "ja"),
        ("en-US", "en"),
    ],
)
def test_a_visitor_gets_their_browsers_language(client, header, language):
    response = client.get(SIGN_IN, headers={"accept-language": header})
    assert html_lang(response) == language
    assert heading(response) == SIGN_IN_HEADING[language]
    assert response["Content-Language"] == language


@pytest.mark.parametrize(
    "header",
    ["xx", "*;q=abc", "ja;q=abc", "x" * 4096, ";;;,,,", "ja;q=-1", "\u00e9", "", "*"],
)
def test_an_unknown_or_malformed_accept_language_is_english(client, header):
    response = client.get(SIGN_IN, headers={"accept-language": header})
    assert response.status_code == 200
    assert html_lang(response) == "en" and heading(response) == "Sign in"


def test_a_4_kb_accept_language_is_read_as_far_as_django_reads_it(client):
    response = client.get(SIGN_IN, headers={"accept-language": "ko," * 1500})
    assert response.status_code == 200 and html_lang(response) == "ko"


@pytest.mark.parametrize("value", ["xx", "", "ja" * 20, "../ja", "ja\x01", "%FF", "en-US;q=1"])
def test_an_unknown_language_parameter_is_passed_over(client, value):
    response = client.get(SIGN_IN, {"language": value})
    assert response.status_code == 200
    assert html_lang(response) == "en"
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies


def test_a_language_link_answers_in_it_and_is_kept_in_the_cookie(client):
    response = client.get(SIGN_IN, {"language": "ko"})
    assert heading(response) == SIGN_IN_HEADING["ko"]
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "ko"
    # The next page, with no link and an English browser, stays Korean.
    again = client.get(SIGN_IN, headers={"accept-language": "en"})
    assert html_lang(again) == "ko"


def test_the_sign_in_page_links_every_language():
    from django.test import Client

    page = Client().get(SIGN_IN).content.decode()
    for code, name in settings.LANGUAGES:
        if code != "en":
            assert f'href="?language={code}"' in page and name in page


def test_a_users_choice_is_stored_and_beats_the_browser(client):
    user = UserFactory(username="kenji")
    client.force_login(user)
    response = client.post("/-/user_settings/language", {"language": "ja", "next": "/explore"})
    assert response.status_code == 302 and response["Location"] == "/explore"
    assert UserPreferences.objects.get(user=user).language == "ja"
    page = client.get("/explore", headers={"accept-language": "ko"})
    assert html_lang(page) == "ja"


def test_the_choice_follows_the_user_to_their_next_sign_in(client):
    user = UserFactory(username="kenji")
    UserPreferences.objects.create(user=user, language="zh-hans")
    response = client.post(
        SIGN_IN,
        {"username": "kenji", "password": PASSWORD},
        follow=True,
        headers={"accept-language": "en"},
    )
    assert html_lang(response) == "zh-hans"


def test_the_browsers_language_again_clears_the_choice(client):
    user = UserFactory(username="kenji")
    UserPreferences.objects.create(user=user, language="ja")
    client.force_login(user)
    client.post("/-/user_settings/language", {"language": "", "next": "/"})
    assert UserPreferences.objects.get(user=user).language == ""
    assert html_lang(client.get("/explore", headers={"accept-language": "ko"})) == "ko"


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)", ""]
)
def test_the_switcher_only_goes_back_to_this_site(client, target):
    response = client.post("/-/user_settings/language", {"language": "ja", "next": target})
    assert response.status_code == 302 and response["Location"] == "/"


def test_the_switcher_refuses_a_get_and_an_unknown_language_is_the_browsers(client):
    assert client.get("/-/user_settings/language").status_code == 405
    user = UserFactory(username="kenji")
    client.force_login(user)
    client.post("/-/user_settings/language", {"language": "xx", "next": "/"})
    assert UserPreferences.objects.get(user=user).language == ""


def test_the_avatar_menu_and_the_profile_page_offer_the_languages(client):
    user = UserFactory(username="kenji")
    UserPreferences.objects.create(user=user, language="ko")
    client.force_login(user)
    page = client.get("/-/user_settings/profile").content.decode()
    assert '<option value="ko" lang="ko" selected>한국어</option>' in page
    for code, _ in settings.LANGUAGES:
        assert f'name="language" value="{code}"' in page  # the avatar menu's buttons


def test_the_rest_api_answers_in_english_whatever_is_asked(client):
    user = UserFactory(username="kenji")
    UserPreferences.objects.create(user=user, language="ja")
    _, secret = make_personal_token(user, scopes=["read_api"])
    response = client.get(
        "/api/v4/user", headers={"private-token": "glpat-wrong", "accept-language": "ja"}
    )
    assert response.status_code == 401 and response.json() == {"message": "401 Unauthorized"}
    answer = client.get("/api/v4/projects?language=ja", headers={"private-token": secret})
    assert answer.status_code == 200 and answer.get("Content-Language", "en") == "en"
