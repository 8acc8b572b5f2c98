"""Settings > Repository > Deploy tokens of projects and groups."""

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from deploy_tokens.models import DeployToken
from tests.factories import make_deploy_token, once_key
from tests.leaks import (
    assert_shown_by_the_creating_page_only,
    log_everything,
)
from tests.roles import ROLES, SIGN_IN, outcome, visit
from tokens_site.models import AuditAction, AuditEvent
from tokens_site.once import FIELD_NAME
from tokens_site.tokens import utc_today

pytestmark = pytest.mark.django_db

PROJECT_SETTINGS = "/tanuki/backend/api/-/settings/repository"
PROJECT_CREATE = "/tanuki/backend/api/-/settings/repository/deploy_token/create"
GROUP_SETTINGS = "/groups/tanuki/backend/-/settings/repository"
GROUP_CREATE = "/groups/tanuki/backend/-/settings/repository/deploy_token/create"

PROJECT_MATRIX = [SIGN_IN, 404, 403, 403, 403, 200, 200, 200]
GROUP_MATRIX = [SIGN_IN, 404, 403, 403, 403, 403, 200, 200]


def create_data(client, settings_url, **overrides) -> dict:
    data = {"name": "ci", "scopes": ["read_repository"], "expires_at": "", "username": ""}
    data[FIELD_NAME] = once_key(client, settings_url)
    return {**data, **overrides}


@pytest.mark.parametrize(("role", "expected"), list(zip(ROLES, PROJECT_MATRIX, strict=True)))
def test_project_settings_page_is_for_maintainers_and_owners(client, world, role, expected):
    assert outcome(visit(client, world, role, "get", PROJECT_SETTINGS)) == expected


@pytest.mark.parametrize(("role", "expected"), list(zip(ROLES, GROUP_MATRIX, strict=True)))
def test_group_settings_page_is_for_owners(client, world, role, expected):
    assert outcome(visit(client, world, role, "get", GROUP_SETTINGS)) == expected


@pytest.mark.parametrize(("role", "expected"), list(zip(ROLES, PROJECT_MATRIX, strict=True)))
def test_creating_project_tokens(client, world, role, expected):
    response = visit(
        client,
        world,
        role,
        "post",
        PROJECT_CREATE,
        {"name": "ci", "scopes": ["read_repository"]},
    )
    # Without a fresh form key nobody creates anything, but the refusals come first.
    if expected == 200:
        data = create_data(client, PROJECT_SETTINGS)
        response = client.post(PROJECT_CREATE, data)
    assert outcome(response) == expected
    assert DeployToken.objects.filter(project=world["project"]).exists() == (expected == 200)


@pytest.mark.parametrize(("role", "expected"), list(zip(ROLES, GROUP_MATRIX, strict=True)))
def test_creating_group_tokens(client, world, role, expected):
    response = visit(client, world, role, "post", GROUP_CREATE, {"name": "ci"})
    if expected == 200:
        response = client.post(GROUP_CREATE, create_data(client, GROUP_SETTINGS))
    assert outcome(response) == expected
    assert DeployToken.objects.filter(group=world["group"]).exists() == (expected == 200)


@pytest.mark.parametrize(
    ("role", "expected"),
    list(zip(ROLES, [SIGN_IN, 404, 403, 403, 403, 303, 303, 303], strict=True)),
)
def test_revoking_project_tokens(client, world, role, expected):
    token, _ = make_deploy_token(world["project"])
    url = f"/tanuki/backend/api/-/deploy_tokens/{token.pk}/revoke"
    assert outcome(visit(client, world, role, "post", url)) == expected
    token.refresh_from_db()
    assert token.revoked == (expected == 303)


@pytest.mark.parametrize(
    ("role", "expected"),
    list(zip(ROLES, [SIGN_IN, 404, 403, 403, 403, 403, 303, 303], strict=True)),
)
def test_revoking_group_tokens(client, world, role, expected):
    token, _ = make_deploy_token(world["group"])
    url = f"/groups/tanuki/backend/-/deploy_tokens/{token.pk}/revoke"
    assert outcome(visit(client, world, role, "post", url)) == expected
    token.refresh_from_db()
    assert token.revoked == (expected == 303)


