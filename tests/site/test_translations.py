"""Every page and email in 简体中文, 日本語 and 한국어 (issue 21): rendered for a user who chose the
language, no English is left outside user data and a short list of words that stay as they are
(scope names, product and protocol names). The words are read from what a person sees: the
text of the page (not its scripts, styles or code samples) and its labels for assistive
technology and tooltips (aria-label, title, placeholder, alt, data-label, button values)."""

import re
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from io import StringIO

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command

from tests.factories import (
    GroupFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    make_access_token,
    make_deploy_token,
    make_personal_token,
)
from tokens_site.models import AccessLevel, UserPreferences
from tokens_site.once import FIELD_NAME

pytestmark = pytest.mark.django_db

LANGUAGES = ["zh-hans", "ja", "ko"]

# Words that stay as they are in every language: scope names, products, protocols, formats,
# units and the names of the site's own things that are names.
# (`self`, `user`, `users`: the API paths /user, /users and the token API's `self`; `scope`: npm's.)
ALLOWED = {
    "api",
    "read_api",
    "read_user",
    "read_repository",
    "write_repository",
    "read_registry",
    "write_registry",
    "read_package_registry",
    "write_package_registry",
    "sudo",
    "admin_mode",
    "self_rotate",
    "k8s_proxy",
    "create_runner",
    "manage_runner",
    "ai_features",
    "read_virtual_registry",
    "write_virtual_registry",
    "GitLab",
    "Git",
    "LFS",
    "git",
    "lfs",
    "npm",
    "NuGet",
    "nuget",
    "PyPI",
    "pip",
    "twine",
    "Docker",
    "docker",
    "skopeo",
    "OCI",
    "HTTP",
    "HTTPS",
    "API",
    "REST",
    "SSH",
    "TOTP",
    "WebAuthn",
    "CI",
    "CD",
    "URL",
    "ID",
    "IP",
    "IPv4",
    "IPv6",
    "JSON",
    "YAML",
    "UTC",
    "Tokens",
    "OK",
    "QR",
    "glpat",
    "gldt",
    "gloas",
    "glrt",
    "glft",
    "glimt",
    "glagent",
    "glcbt",
    "glsoat",
    "ghp",
    "KiB",
    "MiB",
    "GiB",
    "MB",
    "GB",
    "KB",
    "English",
    "Git-over-HTTP",
    "gitlab-deploy-token",
    "gitlab",
    "deploy-token",
    "CLI",
    "NET",
    "curl",
    "EXTERNAL_URL",
    "http",
    "localhost",
    "atom",
    "self",
    "user",
    "users",
    "scope",
}
ASCII_WORD = re.compile(r"[A-Za-z][A-Za-z_'\u2019-]*[A-Za-z]|[A-Za-z]")
SEEN_ATTRIBUTES = {"aria-label", "title", "placeholder", "alt", "data-label"}
SKIPPED_ELEMENTS = {"script", "style", "pre", "code", "template", "datalist", "option", "kbd"}


class VisibleText(HTMLParser):
    """The words a person sees or hears on a page."""

    def __init__(self) -> None:
        super().__init__()
        self.words: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag in SKIPPED_ELEMENTS:
            self.skipping += 1
        for name in SEEN_ATTRIBUTES & attributes.keys():
            self.words.append(attributes[name] or "")
        if tag == "input" and attributes.get("type") in {"submit", "button"}:
            self.words.append(attributes.get("value") or "")

    def handle_endtag(self, tag):
        if tag in SKIPPED_ELEMENTS and self.skipping:
            self.skipping -= 1

    def handle_data(self, data):
        if not self.skipping:
            self.words.append(data)


def english_left(text: str, user_data: set[str], *, html: bool = True) -> set[str]:
    if html:
        parser = VisibleText()
        parser.feed(text)
        text = "\n".join(parser.words)
    for value in sorted(user_data, key=len, reverse=True):
        text = text.replace(value, " ")
    return {
        word
        for word in ASCII_WORD.findall(text)
        if word not in ALLOWED and word.strip("-_") not in ALLOWED and len(word) > 1
    }


@pytest.fixture
def world(db):
    """Names that are plainly user data (so the check can take them out of the page)."""
    owner = UserFactory(username="qqowner", first_name="Qqfirst", last_name="Qqlast")
    group = GroupFactory(name="Qqgroup", path="qqgroup", owner=owner)
    project = ProjectFactory(group=group, name="Qqproject", path="qqproject")
    MembershipFactory(
        user=UserFactory(username="qqmember"), project=project, access_level=AccessLevel.DEVELOPER
    )
    make_personal_token(owner, name="qqpersonal", scopes=["api"], description="qqdescription")
    make_deploy_token(project, name="qqdeploy", scopes=["read_repository"], username="qqbot")
    make_deploy_token(group, name="qqgroupdeploy", scopes=["read_repository"])
    make_access_token(project, owner, name="qqaccess")
    make_access_token(group, owner, name="qqgroupaccess")
    revoked, _ = make_personal_token(owner, name="qqrevoked", scopes=["read_api"])
    revoked.revoke()
    return {"owner": owner, "group": group, "project": project}


