"""Project and group access tokens through the API: made by managers, acting as a bot member
with the token's role, on their own project or group only."""

from datetime import timedelta

import pytest
from django.contrib.auth import authenticate

from personal_tokens.models import PersonalAccessToken
from tests.factories import (
    GroupFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    make_access_token,
    make_personal_token,
)
from tokens_site.models import AccessLevel, Bot, Membership
from tokens_site.tokens import utc_today

pytestmark = pytest.mark.django_db


@pytest.fixture
def world():
    owner = UserFactory(username="olga")
    maintainer = UserFactory(username="max")
    developer = UserFactory(username="dev")
    group = GroupFactory(path="tanuki", owner=owner)
    sub = GroupFactory(path="backend", parent=group)
    project = ProjectFactory(path="api", group=sub)
    other = ProjectFactory(path="other", group=GroupFactory(path="elsewhere"))
    MembershipFactory(user=maintainer, group=group, access_level=AccessLevel.MAINTAINER)
    MembershipFactory(user=developer, group=group, access_level=AccessLevel.DEVELOPER)
    return {
        "owner": owner,
        "maintainer": maintainer,
        "developer": developer,
        "group": group,
        "project": project,
        "other": other,
    }


def in_days(days: int) -> str:
    return str(utc_today() + timedelta(days=days))


def api(client, method, path, token, **data):
    call = getattr(client, method)
    if data:
        return call(path, data, content_type="application/json", HTTP_PRIVATE_TOKEN=token)
    return call(path, HTTP_PRIVATE_TOKEN=token)


def test_a_maintainer_makes_a_project_token_that_acts_with_its_role(client, world):
    _, value = make_personal_token(world["maintainer"], scopes=["api"])
    url = f"/api/v4/projects/{world['project'].pk}/access_tokens"
    created = api(
        client,
        "post",
        url,
        value,
        name="ci",
        scopes=["api", "self_rotate"],
        access_level=30,
        expires_at=in_days(30),
        description="For CI",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["token"].startswith("glpat-") and body["access_level"] == 30
    assert body["description"] == "For CI" and body["active"] is True
    bot = Bot.objects.get(user_id=body["user_id"])
    assert bot.project == world["project"]
    assert bot.user.username.startswith(f"project_{world['project'].pk}_bot_")
    assert not bot.user.has_usable_password()
    assert Membership.objects.get(user=bot.user).access_level == 30
    listed = api(client, "get", url, value).json()
    assert [(t["id"], t["access_level"]) for t in listed] == [(body["id"], 30)]

    token = body["token"]
    # Its own project, with its role: reads and Developer writes; nothing else.
    assert api(client, "get", f"/api/v4/projects/{world['project'].pk}", token).status_code == 200
    assert api(client, "get", f"/api/v4/projects/{world['other'].pk}", token).status_code == 404
    assert api(client, "get", "/api/v4/groups/elsewhere", token).status_code == 404
    refused = api(client, "post", url, token, name="x", scopes=["api"], expires_at=in_days(9))
    assert refused.status_code == 403
    refused = api(
        client,
        "post",
        "/api/v4/user/personal_access_tokens",
        token,
        name="x",
        scopes=["self_rotate"],
        expires_at=in_days(9),
    )
    assert refused.status_code == 403
    assert PersonalAccessToken.objects.filter(user=bot.user).count() == 1

    # Itself: seen, rotated, revoked, by `self`.
    itself = api(client, "get", f"{url}/self", token).json()
    assert itself["id"] == body["id"] and itself["access_level"] == 30
    rotated = api(client, "post", f"{url}/self/rotate", token)
    assert rotated.status_code == 200, rotated.content
    new = rotated.json()
    assert new["token"] != token and new["access_level"] == 30 and new["name"] == "ci"
    assert new["expires_at"] == body["expires_at"]  # the same lifetime, from today
    assert api(client, "get", f"{url}/self", token).status_code == 401  # the old value
    assert api(client, "delete", f"{url}/self", new["token"]).status_code == 204
    assert api(client, "get", f"{url}/self", new["token"]).status_code == 401
    inactive = api(client, "get", f"{url}?state=inactive", value).json()
    assert sorted(t["id"] for t in inactive) == sorted([body["id"], new["id"]])
    assert Bot.objects.filter(pk=bot.pk).exists()  # the bot stays


@pytest.mark.parametrize(
    ("who", "level", "status", "field"),
    [
        ("maintainer", 50, 400, "access_level"),  # Owner only from an Owner
        ("developer", 30, 403, None),  # a Developer manages no tokens
        ("owner", 50, 201, None),
        ("owner", 33, 400, "access_level"),
    ],
)
def test_roles(client, world, who, level, status, field):
    _, value = make_personal_token(world[who], scopes=["api"])
    response = api(
        client,
        "post",
        f"/api/v4/projects/{world['project'].pk}/access_tokens",
        value,
        name="ci",
        scopes=["read_api"],
        access_level=level,
        expires_at=in_days(30),
    )
    assert response.status_code == status, response.content
    if field:
        assert field in str(response.json())


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"scopes": []}, "scopes"),
        ({"scopes": ["read_user"]}, "scopes"),
        ({"scopes": ["sudo"]}, "scopes"),
        ({"expires_at": None}, "expires_at"),
        ({"expires_at": str(utc_today())}, "expires_at"),
        ({"expires_at": in_days(366)}, "expires_at"),
        ({"name": "x" * 256}, "name"),
    ],
)
def test_bad_input_is_400_naming_the_field_and_makes_nothing(client, world, data, field):
    _, value = make_personal_token(world["owner"], scopes=["api"])
    body = {"name": "ci", "scopes": ["read_api"], "expires_at": in_days(30), **data}
    if body["expires_at"] is None:
        del body["expires_at"]
    response = api(client, "post", "/api/v4/groups/tanuki/access_tokens", value, **body)
    assert response.status_code == 400, response.content
    assert field in str(response.json())
    assert not Bot.objects.exists()


