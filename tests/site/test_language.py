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


def test_no_language_is_left_behind_for_the_next_request(client):
    client.get(SIGN_IN, headers={"accept-language": "ko"})
    refused = client.get("/explore?x=%00", headers={"accept-language": "en"})
    assert refused.status_code == 400 and "NUL character" in refused.content.decode()
    api = client.get("/api/v4/version?x=%00", headers={"accept-language": "en"})
    assert "NUL character" in api.content.decode()


def test_a_language_parameter_on_the_api_sets_no_cookie(client):
    response = client.get("/api/v4/version", {"language": "ja"})
    assert settings.LANGUAGE_COOKIE_NAME not in response.cookies


def test_each_language_is_named_in_itself_in_the_switchers(client):
    page = client.get(SIGN_IN, headers={"accept-language": "ja"}).content.decode()
    assert '<a href="?language=en" lang="en" hreflang="en">English</a>' in page


def test_a_package_error_is_in_the_token_owners_language(client):
    """npm sends no Accept-Language: a duplicate version is refused in the owner's language."""
    from tests.factories import GroupFactory, MembershipFactory, ProjectFactory
    from tests.site.test_npm import document, publish
    from tokens_site.models import AccessLevel

    owner = UserFactory(username="kenji")
    UserPreferences.objects.create(user=owner, language="ja")
    project = ProjectFactory(group=GroupFactory(path="tanuki", owner=owner), path="web")
    MembershipFactory(user=owner, project=project, access_level=AccessLevel.OWNER)
    _, secret = make_personal_token(owner, scopes=["api"])
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    assert publish(client, project, auth, document()).status_code == 200
    again = publish(client, project, auth, document())
    assert again.status_code == 403
    message = again.json()["message"]
    assert "Package already exists" not in message and "@tanuki/hello" in message
    assert any("\u3040" <= char <= "\u30ff" for char in message)  # kana


def test_commands_speak_the_shells_language():
    import os
    import subprocess
    import sys

    def help_text(**env) -> str:
        return subprocess.run(
            [sys.executable, "manage.py", "find_tokens", "--help"],
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "tokens_site.test_settings", **env},
            capture_output=True,
            text=True,
            check=True,
            cwd=settings.BASE_DIR,
        ).stdout

    english = help_text(LANGUAGE="", LC_ALL="C.UTF-8", LANG="C.UTF-8")
    japanese = help_text(LANGUAGE="ja", LC_ALL="C.UTF-8")
    korean = help_text(LANGUAGE="", LC_ALL="", LANG="ko_KR.UTF-8")
    assert english != japanese and english != korean
    assert any("\u3040" <= char <= "\u30ff" for char in japanese)
    assert any("\uac00" <= char <= "\ud7a3" for char in korean)
