"""Deploy tokens in the Django admin."""

import logging
import re

import pytest

from deploy_tokens.models import DeployToken
from tests.factories import AdminFactory, GroupFactory, ProjectFactory, make_deploy_token, once_key
from tests.leaks import readable, sent_besides_the_body, tables_holding
from tokens_site.models import AuditAction, AuditEvent, Project
from tokens_site.once import FIELD_NAME

pytestmark = pytest.mark.django_db
LIST = "/admin/deploy_tokens/deploytoken/"


def add_form_data(client, **data) -> dict:
    """The admin's add form as a browser sends it: with the single-use key the page holds."""
    key = once_key(client, f"{LIST}add/")
    return {**data, FIELD_NAME: key}


@pytest.fixture
def admin_client(client):
    client.force_login(AdminFactory(username="boss"))
    return client


@pytest.fixture
def tokens():
    project = ProjectFactory(group=GroupFactory(path="tanuki"), path="app")
    group = GroupFactory(path="other")
    return {
        "project": make_deploy_token(
            project, name="builder", scopes=["read_repository"], description="Nightly build"
        ),
        "group": make_deploy_token(
            group, name="registry", username="pusher", scopes=["write_registry"]
        ),
    }


def test_list_shows_every_token_without_secret_or_digest(admin_client, tokens):
    page = admin_client.get(LIST).content.decode()
    for token, plaintext in tokens.values():
        assert token.name in page and token.username in page
        assert plaintext not in page and token.token_digest not in page
    detail = admin_client.get(f"{LIST}{tokens['project'][0].pk}/change/").content.decode()
    assert tokens["project"][0].token_digest not in detail and "token_digest" not in detail


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=builder", {"builder"}),
        ("q=pusher", {"registry"}),
        ("q=tanuki", {"builder"}),
        ("q=other", {"registry"}),
        ("q=nightly", {"builder"}),  # its description
        ("kind=group", {"registry"}),
        ("kind=project", {"builder"}),
        ("scope=write_registry", {"registry"}),
        ("scope=read_repository", {"builder"}),
        ("state=active", {"builder", "registry"}),
        ("state=revoked", set()),
    ],
)
def test_search_and_filters(admin_client, tokens, query, expected):
    response = admin_client.get(f"{LIST}?{query}")
    assert {token.name for token in response.context["cl"].result_list} == expected


def test_revoke_selected_tokens_action(admin_client, tokens):
    ids = [str(token.pk) for token, _ in tokens.values()]
    response = admin_client.post(
        LIST, {"action": "revoke_selected", "_selected_action": ids}, follow=True
    )
    assert "Revoked 2 deploy tokens." in response.content.decode()
    assert DeployToken.objects.filter(revoked=True).count() == 2
    assert AuditEvent.objects.filter(action=AuditAction.DEPLOY_TOKEN_REVOKE).count() == 2
    again = admin_client.post(
        LIST, {"action": "revoke_selected", "_selected_action": ids}, follow=True
    )
    assert "was already revoked" in again.content.decode()
    assert {
        t.name for t in admin_client.get(f"{LIST}?state=revoked").context["cl"].result_list
    } == {
        "builder",
        "registry",
    }


def test_adding_a_token_in_the_admin_shows_it_once(admin_client):
    project = ProjectFactory(path="app")
    data = add_form_data(
        admin_client, project=project.pk, name="from-admin", scopes=["read_repository"]
    )
    response = admin_client.post(f"{LIST}add/", data, REMOTE_ADDR="192.0.2.44")
    page = response.content.decode()
    token = DeployToken.objects.get(name="from-admin")
    assert response.status_code == 200 and "Your new deploy token" in page
    assert "no-store" in response["Cache-Control"]
    plaintext = page.split('id="new-token-value" value="')[1].split('"')[0]
    assert plaintext.startswith("gldt-") and token.username in page
    assert plaintext not in admin_client.get(f"{LIST}{token.pk}/change/").content.decode()
    assert token.creator.username == "boss"
    event = AuditEvent.objects.get(action=AuditAction.DEPLOY_TOKEN_CREATE)
    assert (event.actor, event.target_id, event.ip_address) == (
        token.creator,
        str(token.pk),
        "192.0.2.44",
    )


def test_admin_adds_and_shows_a_description(admin_client):
    project = ProjectFactory(path="app")
    page = admin_client.get(f"{LIST}add/").content.decode()
    assert page.index('name="name"') < page.index('name="description"')
    too_long = add_form_data(
        admin_client,
        project=project.pk,
        name="t",
        scopes=["read_repository"],
        description="d" * 256,
    )
    refused = admin_client.post(f"{LIST}add/", too_long).content.decode()
    assert "Description is too long: use at most 255 characters." in refused
    assert not DeployToken.objects.exists()
    data = add_form_data(
        admin_client,
        project=project.pk,
        name="t",
        scopes=["read_repository"],
        description="For <b>CI</b>",
    )
    admin_client.post(f"{LIST}add/", data)
    token = DeployToken.objects.get()
    assert token.description == "For <b>CI</b>"
    detail = admin_client.get(f"{LIST}{token.pk}/change/").content.decode()
    assert "For &lt;b&gt;CI&lt;/b&gt;" in detail and "<b>CI</b>" not in detail


