"""Personal access tokens in the Django admin: the inventory."""

import logging
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model

from personal_tokens.models import PersonalAccessToken
from tests.factories import AdminFactory, UserFactory, make_personal_token, once_key
from tests.leaks import readable, sent_besides_the_body, tables_holding
from tokens_site.models import AuditAction, AuditEvent, InstanceSettings
from tokens_site.once import FIELD_NAME
from tokens_site.tokens import utc_today

pytestmark = pytest.mark.django_db
LIST = "/admin/personal_tokens/personalaccesstoken/"


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
    alice, bob = UserFactory(username="alice"), UserFactory(username="bob")
    made = {
        "laptop": make_personal_token(
            alice, name="laptop", scopes=["api"], description="Alice's work laptop"
        ),
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
        ("q=work", {"laptop"}),  # its description
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
    data = add_form_data(admin_client, user=user.pk, name="from-admin", scopes=["read_user"])
    response = admin_client.post(f"{LIST}add/", data, REMOTE_ADDR="192.0.2.46")
    page = response.content.decode()
    assert "Your new personal access token" in page and "no-store" in response["Cache-Control"]
    plaintext = page.split('id="new-token-value" value="')[1].split('"')[0]
    token = PersonalAccessToken.objects.get(user=user)
    assert plaintext.startswith("glpat-") and token.scopes == ["read_user"]
    event = AuditEvent.objects.get(action=AuditAction.PERSONAL_TOKEN_CREATE)
    assert (event.actor.username, event.target_id, event.ip_address) == (
        "boss",
        str(token.pk),
        "192.0.2.46",
    )


def test_admin_adds_and_shows_a_description(admin_client):
    user = UserFactory(username="carol")
    page = admin_client.get(f"{LIST}add/").content.decode()
    assert 'name="description"' in page
    assert page.index('name="name"') < page.index('name="description"')
    too_long = add_form_data(
        admin_client, user=user.pk, name="t", scopes=["api"], description="d" * 256
    )
    refused = admin_client.post(f"{LIST}add/", too_long).content.decode()
    assert "Description is too long: use at most 255 characters." in refused
    assert not PersonalAccessToken.objects.exists()
    data = add_form_data(
        admin_client, user=user.pk, name="t", scopes=["api"], description="For <b>CI</b>"
    )
    admin_client.post(f"{LIST}add/", data)
    token = PersonalAccessToken.objects.get(user=user)
    assert token.description == "For <b>CI</b>"
    detail = admin_client.get(f"{LIST}{token.pk}/change/").content.decode()
    assert "For &lt;b&gt;CI&lt;/b&gt;" in detail and "<b>CI</b>" not in detail


def test_resending_the_admin_add_form_creates_nothing(admin_client):
    user = UserFactory(username="carol")
    data = add_form_data(admin_client, user=user.pk, name="from-admin", scopes=["read_user"])
    first = admin_client.post(f"{LIST}add/", data)
    plaintext = first.content.decode().split('id="new-token-value" value="')[1].split('"')[0]
    again = admin_client.post(f"{LIST}add/", data)
    assert again.status_code == 302 and again["Location"] == LIST
    page = admin_client.get(again["Location"]).content.decode()
    assert "That form was already submitted." in page and plaintext not in page
    assert PersonalAccessToken.objects.count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.PERSONAL_TOKEN_CREATE).count() == 1


def test_revoking_in_the_admin_is_audited_with_the_address(admin_client, tokens):
    token, _ = tokens["laptop"]
    admin_client.post(
        LIST,
        {"action": "revoke_selected", "_selected_action": [str(token.pk)]},
        REMOTE_ADDR="192.0.2.47",
    )
    event = AuditEvent.objects.filter(action=AuditAction.PERSONAL_TOKEN_REVOKE).latest("id")
    assert (event.actor.username, event.target_id, event.ip_address) == (
        "boss",
        str(token.pk),
        "192.0.2.47",
    )


def test_a_token_cannot_be_deleted_in_the_admin(admin_client, tokens):
    """Revoked rows stay, for the audit trail: the delete page refuses, GET and POST alike."""
    for token, _ in tokens.values():
        url = f"{LIST}{token.pk}/delete/"
        assert admin_client.get(url).status_code == 403
        assert admin_client.post(url, {"post": "yes"}).status_code == 403
    assert PersonalAccessToken.objects.count() == 3


def test_deleting_a_user_in_the_admin_still_takes_their_tokens(admin_client, tokens):
    token, _ = tokens["laptop"]
    url = f"/admin/auth/user/{token.user_id}/delete/"
    assert "permission to delete" not in admin_client.get(url).content.decode()
    admin_client.post(url, {"post": "yes"})
    assert not get_user_model().objects.filter(pk=token.user_id).exists()
    assert not PersonalAccessToken.objects.filter(pk=token.pk).exists()


def test_admin_add_respects_the_rules(admin_client):
    instance = InstanceSettings.current()
    instance.personal_access_token_max_lifetime_days = 5
    instance.save()
    user = UserFactory()
    data = add_form_data(
        admin_client,
        user=user.pk,
        name="x",
        scopes=["sudo"],
        expires_at=str(utc_today() + timedelta(days=6)),
    )
    response = admin_client.post(f"{LIST}add/", data)
    page = response.content.decode()
    assert "Only administrators can have the sudo scope." in page
    assert "Choose a date no later than" in page
    assert not PersonalAccessToken.objects.exists()


def test_the_new_value_is_in_no_log_line_cookie_or_table(admin_client, caplog, settings):
    settings.DEBUG = True  # the SQL is logged as well
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django")
    data = add_form_data(
        admin_client, user=UserFactory().pk, name="from-admin", scopes=["read_user"]
    )
    created = admin_client.post(f"{LIST}add/", data)
    plaintext = created.content.decode().split('id="new-token-value" value="')[1].split('"')[0]
    admin_client.get(admin_client.post(f"{LIST}add/", data)["Location"])
    assert "from-admin" in caplog.text  # the log did capture the requests' SQL
    assert plaintext not in caplog.text
    assert plaintext not in sent_besides_the_body(created)
    assert all(plaintext not in readable(morsel.value) for morsel in admin_client.cookies.values())
    assert tables_holding(plaintext) == []
