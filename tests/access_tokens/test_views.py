"""Settings > Access tokens of projects and groups."""

import html
import re
from datetime import timedelta

import pytest

from access_tokens.services import tokens_of
from personal_tokens.models import PersonalAccessToken
from tests.factories import make_access_token, once_key
from tests.leaks import assert_shown_by_the_creating_page_only, log_everything
from tests.roles import ROLES, SIGN_IN, outcome, visit
from tokens_site.models import AccessLevel, AuditAction, AuditEvent, Bot, Membership
from tokens_site.once import FIELD_NAME
from tokens_site.tokens import utc_today

pytestmark = pytest.mark.django_db

PROJECT_SETTINGS = "/tanuki/backend/api/-/settings/access_tokens"
GROUP_SETTINGS = "/groups/tanuki/backend/-/settings/access_tokens"

# anonymous, non-member, guest, reporter, developer, maintainer, owner, admin: as on the
# deploy token pages.
PROJECT_MATRIX = [SIGN_IN, 404, 403, 403, 403, 200, 200, 200]
GROUP_MATRIX = [SIGN_IN, 404, 403, 403, 403, 403, 200, 200]
NEW_VALUE = re.compile(r'id="new-access-token-value" value="(glpat-[^"]+)"')


def in_days(days: int) -> str:
    return str(utc_today() + timedelta(days=days))


def create_data(client, settings_url, **overrides) -> dict:
    data = {
        "name": "ci",
        "description": "",
        "expires_at": in_days(30),
        "access_level": "30",
        "scopes": ["read_api"],
        FIELD_NAME: once_key(client, settings_url),
    }
    return {**data, **overrides}


def make_token(source, actor, **kwargs):
    """A read_api Developer token, unless told."""
    kwargs.setdefault("scopes", ["read_api"])
    kwargs.setdefault("access_level", AccessLevel.DEVELOPER)
    return make_access_token(source, actor, **kwargs)


def new_value(response) -> str | None:
    found = NEW_VALUE.search(response.content.decode())
    return found.group(1) if found else None