def test_a_group_token_reaches_below_and_only_owners_manage_it(client, world):
    _, maintainer = make_personal_token(world["maintainer"], scopes=["api"])
    refused = api(client, "get", "/api/v4/groups/tanuki/access_tokens", maintainer)
    assert refused.status_code == 403
    token, value = make_access_token(
        world["group"],
        world["owner"],
        name="group",
        scopes=["read_api"],
        access_level=AccessLevel.REPORTER,
        expires_at=utc_today() + timedelta(days=5),
    )
    assert token.user.username.startswith(f"group_{world['group'].pk}_bot_")
    assert api(client, "get", f"/api/v4/projects/{world['project'].pk}", value).status_code == 200
    assert api(client, "get", f"/api/v4/projects/{world['other'].pk}", value).status_code == 404
    # Someone else's token is not its to see.
    _, owner_value = make_personal_token(world["owner"], scopes=["read_api"])
    mine = make_personal_token(world["owner"], scopes=["read_api"])[0]
    path = f"/api/v4/groups/tanuki/access_tokens/{mine.pk}"
    assert api(client, "get", path, value).status_code == 403
    assert api(client, "get", path, owner_value).status_code == 404  # not an access token


def test_a_bot_never_signs_in_and_is_no_last_owner(world, rf):
    token, _ = make_access_token(
        world["group"],
        world["owner"],
        name="owner-bot",
        scopes=["api"],
        access_level=AccessLevel.OWNER,
        expires_at=utc_today() + timedelta(days=5),
    )
    bot = token.user
    bot.set_password("a-long-enough-password-42")
    bot.save()
    assert (
        authenticate(rf.post("/"), username=bot.username, password="a-long-enough-password-42")
        is None
    )
    from django.core.exceptions import ValidationError

    from tokens_site import services

    olga = Membership.objects.get(user=world["owner"], group=world["group"])
    with pytest.raises(ValidationError, match="last Owner"):
        services.member_remove(actor=world["owner"], membership=olga)