def test_resending_the_admin_add_form_creates_nothing(admin_client):
    """A reload of the answer that shows the value re-posts the form: no second token, and the
    list with a message instead of a value."""
    project = ProjectFactory(path="app")
    data = add_form_data(
        admin_client, project=project.pk, name="from-admin", scopes=["read_repository"]
    )
    first = admin_client.post(f"{LIST}add/", data)
    plaintext = first.content.decode().split('id="new-token-value" value="')[1].split('"')[0]
    again = admin_client.post(f"{LIST}add/", data)
    assert again.status_code == 302 and again["Location"] == LIST
    page = admin_client.get(again["Location"]).content.decode()
    assert "That form was already submitted." in page.replace("&#x27;", "'")
    assert plaintext not in page
    assert DeployToken.objects.count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.DEPLOY_TOKEN_CREATE).count() == 1


def test_an_admin_add_form_without_a_valid_key_creates_nothing(admin_client):
    project = ProjectFactory(path="app")
    for key in ["", "forged"]:
        response = admin_client.post(
            f"{LIST}add/",
            {"project": project.pk, "name": "x", "scopes": ["read_repository"], FIELD_NAME: key},
            follow=True,
        )
        assert "This form has expired; reload the page and try again." in (
            response.content.decode()
        )
    assert not DeployToken.objects.exists()


def test_a_form_with_errors_is_shown_again_with_a_key_that_still_works(admin_client):
    project = ProjectFactory(path="app")
    data = add_form_data(admin_client, project=project.pk, name="", scopes=["read_repository"])
    page = admin_client.post(f"{LIST}add/", data).content.decode()
    assert "This field is required." in page and not DeployToken.objects.exists()
    key = re.search(rf'name="{FIELD_NAME}" value="([^"]+)"', page).group(1)
    response = admin_client.post(f"{LIST}add/", {**data, "name": "fixed", FIELD_NAME: key})
    assert "Your new deploy token" in response.content.decode()
    assert DeployToken.objects.get().name == "fixed"


def test_revoking_in_the_admin_is_audited_with_the_address(admin_client, tokens):
    token, _ = tokens["project"]
    admin_client.post(
        LIST,
        {"action": "revoke_selected", "_selected_action": [str(token.pk)]},
        REMOTE_ADDR="192.0.2.45",
    )
    event = AuditEvent.objects.get(action=AuditAction.DEPLOY_TOKEN_REVOKE)
    assert (event.actor.username, event.target_id, event.ip_address) == (
        "boss",
        str(token.pk),
        "192.0.2.45",
    )


def test_admin_add_form_errors(admin_client):
    project, group = ProjectFactory(), GroupFactory()
    data = add_form_data(
        admin_client, project=project.pk, group=group.pk, name="", expires_at="2001-01-01"
    )
    response = admin_client.post(f"{LIST}add/", data)
    page = response.content.decode()
    assert "A deploy token belongs to either a project or a group." in page
    assert "Select at least one scope." in page and "Choose a date after today" in page
    assert not DeployToken.objects.exists()


def test_delete_selected_is_not_offered(admin_client, tokens):
    page = admin_client.get(LIST).content.decode()
    assert "delete_selected" not in page and "revoke_selected" in page


def test_a_token_cannot_be_deleted_in_the_admin(admin_client, tokens):
    """Revoked rows stay, for the audit trail: the delete page refuses, GET and POST alike."""
    for token, _ in tokens.values():
        url = f"{LIST}{token.pk}/delete/"
        assert admin_client.get(url).status_code == 403
        assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert DeployToken.objects.count() == 2


def test_deleting_a_project_in_the_admin_still_takes_its_tokens(admin_client, tokens):
    """Tokens go with what they belong to: deleting the project is not blocked by them."""
    token, _ = tokens["project"]
    url = f"/admin/tokens_site/project/{token.project_id}/delete/"
    confirm = admin_client.get(url).content.decode()
    assert "permission to delete" not in confirm
    admin_client.post(url, {"post": "yes"})
    assert not Project.objects.filter(pk=token.project_id).exists()
    assert not DeployToken.objects.filter(pk=token.pk).exists()


def test_the_new_value_is_in_no_log_line_cookie_or_table(admin_client, caplog, settings):
    settings.DEBUG = True  # the SQL is logged as well
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django")
    data = add_form_data(
        admin_client,
        project=ProjectFactory(path="app").pk,
        name="from-admin",
        scopes=["read_repository"],
    )
    created = admin_client.post(f"{LIST}add/", data)
    plaintext = created.content.decode().split('id="new-token-value" value="')[1].split('"')[0]
    admin_client.get(admin_client.post(f"{LIST}add/", data)["Location"])
    assert "from-admin" in caplog.text  # the log did capture the requests' SQL
    assert plaintext not in caplog.text
    assert plaintext not in sent_besides_the_body(created)
    assert all(plaintext not in readable(morsel.value) for morsel in admin_client.cookies.values())
    assert tables_holding(plaintext) == []
