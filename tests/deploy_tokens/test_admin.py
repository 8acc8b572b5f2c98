"""Deploy tokens in the Django admin."""

import pytest

from deploy_tokens.models import DeployToken
from tests.factories import AdminFactory, GroupFactory, ProjectFactory, make_deploy_token
from tokens_site.models import AuditAction, AuditEvent

pytestmark = pytest.mark.django_db
LIST = "/admin/deploy_tokens/deploytoken/"


@pytest.fixture
def admin_client(client):
    client.force_login(AdminFactory(username="boss"))
    return client


@pytest.fixture
def tokens():
    project = ProjectFactory(group=GroupFactory(path="tanuki"), path="app")
    group = GroupFactory(path="other")
    return {
        "project": make_deploy_token(project, name="builder", scopes=["read_repository"]),
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
    response = admin_client.post(
        f"{LIST}add/",
        {"project": project.pk, "name": "from-admin", "scopes": ["read_repository"]},
    )
    page = response.content.decode()
    token = DeployToken.objects.get(name="from-admin")
    assert response.status_code == 200 and "Your new deploy token" in page
    assert "no-store" in response["Cache-Control"]
    plaintext = page.split('id="new-token-value" value="')[1].split('"')[0]
    assert plaintext.startswith("gldt-") and token.username in page
    assert plaintext not in admin_client.get(f"{LIST}{token.pk}/change/").content.decode()
    assert token.creator.username == "boss"


def test_admin_add_form_errors(admin_client):
    project, group = ProjectFactory(), GroupFactory()
    response = admin_client.post(
        f"{LIST}add/",
        {"project": project.pk, "group": group.pk, "name": "", "expires_at": "2001-01-01"},
    )
    page = response.content.decode()
    assert "A deploy token belongs to either a project or a group." in page
    assert "Select at least one scope." in page and "Choose a date after today" in page
    assert not DeployToken.objects.exists()


def test_delete_selected_is_not_offered(admin_client, tokens):
    page = admin_client.get(LIST).content.decode()
    assert "delete_selected" not in page and "revoke_selected" in page