def test_new_token_is_shown_exactly_once(client, world):
    client.force_login(world["users"]["maintainer"])
    data = create_data(client, PROJECT_SETTINGS, name="ci", username="deployer")
    response = client.post(PROJECT_CREATE, data)
    page = response.content.decode()
    token = DeployToken.objects.get(project=world["project"])
    plaintext = re.search(r'id="new-deploy-token-value" value="(gldt-[^"]+)"', page).group(1)
    assert "Your new deploy token" in page
    assert "Use this token as a password. Save it. This password can not be recovered." in page
    assert 'value="deployer"' in page
    assert "no-store" in response["Cache-Control"]
    # A reload re-posts the same form: nothing new is created and the token is not shown.
    again = client.post(PROJECT_CREATE, data, follow=True)
    assert plaintext not in again.content.decode()
    assert "already submitted" in again.content.decode()
    assert DeployToken.objects.filter(project=world["project"]).count() == 1
    # Later visits never show it.
    later = client.get(PROJECT_SETTINGS).content.decode()
    assert plaintext not in later and "Your new deploy token" not in later
    assert token.username in later


@pytest.mark.parametrize(
    ("settings_url", "create_url"),
    [(PROJECT_SETTINGS, PROJECT_CREATE), (GROUP_SETTINGS, GROUP_CREATE)],
    ids=["project", "group"],
)
def test_the_value_is_in_the_creating_page_only(
    client, world, caplog, settings, settings_url, create_url
):
    """After a create and its reload, the value is in no table (sessions and cache
    included), header, cookie or log line (SQL too) — only in the body of the one answer."""
    log_everything(caplog, settings)
    client.force_login(world["users"]["owner"])
    data = create_data(client, settings_url, name="ci", username="deployer")
    created = client.post(create_url, data)
    plaintext = re.search(
        r'id="new-deploy-token-value" value="(gldt-[^"]+)"', created.content.decode()
    ).group(1)
    assert_shown_by_the_creating_page_only(
        plaintext,
        client=client,
        created=created,
        reloaded=client.post(create_url, data),
        caplog=caplog,
        logged="deployer",
    )


@pytest.mark.parametrize(
    ("settings_url", "create_url", "revoke_url"),
    [
        (PROJECT_SETTINGS, PROJECT_CREATE, "/tanuki/backend/api/-/deploy_tokens/{}/revoke"),
        (GROUP_SETTINGS, GROUP_CREATE, "/groups/tanuki/backend/-/deploy_tokens/{}/revoke"),
    ],
    ids=["project", "group"],
)
def test_creating_and_revoking_on_the_page_are_audited_with_the_address(
    client, world, settings_url, create_url, revoke_url
):
    owner = world["users"]["owner"]
    client.force_login(owner)
    client.post(create_url, create_data(client, settings_url), REMOTE_ADDR="203.0.113.7")
    token = DeployToken.objects.get()
    client.post(revoke_url.format(token.pk), REMOTE_ADDR="2001:db8::8")
    events = AuditEvent.objects.filter(
        action__in=[AuditAction.DEPLOY_TOKEN_CREATE, AuditAction.DEPLOY_TOKEN_REVOKE]
    ).order_by("id")
    assert [
        (event.action, event.actor, event.target_type, event.target_id, event.ip_address)
        for event in events
    ] == [
        (AuditAction.DEPLOY_TOKEN_CREATE, owner, "deploytoken", str(token.pk), "203.0.113.7"),
        (AuditAction.DEPLOY_TOKEN_REVOKE, owner, "deploytoken", str(token.pk), "2001:db8::8"),
    ]


def test_a_forged_or_foreign_form_key_creates_nothing(client, world):
    client.force_login(world["users"]["owner"])
    others_key = once_key(client, PROJECT_SETTINGS)
    client.force_login(world["users"]["maintainer"])
    for key in ["", "forged", others_key]:
        response = client.post(
            PROJECT_CREATE, {"name": "ci", "scopes": ["read_repository"], FIELD_NAME: key}
        )
        assert response.status_code == 302
        page = client.get(response["Location"]).content.decode()
        assert "This form has expired; reload the page and try again." in page
    assert not DeployToken.objects.exists()