def text_of(response) -> str:
    """The page as a reader sees its words (entities decoded, whitespace collapsed)."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def rows(page: str, table: str) -> dict[str, str]:
    found = re.search(rf'<table class="list" id="{table}">(.*?)</table>', page, re.DOTALL)
    if found is None:
        return {}
    return dict(re.findall(r'<tr data-token="([^"]+)">(.*?)</tr>', found.group(1), re.DOTALL))


def offered_roles(response) -> list[str]:
    page = response.content.decode()
    select = re.search(r'<select name="access_level".*?</select>', page, re.DOTALL).group(0)
    return re.findall(r"<option [^>]*>([^<]+)</option>", select)


@pytest.mark.parametrize(("role", "expected"), list(zip(ROLES, PROJECT_MATRIX, strict=True)))
def test_project_page_is_for_maintainers_and_owners(client, world, role, expected):
    assert outcome(visit(client, world, role, "get", PROJECT_SETTINGS)) == expected


@pytest.mark.parametrize(("role", "expected"), list(zip(ROLES, GROUP_MATRIX, strict=True)))
def test_group_page_is_for_owners(client, world, role, expected):
    assert outcome(visit(client, world, role, "get", GROUP_SETTINGS)) == expected


def test_a_developer_is_told_what_role_the_page_needs(client, world):
    client.force_login(world["users"]["developer"])
    response = client.get(PROJECT_SETTINGS)
    assert response.status_code == 403
    assert "You need at least the Maintainer role in this project" in text_of(response)


@pytest.mark.parametrize(
    ("role", "settings_url", "expected"),
    [
        ("developer", PROJECT_SETTINGS, 403),
        ("maintainer", GROUP_SETTINGS, 403),
        ("maintainer", PROJECT_SETTINGS, 200),
        ("owner", GROUP_SETTINGS, 200),
    ],
)
def test_creating_needs_the_page(client, world, role, settings_url, expected):
    client.force_login(world["users"][role])
    # Without a form key of their own (the page refused them) nobody creates anything.
    data = {"name": "ci", "access_level": "10", "scopes": ["read_api"], "expires_at": in_days(9)}
    if expected == 200:
        data = create_data(client, settings_url)
    response = client.post(settings_url, data)
    assert response.status_code == expected
    assert Bot.objects.exists() == (expected == 200)


def test_a_new_token_is_a_bot_member_shown_once(client, world):
    client.force_login(world["users"]["maintainer"])
    data = create_data(
        client, PROJECT_SETTINGS, description="For CI", scopes=["api", "self_rotate"]
    )
    response = client.post(PROJECT_SETTINGS, data)
    plaintext = new_value(response)
    assert plaintext is not None
    assert "no-store" in response["Cache-Control"]
    words = text_of(response)
    assert "Your new project access token" in words
    assert "Copy project access token" in words
    assert "Make sure you save it - you won't be able to access it again." in words
    token = PersonalAccessToken.objects.find_by_token(plaintext)
    assert (token.name, token.description, token.scopes) == ("ci", "For CI", ["api", "self_rotate"])
    bot = Bot.objects.get(user=token.user)
    assert bot.project == world["project"]
    assert token.user.username.startswith(f"project_{world['project'].pk}_bot_")
    assert Membership.objects.get(user=token.user).access_level == AccessLevel.DEVELOPER
    active = rows(response.content.decode(), "active-access-tokens")
    assert "Developer" in active["ci"] and "api, self_rotate" in active["ci"]
    # A reload re-posts the same form: nothing new is made, and the value is not shown.
    again = client.post(PROJECT_SETTINGS, data, follow=True)
    assert plaintext not in again.content.decode()
    assert "already submitted" in again.content.decode()
    assert tokens_of(world["project"]).count() == 1
    later = client.get(PROJECT_SETTINGS).content.decode()
    assert plaintext not in later and "Your new project access token" not in later


@pytest.mark.parametrize(
    "settings_url", [PROJECT_SETTINGS, GROUP_SETTINGS], ids=["project", "group"]
)
def test_the_value_is_in_the_creating_page_only(client, world, caplog, settings, settings_url):
    log_everything(caplog, settings)
    client.force_login(world["users"]["owner"])
    data = create_data(client, settings_url, name="deployer-bot")
    created = client.post(settings_url, data)
    assert_shown_by_the_creating_page_only(
        new_value(created),
        client=client,
        created=created,
        reloaded=client.post(settings_url, data),
        caplog=caplog,
        logged="deployer-bot",
    )


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"name": ""}, "name", "This field is required."),
        ({"name": "n" * 256}, "name", "at most 255 characters"),
        ({"description": "d" * 256}, "description", "Description is too long"),
        ({"scopes": []}, "scopes", "Select at least one scope."),
        ({"scopes": ["read_user"]}, "scopes", "read_user is not one of the available choices"),
        ({"scopes": ["sudo"]}, "scopes", "sudo is not one of the available choices"),
        ({"expires_at": ""}, "expires_at", "Enter an expiration date"),
        ({"expires_at": "31/02/2031"}, "expires_at", "Enter a valid date as YYYY-MM-DD"),
        ({"expires_at": str(utc_today())}, "expires_at", "Choose a date in the future."),
        ({"expires_at": in_days(366)}, "expires_at", "Access tokens last at most 365 days"),
        ({"access_level": "33"}, "access_level", "Choose one of the listed roles"),
        ({"access_level": ""}, "access_level", "This field is required."),
    ],
)
def test_bad_input_gets_a_form_error_on_its_field_and_makes_nothing(
    client, world, overrides, field, message
):
    client.force_login(world["users"]["owner"])
    response = client.post(PROJECT_SETTINGS, create_data(client, PROJECT_SETTINGS, **overrides))
    page = html.unescape(response.content.decode())
    assert response.status_code == 200
    errors = re.search(rf'<ul class="errorlist" id="id_{field}_error">(.*?)</ul>', page, re.DOTALL)
    assert errors is not None and message in errors.group(1)
    assert not Bot.objects.exists()
    assert new_value(response) is None
    assert re.search(r'<details class="add-token" id="add-access-token"\s*open>', page)


def test_a_maintainer_is_not_offered_owner_nor_given_it(client, world):
    client.force_login(world["users"]["maintainer"])
    page = client.get(PROJECT_SETTINGS)
    assert offered_roles(page) == ["Guest", "Reporter", "Developer", "Maintainer"]
    assert re.search(r'<option value="40" selected>Maintainer</option>', page.content.decode())
    response = client.post(
        PROJECT_SETTINGS, create_data(client, PROJECT_SETTINGS, access_level="50")
    )
    assert "Choose one of the listed roles" in html.unescape(response.content.decode())
    assert not Bot.objects.exists()


def test_an_owner_is_offered_every_role(client, world):
    client.force_login(world["users"]["owner"])
    page = client.get(GROUP_SETTINGS)
    assert offered_roles(page) == ["Guest", "Reporter", "Developer", "Maintainer", "Owner"]
    assert re.search(r'<option value="40" selected>Maintainer</option>', page.content.decode())
    created = client.post(GROUP_SETTINGS, create_data(client, GROUP_SETTINGS, access_level="50"))
    token = PersonalAccessToken.objects.find_by_token(new_value(created))
    assert Membership.objects.get(user=token.user, group=world["group"]).access_level == 50


def test_the_form_is_prefilled_and_bounded(client, world):
    client.force_login(world["users"]["maintainer"])
    page = client.get(PROJECT_SETTINGS).content.decode()
    date_input = re.search(r'<input type="date" name="expires_at"[^>]*>', page).group(0)
    assert f'value="{in_days(30)}"' in date_input
    assert f'min="{in_days(1)}"' in date_input and f'max="{in_days(365)}"' in date_input
    words = text_of(client.get(PROJECT_SETTINGS))
    for scope, description in [
        ("api", "Grants complete read and write access to the scoped project or group API"),
        ("read_repository", "Grants read access (pull) to the repository."),
        ("self_rotate", "Grants permission to rotate this token"),
    ]:
        assert f"{scope} {description}" in words
    assert "read_user" not in words and "sudo" not in words


def test_revoking_moves_the_token_to_the_inactive_table(client, world):
    token, _ = make_token(world["project"], world["users"]["maintainer"])
    client.force_login(world["users"]["maintainer"])
    url = f"{PROJECT_SETTINGS}/{token.pk}/revoke"
    assert client.get(url).status_code == 405
    response = client.post(url)
    assert response.status_code == 303 and response["Location"] == PROJECT_SETTINGS
    token.refresh_from_db()
    assert token.revoked
    page = client.get(PROJECT_SETTINGS)
    assert "Revoked project access token ci." in text_of(page)
    assert "ci" not in rows(page.content.decode(), "active-access-tokens")
    inactive = rows(page.content.decode(), "inactive-access-tokens")["ci"]
    assert "Developer" in inactive and "Revoked" in inactive
    assert "'ci' was already revoked." in text_of(client.post(url, follow=True))
    assert AuditEvent.objects.filter(action=AuditAction.PERSONAL_TOKEN_REVOKE).count() == 1


def test_rotating_shows_the_successor_once_and_revokes_the_old_one(client, world):
    old, old_value = make_token(
        world["project"],
        world["users"]["maintainer"],
        description="For CI",
        scopes=["read_api", "read_repository"],
    )
    client.force_login(world["users"]["maintainer"])
    url = f"{PROJECT_SETTINGS}/{old.pk}/rotate"
    assert client.get(url).status_code == 405
    data = {FIELD_NAME: once_key(client, PROJECT_SETTINGS)}
    response = client.post(url, data)
    plaintext = new_value(response)
    assert plaintext is not None and plaintext != old_value
    assert "no-store" in response["Cache-Control"]
    old.refresh_from_db()
    assert old.revoked
    new = PersonalAccessToken.objects.find_by_token(plaintext)
    assert (new.user, new.name, new.description, new.scopes) == (
        old.user,
        "ci",
        "For CI",
        ["read_api", "read_repository"],
    )
    assert new.expires_at == old.expires_at  # made today: the same lifetime from today
    page = response.content.decode()
    assert "Developer" in rows(page, "active-access-tokens")["ci"]
    assert "Rotated" in rows(page, "inactive-access-tokens")["ci"]
    # A reload re-posts the same form: no third token, no value.
    again = client.post(url, data, follow=True)
    assert "already submitted" in again.content.decode()
    assert plaintext not in again.content.decode()
    assert tokens_of(world["project"]).count() == 2
    assert plaintext not in client.get(PROJECT_SETTINGS).content.decode()


def test_rotating_an_inactive_token_says_so(client, world):
    token, _ = make_token(world["project"], world["users"]["owner"])
    token.revoke()
    client.force_login(world["users"]["owner"])
    data = {FIELD_NAME: once_key(client, PROJECT_SETTINGS)}
    response = client.post(f"{PROJECT_SETTINGS}/{token.pk}/rotate", data, follow=True)
    assert "Only an active token can be rotated" in text_of(response)
    assert tokens_of(world["project"]).count() == 1


def test_rotate_and_revoke_refuse_those_who_may_not_manage_tokens(client, world):
    token, _ = make_token(world["group"], world["users"]["owner"])
    client.force_login(world["users"]["maintainer"])
    for action in ("rotate", "revoke"):
        assert client.post(f"{GROUP_SETTINGS}/{token.pk}/{action}").status_code == 403
    token.refresh_from_db()
    assert not token.revoked


def test_another_sources_tokens_and_personal_tokens_are_not_found(client, world):
    group_token, _ = make_token(world["group"], world["users"]["owner"])
    personal = PersonalAccessToken.objects.create_token(
        user=world["users"]["owner"], name="mine", scopes=["api"]
    )[0]
    client.force_login(world["users"]["owner"])
    for token in (group_token, personal):
        for action in ("rotate", "revoke"):
            assert client.post(f"{PROJECT_SETTINGS}/{token.pk}/{action}").status_code == 404
        token.refresh_from_db()
        assert not token.revoked


def test_tables_list_this_sources_tokens_by_state(client, world):
    owner = world["users"]["owner"]
    make_token(world["project"], owner, name="live", description="Pulls <b>images</b>")
    gone, _ = make_token(world["project"], owner, name="gone", access_level=AccessLevel.GUEST)
    gone.revoke()
    expired, _ = make_token(world["project"], owner, name="old")
    PersonalAccessToken.objects.filter(pk=expired.pk).update(expires_at=utc_today())
    make_token(world["group"], owner, name="group-token")
    client.force_login(owner)
    response = client.get(PROJECT_SETTINGS)
    page = response.content.decode()
    words = text_of(response)
    assert "Active project access tokens (1)" in words
    assert "Inactive project access tokens (2)" in words
    assert "group-token" not in page
    live = rows(page, "active-access-tokens")["live"]
    assert '<div class="token-description">Pulls &lt;b&gt;images&lt;/b&gt;</div>' in live
    assert "Never" in live and "(in 30 days)" in live and "Rotate live?" in live
    assert "This action cannot be undone." in live
    inactive = rows(page, "inactive-access-tokens")
    assert "Guest" in inactive["gone"] and "Revoked" in inactive["gone"]
    assert utc_today().strftime("%b") in inactive["old"] and "Revoked" not in inactive["old"]


def test_empty_states(client, world):
    client.force_login(world["users"]["owner"])
    project = text_of(client.get(PROJECT_SETTINGS))
    assert "This project has no active access tokens." in project
    assert "This project has no access tokens revoked or expired in the last 30 days." in project
    assert "This group has no active access tokens." in text_of(client.get(GROUP_SETTINGS))


def test_sidebar_offers_the_page_only_to_those_who_may_use_it(client, world):
    client.force_login(world["users"]["developer"])
    assert PROJECT_SETTINGS not in client.get("/tanuki/backend/api").content.decode()
    client.force_login(world["users"]["maintainer"])
    assert PROJECT_SETTINGS in client.get("/tanuki/backend/api").content.decode()
    assert GROUP_SETTINGS not in client.get("/groups/tanuki/backend").content.decode()
    client.force_login(world["users"]["owner"])
    assert GROUP_SETTINGS in client.get("/groups/tanuki/backend").content.decode()
    current = client.get(GROUP_SETTINGS).content.decode()
    assert f'href="{GROUP_SETTINGS}" aria-current="page">Access tokens</a>' in current


def test_the_last_addresses_are_shown_under_last_used(client, world, settings):
    settings.LAST_USED_UPDATE_INTERVAL_SECONDS = 0  # every use is recorded
    _, value = make_token(world["project"], world["users"]["maintainer"])
    for last in (7, 8):
        client.get(
            f"/api/v4/projects/{world['project'].pk}",
            HTTP_PRIVATE_TOKEN=value,
            REMOTE_ADDR=f"198.51.100.{last}",
        )
    client.force_login(world["users"]["maintainer"])
    assert "from 198.51.100.8, 198.51.100.7" in text_of(client.get(PROJECT_SETTINGS))