@pytest.mark.parametrize(
    "path", ["/api/v4/projects/{project}", "/{full_path}.git/info/refs?service=git-upload-pack"]
)
def test_an_access_token_costs_what_a_personal_token_costs(client, world, path, settings):
    """The same queries, one for one: an access token is a personal token of its bot."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.site.test_api import LOCAL_CACHE

    settings.CACHES = LOCAL_CACHE
    project = world["project"]
    _, bot_value = make_access_token(
        project,
        world["owner"],
        name="ci",
        scopes=["api"],
        access_level=AccessLevel.DEVELOPER,
        expires_at=utc_today() + timedelta(days=5),
    )
    _, person_value = make_personal_token(world["developer"], scopes=["api"])
    url = path.format(project=project.pk, full_path=project.full_path)
    counts = []
    for value in (bot_value, person_value):
        client.get(url, HTTP_PRIVATE_TOKEN=value, HTTP_AUTHORIZATION=basic(value))  # warm
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url, HTTP_PRIVATE_TOKEN=value, HTTP_AUTHORIZATION=basic(value))
        assert response.status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]


def basic(value: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"ci:{value}".encode()).decode()


def test_the_last_five_distinct_addresses_are_recorded(client, world, settings):
    settings.LAST_USED_UPDATE_INTERVAL_SECONDS = 0  # every use is recorded
    token, value = make_access_token(
        world["project"],
        world["owner"],
        name="ci",
        scopes=["read_api"],
        expires_at=utc_today() + timedelta(days=5),
    )
    url = f"/api/v4/projects/{world['project'].pk}"
    for last in [1, 2, 1, 3, 4, 5, 6, 6]:
        response = client.get(url, HTTP_PRIVATE_TOKEN=value, REMOTE_ADDR=f"192.0.2.{last}")
        assert response.status_code == 200
    token.refresh_from_db()
    assert token.last_used_ips == [f"192.0.2.{n}" for n in (6, 5, 4, 3, 1)]  # newest first
    _, owner = make_personal_token(world["owner"], scopes=["read_api"])
    shown = api(client, "get", f"{url}/access_tokens/{token.pk}", owner).json()
    assert shown["last_used_ips"] == token.last_used_ips


def test_a_deleted_projects_token_stops_and_its_bot_stays_blocked(client, world):
    from tests.factories import AdminFactory
    from tokens_site import services

    _, value = make_access_token(
        world["project"],
        world["owner"],
        name="ci",
        scopes=["api"],
        expires_at=utc_today() + timedelta(days=5),
    )
    assert api(client, "get", "/api/v4/user", value).status_code == 200
    services.project_delete(actor=world["owner"], project=world["project"])
    assert api(client, "get", "/api/v4/user", value).status_code == 401
    refused = client.post(
        "/api/v4/groups", {"name": "Mine", "path": "mine"}, HTTP_PRIVATE_TOKEN=value
    )
    assert refused.status_code == 401
    bot = Bot.objects.get()  # still a bot, of nothing, blocked
    assert (bot.project, bot.group, bot.user.is_active) == (None, None, False)
    # Its token is revoked, so unblocking the bot brings nothing back.
    assert PersonalAccessToken.objects.get(user=bot.user).revoked
    services.user_unblock(actor=AdminFactory(), user=bot.user)
    assert api(client, "get", "/api/v4/user", value).status_code == 401


def test_deleting_a_group_stops_the_tokens_of_everything_below(client, world):
    from tokens_site import services

    tokens = [
        make_access_token(
            source,
            world["owner"],
            name="ci",
            scopes=["read_api"],
            expires_at=utc_today() + timedelta(days=5),
        )[0]
        for source in (world["group"], world["project"])
    ]
    services.group_delete(actor=world["owner"], group=world["group"])
    for token in tokens:
        token.refresh_from_db()
        assert token.revoked and not token.user.is_active


def test_no_one_takes_over_a_token_above_their_role(client, world):
    token, _ = make_access_token(
        world["project"],
        world["owner"],
        name="owner-bot",
        scopes=["api"],
        access_level=AccessLevel.OWNER,
        expires_at=utc_today() + timedelta(days=5),
    )
    url = f"/api/v4/projects/{world['project'].pk}/access_tokens/{token.pk}"
    _, maintainer = make_personal_token(world["maintainer"], scopes=["api"])
    rotated = api(client, "post", f"{url}/rotate", maintainer)
    assert rotated.status_code == 403 and "Owner role" in rotated.json()["message"]
    assert api(client, "delete", url, maintainer).status_code == 403
    assert not PersonalAccessToken.objects.get(pk=token.pk).revoked
    _, owner = make_personal_token(world["owner"], scopes=["api"])
    assert api(client, "post", f"{url}/rotate", owner).status_code == 200


def test_a_bot_makes_no_group_and_joins_nothing_and_gets_no_other_token(client, world):
    from tests.factories import AdminFactory

    token, value = make_access_token(
        world["project"],
        world["owner"],
        name="ci",
        scopes=["api"],
        expires_at=utc_today() + timedelta(days=5),
    )
    created = client.post(
        "/api/v4/groups", {"name": "Mine", "path": "mine"}, HTTP_PRIVATE_TOKEN=value
    )
    assert created.status_code == 403 and "top-level groups" in created.json()["message"]
    _, admin = make_personal_token(AdminFactory(), scopes=["api"])
    joined = api(
        client,
        "post",
        f"/api/v4/projects/{world['other'].pk}/members",
        admin,
        user_id=token.user_id,
        access_level=30,
    )
    assert joined.status_code == 404
    more = api(
        client,
        "post",
        f"/api/v4/users/{token.user_id}/personal_access_tokens",
        admin,
        name="extra",
        scopes=["read_user"],
        expires_at=in_days(5),
    )
    assert more.status_code == 400 and "Access tokens page" in str(more.json())
    assert PersonalAccessToken.objects.filter(user_id=token.user_id).count() == 1


def test_a_new_address_within_the_interval_writes_nothing(client, world, django_assert_num_queries):
    """Last used, with its addresses, is written at most once per interval, from however
    many addresses the token is used (CI runners): the request path stays read-only."""
    token, _ = make_access_token(
        world["project"],
        world["owner"],
        name="ci",
        scopes=["read_api"],
        expires_at=utc_today() + timedelta(days=5),
    )
    assert token.touch(address="192.0.2.1") is True
    with django_assert_num_queries(0):
        assert token.touch(address="192.0.2.2") is False
    token.refresh_from_db()
    assert token.last_used_ips == ["192.0.2.1"]


def test_making_a_token_is_one_audit_event_naming_its_source_and_role(world):
    from tokens_site.models import AuditAction, AuditEvent

    make_access_token(
        world["project"],
        world["owner"],
        name="ci",
        scopes=["read_api"],
        access_level=AccessLevel.DEVELOPER,
        expires_at=utc_today() + timedelta(days=5),
    )
    [event] = AuditEvent.objects.filter(action__endswith=".create", target_type__icontains="token")
    assert event.action == AuditAction.ACCESS_TOKEN_CREATE
    assert event.details["source"] == "tanuki/backend/api" and event.details["access_level"] == 30
    assert event.details["scopes"] == ["read_api"]