@pytest.mark.parametrize(
    ("settings_url", "create_url"),
    [(PROJECT_SETTINGS, PROJECT_CREATE), (GROUP_SETTINGS, GROUP_CREATE)],
    ids=["project", "group"],
)
def test_a_form_older_than_a_day_has_expired_not_been_submitted(
    client, world, settings_url, create_url
):
    issued = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)
    with time_machine.travel(issued, tick=False):
        client.force_login(world["users"]["owner"])  # a session of that day
        data = create_data(client, settings_url)
    with time_machine.travel(issued + timedelta(hours=24, minutes=1), tick=False):
        page = client.post(create_url, data, follow=True).content.decode()
    assert "This form has expired; reload the page and try again." in page
    assert "already submitted" not in page
    assert not DeployToken.objects.exists()
    # Within the day the same form works, once; then it is "already submitted".
    with time_machine.travel(issued + timedelta(hours=23, minutes=59), tick=False):
        assert "Your new deploy token" in client.post(create_url, data).content.decode()
        again = client.post(create_url, data, follow=True).content.decode()
    assert "That form was already submitted." in again and "has expired" not in again
    assert DeployToken.objects.count() == 1


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": ""}, "This field is required."),
        ({"scopes": []}, "Select at least one scope."),
        ({"expires_at": "2020-01-01"}, "Choose a date after today"),
        ({"expires_at": "31/02/2031"}, "Enter a valid date as YYYY-MM-DD"),
        ({"expires_at": "2031-02-31"}, "Enter a valid date as YYYY-MM-DD"),
        ({"username": "has space"}, "may contain only letters, digits"),
        ({"username": "u" * 256}, "at most 255 characters"),
        ({"description": "d" * 256}, "Description is too long: use at most 255 characters."),
        ({"scopes": ["api"]}, "Select a valid choice. api is not one of the available choices."),
    ],
)
def test_bad_input_gets_a_form_error_and_keeps_the_input(client, world, overrides, message):
    client.force_login(world["users"]["owner"])
    response = client.post(PROJECT_CREATE, create_data(client, PROJECT_SETTINGS, **overrides))
    page = response.content.decode()
    assert response.status_code == 200
    assert message in page.replace("&#x27;", "'")
    assert not DeployToken.objects.exists()
    assert '<details class="settings-section" id="deploy-tokens" open>' in page


SCOPE_DESCRIPTIONS = {
    "read_repository": "Allows read-only access to the repository.",
    "read_registry": "Allows read-only access to registry images.",
    "write_registry": "Allows write access to registry images. Pushing also needs read_registry.",
    "read_package_registry": "Allows read-only access to the package registry.",
    "write_package_registry": "Allows write access to the package registry.",
}


