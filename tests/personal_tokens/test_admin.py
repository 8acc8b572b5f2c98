"""Personal access tokens in the Django admin: the inventory."""

from datetime import timedelta

import pytest

from personal_tokens.models import PersonalAccessToken
from tests.factories import AdminFactory, UserFactory, make_personal_token
from tokens_site.models import AuditAction, AuditEvent, InstanceSettings
from tokens_site.tokens import utc_today

pytestmark = pytest.mark.django_db
LIST = "/admin/personal_tokens/personalaccesstoken/"


@pytest.fixture
def admin_client(client):
    client.force_login(AdminFactory(username="boss"))
    return client


@pytest.fixture
def tokens():
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    made = {
        "laptop": make_personal_token(alice, name="laptop", scopes=["api"]),
        "ci": make_personal_token(bob, name="ci", scopes=["read_api", "read_repository"]),
        "old": make_personal_token(bob, name="old", scopes=["read_user"]),
    }
    made["old"][0].revoke()
    return made


def names(response) -> set[str]:
    return {token.name for token in response.context["cl"].result_list}


def test_inventory_shows_no_secret_or_digest(admin_client, tokens):
    page = admin_client.get(LIST).content.decode()
    for token, plaintext in tokens.values():
        assert token.name in page
        assert plaintext not in page and token.token_digest not in page
    detail = admin_client.get(f"{LIST}{tokens['ci'][0].pk}/change/").content.decode()
    assert tokens["ci"][0].token_digest not in detail and "read_api, read_repository" in detail


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("q=alice", {"laptop"}),
        ("q=bob", {"ci", "old"}),
        ("q=lapt", {"laptop"}),
        ("scope=api", {"laptop"}),  # not read_api
        ("scope=read_api", {"ci"}),
        ("scope=read_repository", {"ci"}),
        ("state=active", {"laptop", "ci"}),
        ("state=revoked", {"old"}),
        ("state=expired", set()),
    ],
)
def test_search_and_filters(admin_client, tokens, query, expected):
    assert names(admin_client.get(f"{LIST}?{query}")) == expected


def test_revoke_selected_tokens(admin_client, tokens):
    ids = [str(token.pk) for token, _ in tokens.values()]
    response = admin_client.post(
        LIST, {"action": "revoke_selected", "_selected_action": ids}, follow=True
    )
    page = response.content.decode()
    assert "Revoked 2 personal access tokens." in page and "was already revoked" in page
    assert not PersonalAccessToken.objects.filter(revoked=False).exists()
    assert AuditEvent.objects.filter(action=AuditAction.PERSONAL_TOKEN_REVOKE).count() == 3


def test_admin_creates_a_token_for_a_user_and_sees_it_once(admin_client):
    user = UserFactory(username="carol")
    response = admin_client.post(
        f"{LIST}add/", {"user": user.pk, "name": "from-admin", "scopes": ["read_user"]}
    )
    page = response.content.decode()
    assert "Your new personal access token" in page and "no-store" in response["Cache-Control"]
    plaintext = page.split('id="new-token-value" value="')[1].split('"')[0]
    token = PersonalAccessToken.objects.get(user=user)
    assert plaintext.startswith("glpat-") and token.scopes == ["read_user"]


def test_admin_add_respects_the_rules(admin_client):
    instance = InstanceSettings.current()
    instance.personal_access_token_max_lifetime_days = 5
    instance.save()
    user = UserFactory()
    response = admin_client.post(
        f"{LIST}add/",
        {
            "user": user.pk,
            "name": "x",
            "scopes": ["sudo"],
            "expires_at": str(utc_today() + timedelta(days=6)),
        },
    )
    page = response.content.decode()
    assert "Only administrators can have the sudo scope." in page
    assert "Choose a date no later than" in page
    assert not PersonalAccessToken.objects.exists()