def user_data(world) -> set[str]:
    from django.contrib.auth import get_user_model

    data = {"qqowner", "qqmember", "Qqfirst", "Qqlast", "Qqgroup", "qqgroup", "Qqproject"}
    data |= {"qqproject", "qqpersonal", "qqdescription", "qqdeploy", "qqbot", "qqgroupdeploy"}
    data |= {"qqaccess", "qqgroupaccess", "qqrevoked", "testserver"}
    # The access tokens' bots, and addresses (e-mail, host names) of the users.
    for user in get_user_model().objects.all():
        data |= {user.username, user.email}
    return data


PAGES = [
    "/",
    "/explore",
    "/groups/new",
    "/projects/new",
    "/groups/qqgroup",
    "/groups/qqgroup/-/edit",
    "/groups/qqgroup/-/group_members",
    "/groups/qqgroup/-/settings/access_tokens",
    "/groups/qqgroup/-/settings/repository",
    "/qqgroup/qqproject",
    "/qqgroup/qqproject/-/project_members",
    "/qqgroup/qqproject/-/settings/repository",
    "/qqgroup/qqproject/-/settings/access_tokens",
    "/qqgroup/qqproject/-/packages",
    "/-/user_settings/profile",
    "/-/user_settings/personal_access_tokens",
    "/-/user_settings/two_factor_auth",
    "/qqgroup/does-not-exist",
]


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_page_is_in_the_users_language(client, world, language):
    UserPreferences.objects.create(user=world["owner"], language=language)
    client.force_login(world["owner"])
    session = client.session
    session["_language"] = language
    session.save()
    data = user_data(world)
    left = {}
    for path in PAGES:
        response = client.get(path)
        assert response.status_code in (200, 404), path
        words = english_left(response.content.decode(), data)
        if words:
            left[path] = sorted(words)
    assert left == {}


@pytest.mark.parametrize("language", LANGUAGES)
def test_form_errors_are_in_the_users_language(client, world, language):
    UserPreferences.objects.create(user=world["owner"], language=language)
    client.force_login(world["owner"])
    page = "/-/user_settings/personal_access_tokens"
    key = re.search(rf'name="{FIELD_NAME}" value="([^"]+)"', client.get(page).content.decode())
    response = client.post(
        page,
        {"name": "", "expires_at": "1999-01-01", FIELD_NAME: key.group(1)},
        headers={"accept-language": language},
    )
    assert response.status_code == 200
    assert english_left(response.content.decode(), user_data(world)) == set()


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_sign_in_page_for_a_visitor(client, language):
    response = client.get("/users/sign_in", headers={"accept-language": language})
    # The other languages' names are in those languages; English names itself.
    assert english_left(response.content.decode(), set()) == set()
    failed = client.post(
        "/users/sign_in",
        {"username": "nobody", "password": "wrong"},
        headers={"accept-language": language},
    )
    assert english_left(failed.content.decode(), {"nobody"}) == set()


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_expiry_email_is_in_the_recipients_language(world, language):
    owner = world["owner"]
    UserPreferences.objects.create(user=owner, language=language)
    make_personal_token(owner, name="qqsoon", scopes=["api"], expires_at=date(2030, 6, 8))
    with time_machine.travel(datetime(2030, 6, 1, 1, 5, tzinfo=UTC), tick=False):
        call_command("send_token_expiry_notifications", stdout=StringIO())
    [message] = [m for m in mail.outbox if m.to == [owner.email]]
    data = user_data(world) | {"qqsoon", "http", "personal_access_tokens", "user_settings"}
    assert english_left(message.subject, data, html=False) == set()
    assert english_left(message.body, data | {"127.0.0.1"}, html=False) == set()
    html = message.alternatives[0][0]
    assert english_left(html, data, html=True) == set()


def assert_email_in_language(message, data: set[str]) -> None:
    assert english_left(message.subject, data, html=False) == set(), message.subject
    assert english_left(message.body, data, html=False) == set(), message.body
    assert english_left(message.alternatives[0][0], data) == set()


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_leaked_token_email_is_in_the_recipients_language(world, language):
    from tokens_site.admin_token_information import WHERE
    from tokens_site.token_inventory import revoke_found

    owner = world["owner"]
    UserPreferences.objects.create(user=owner, language=language)
    token, _ = make_personal_token(owner, name="qqleaked", scopes=["api"])
    mail.outbox.clear()
    assert revoke_found(token, actor=None, where=WHERE)
    [message] = mail.outbox
    data = user_data(world) | {"qqleaked", "personal_access_tokens", "user_settings", "127.0.0.1"}
    assert_email_in_language(message, data)


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_account_locked_email_is_in_the_users_language(world, language):
    from tokens_site.auth.lockout import _notify_locked

    owner = world["owner"]
    UserPreferences.objects.create(user=owner, language=language)
    mail.outbox.clear()
    _notify_locked(owner, "203.0.113.9", language)
    [message] = mail.outbox
    data = user_data(world) | {"203.0.113.9", "127.0.0.1", "users", "sign_in"}
    assert_email_in_language(message, data)