def text_of(response) -> str:
    """The page as a reader sees its words (entities decoded, whitespace collapsed)."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


@pytest.mark.parametrize(
    ("settings_url", "create_url", "kind"),
    [(PROJECT_SETTINGS, PROJECT_CREATE, "project"), (GROUP_SETTINGS, GROUP_CREATE, "group")],
    ids=["project", "group"],
)
def test_the_page_says_what_the_seeds_and_spec_say(client, world, settings_url, create_url, kind):
    client.force_login(world["users"]["owner"])
    empty = text_of(client.get(settings_url))
    for words in [
        "Deploy tokens",
        "Expand",
        "Add token",
        "New deploy token",
        "Name",
        "Description (optional)",
        "What the token is for, or where it is used. At most 255 characters.",
        "Expiration date (optional)",
        "Without a date, the token expires after the longest allowed time",
        "Username (optional)",
        "Enter a username for your token. Defaults to gitlab+deploy-token-{n}.",
        "Scopes (select at least one)",
        *(f"{scope} {description}" for scope, description in SCOPE_DESCRIPTIONS.items()),
        "Create deploy token",
        "Active deploy tokens (0)",
        f"This {kind} has no active deploy tokens.",
    ]:
        assert words in empty, words
    created = text_of(client.post(create_url, create_data(client, settings_url, name="ci")))
    for words in [
        "Your new deploy token",
        "Save the deploy token somewhere safe. Once you leave or refresh the page, you won't be "
        "able to access it again.",
        "Username",
        "Copy username",
        "Use this username as a login.",
        "Token",
        "Copy deploy token",
        "Use this token as a password. Save it. This password can not be recovered.",
        "Active deploy tokens (1)",
        "Revoke ci?",
        "You are about to revoke the deploy token ci",
        "This action cannot be undone.",
    ]:
        assert words in created, words
    assert f"This {kind} has no active deploy tokens." not in created


def test_add_token_reveals_the_form_and_opens_by_itself_after_errors_or_a_creation(client, world):
    client.force_login(world["users"]["owner"])
    add_token = re.compile(r'<details class="add-token" id="add-deploy-token"\s*(open)?>')
    assert add_token.search(client.get(PROJECT_SETTINGS).content.decode()).group(1) is None
    failed = client.post(PROJECT_CREATE, create_data(client, PROJECT_SETTINGS, name=""))
    assert add_token.search(failed.content.decode()).group(1) == "open"
    created = client.post(PROJECT_CREATE, create_data(client, PROJECT_SETTINGS))
    assert add_token.search(created.content.decode()).group(1) == "open"
    # The form is inside the disclosure, so the seeds' "Select Add token" step comes first.
    page = created.content.decode()
    details = page[
        page.index('id="add-deploy-token"') : page.index(
            "</details>", page.index('id="add-deploy-token"')
        )
    ]
    assert "<summary" in details and "Add token" in details and 'name="name"' in details


def test_revoking_another_projects_token_by_editing_the_id_is_not_found(client, world):
    from tests.factories import ProjectFactory

    foreign, _ = make_deploy_token(ProjectFactory())
    client.force_login(world["users"]["owner"])
    response = client.post(f"/tanuki/backend/api/-/deploy_tokens/{foreign.pk}/revoke")
    assert response.status_code == 404
    foreign.refresh_from_db()
    assert not foreign.revoked


def test_a_group_token_cannot_be_revoked_through_a_project_url(client, world):
    token, _ = make_deploy_token(world["group"])
    client.force_login(world["users"]["owner"])
    assert client.post(f"/tanuki/backend/api/-/deploy_tokens/{token.pk}/revoke").status_code == 404


def test_revoking_twice_shows_a_message(client, world):
    token, _ = make_deploy_token(world["project"], name="ci")
    client.force_login(world["users"]["maintainer"])
    url = f"/tanuki/backend/api/-/deploy_tokens/{token.pk}/revoke"
    first = client.post(url, follow=True).content.decode()
    assert "Revoked deploy token ci." in first
    second = client.post(url, follow=True).content.decode()
    assert "The deploy token &#x27;ci&#x27; was already revoked." in second


def test_create_and_revoke_urls_are_post_only(client, world):
    token, _ = make_deploy_token(world["project"])
    client.force_login(world["users"]["owner"])
    assert client.get(PROJECT_CREATE).status_code == 405
    assert client.get(f"/tanuki/backend/api/-/deploy_tokens/{token.pk}/revoke").status_code == 405
    assert client.post(PROJECT_SETTINGS, {"name": "x"}).status_code == 405
    token.refresh_from_db()
    assert not token.revoked


def test_active_tokens_table_and_expiry_column(client, world):
    today = utc_today()
    make_deploy_token(world["project"], name="forever", scopes=["read_repository", "read_registry"])
    make_deploy_token(world["project"], name="soon", expires_at=today + timedelta(days=3))
    make_deploy_token(world["project"], name="later", expires_at=today + timedelta(days=30))
    revoked, _ = make_deploy_token(world["project"], name="gone")
    DeployToken.objects.filter(pk=revoked.pk).update(revoked=True)
    client.force_login(world["users"]["maintainer"])
    page = client.get(PROJECT_SETTINGS).content.decode()
    assert "Active deploy tokens (3)" in page and "gone" not in page
    rows = {
        name: row
        for name, row in re.findall(r'<tr data-token="([^"]+)">(.*?)</tr>', page, re.DOTALL)
    }
    assert "Never" in rows["forever"] and "read_repository, read_registry" in rows["forever"]
    assert "(in 3 days)" in rows["soon"] and "badge warn" in rows["soon"]
    assert "(in 30 days)" in rows["later"] and "badge warn" not in rows["later"]
    assert "This action cannot be undone." in rows["soon"]


def test_a_description_made_on_the_page_shows_escaped_under_the_name(client, world):
    client.force_login(world["users"]["maintainer"])
    description = "Pulls <img src=x onerror=alert(1)> for the cluster"
    data = create_data(client, PROJECT_SETTINGS, name="k8s", description=description)
    client.post(PROJECT_CREATE, data)
    assert DeployToken.objects.get(project=world["project"]).description == description
    page = client.get(PROJECT_SETTINGS).content.decode()
    rows = dict(re.findall(r'<tr data-token="([^"]+)">(.*?)</tr>', page, re.DOTALL))
    assert (
        '<div class="token-description">Pulls &lt;img src=x onerror=alert(1)&gt; for the '
        "cluster</div>"
    ) in rows["k8s"]
    assert "<img src=x" not in page


def test_empty_states(client, world):
    client.force_login(world["users"]["owner"])
    assert (
        "This project has no active deploy tokens." in client.get(PROJECT_SETTINGS).content.decode()
    )
    assert "This group has no active deploy tokens." in client.get(GROUP_SETTINGS).content.decode()


def test_group_settings_list_only_the_groups_own_tokens(client, world):
    make_deploy_token(world["group"], name="group-token")
    make_deploy_token(world["project"], name="project-token")
    client.force_login(world["users"]["owner"])
    page = client.get(GROUP_SETTINGS).content.decode()
    assert "group-token" in page and "project-token" not in page


def test_sidebar_offers_settings_only_to_those_who_may_use_them(client, world):
    client.force_login(world["users"]["developer"])
    assert "Repository</a>" not in client.get("/tanuki/backend/api").content.decode()
    client.force_login(world["users"]["maintainer"])
    assert PROJECT_SETTINGS in client.get("/tanuki/backend/api").content.decode()
    assert GROUP_SETTINGS not in client.get("/groups/tanuki/backend").content.decode()
    client.force_login(world["users"]["owner"])
    assert GROUP_SETTINGS in client.get("/groups/tanuki/backend").content.decode()
