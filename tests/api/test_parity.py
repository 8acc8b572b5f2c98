"""Calls GitLab answers that python-gitlab and Terraform's provider make (issue: REST API v4 on
Django REST framework, at parity)."""

import pytest

from personal_tokens.models import PersonalAccessToken
from tests.factories import UserFactory, make_personal_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return UserFactory(username="olga")


@pytest.mark.parametrize("scope", ["read_user", "self_rotate", "read_repository", "api"])
def test_any_token_sees_and_revokes_itself(client, owner, scope):
    token, value = make_personal_token(owner, scopes=[scope])
    seen = client.get("/api/v4/personal_access_tokens/self", HTTP_PRIVATE_TOKEN=value)
    assert seen.status_code == 200
    assert (seen.json()["id"], seen.json()["scopes"]) == (token.pk, [scope])
    revoked = client.delete("/api/v4/personal_access_tokens/self", HTTP_PRIVATE_TOKEN=value)
    assert revoked.status_code == 204
    assert PersonalAccessToken.objects.get(pk=token.pk).revoked
    again = client.get("/api/v4/personal_access_tokens/self", HTTP_PRIVATE_TOKEN=value)
    assert again.status_code == 401


def test_self_needs_a_token(client):
    assert client.get("/api/v4/personal_access_tokens/self").status_code == 401


@pytest.mark.parametrize("path", ["/api/v4/metadata", "/api/v4/version"])
def test_metadata_and_version_name_the_gitlab_api_answered(client, owner, path):
    _, value = make_personal_token(owner, scopes=["read_api"])
    response = client.get(path, HTTP_PRIVATE_TOKEN=value)
    assert response.status_code == 200
    body = response.json()
    major = int(body["version"].split(".")[0])
    assert major >= 15 and body["revision"].startswith("tokens-")
    assert body["kas"]["enabled"] is False and body["enterprise"] is False
    assert client.get(path).status_code == 401


@pytest.mark.parametrize("sort", ["asc", "desc"])
def test_keyset_pagination_follows_next_links_through_the_whole_list(client, owner, sort):
    from tests.factories import GroupFactory

    ids = sorted(GroupFactory(path=f"g{n}", owner=owner).pk for n in range(7))
    _, value = make_personal_token(owner, scopes=["read_api"])
    url = f"/api/v4/groups?pagination=keyset&order_by=id&sort={sort}&per_page=3"
    seen = []
    while url:
        response = client.get(url, HTTP_PRIVATE_TOKEN=value)
        assert response.status_code == 200 and "X-Total" not in response
        seen += [group["id"] for group in response.json()]
        link = response.get("Link", "")
        url = link[link.index("<") + 1 : link.index(">")] if link else None
    assert seen == (ids if sort == "asc" else ids[::-1])


def test_keyset_pagination_by_another_order_is_405(client, owner):
    _, value = make_personal_token(owner, scopes=["read_api"])
    response = client.get(
        "/api/v4/groups?pagination=keyset&order_by=name", HTTP_PRIVATE_TOKEN=value
    )
    assert response.status_code == 405
    assert "Keyset pagination" in response.json()["message"]


@pytest.mark.parametrize("scope", ["read_user", "self_rotate"])
def test_any_token_sees_and_revokes_itself_by_its_id_but_no_other(client, owner, scope):
    other, _ = make_personal_token(owner, scopes=["api"], name="other")
    token, value = make_personal_token(owner, scopes=[scope])
    for method in ("get", "delete"):
        refused = getattr(client, method)(
            f"/api/v4/personal_access_tokens/{other.pk}", HTTP_PRIVATE_TOKEN=value
        )
        assert refused.status_code == 403 and refused.json()["error"] == "insufficient_scope"
    assert not PersonalAccessToken.objects.get(pk=other.pk).revoked
    path = f"/api/v4/personal_access_tokens/{token.pk}"
    assert client.get(path, HTTP_PRIVATE_TOKEN=value).json()["id"] == token.pk
    assert client.delete(path, HTTP_PRIVATE_TOKEN=value).status_code == 204
    assert PersonalAccessToken.objects.get(pk=token.pk).revoked


def test_a_token_rotates_itself_by_id_only_with_a_rotating_scope(client, owner):
    token, value = make_personal_token(owner, scopes=["read_user"])
    response = client.post(
        f"/api/v4/personal_access_tokens/{token.pk}/rotate", HTTP_PRIVATE_TOKEN=value
    )
    assert response.status_code == 403
    assert not PersonalAccessToken.objects.get(pk=token.pk).revoked


def test_blocking_twice_changes_nothing_and_answers_as_gitlab(client, owner):
    from tests.factories import AdminFactory

    _, admin = make_personal_token(AdminFactory(), scopes=["api"])
    for path, first, again in [("block", True, None), ("unblock", True, False)]:
        url = f"/api/v4/users/{owner.pk}/{path}"
        assert client.post(url, HTTP_PRIVATE_TOKEN=admin).json() is first
        assert client.post(url, HTTP_PRIVATE_TOKEN=admin).json() is again
    owner.refresh_from_db()
    assert owner.is_active


def test_version_answers_any_reading_token(client, owner):
    _, value = make_personal_token(owner, scopes=["read_user"])
    assert client.get("/api/v4/version", HTTP_PRIVATE_TOKEN=value).json()["version"] == "17.6.0"


def test_an_administrator_sets_a_password_by_the_rules(client, owner):
    from django.contrib.auth import authenticate

    from tests.factories import AdminFactory

    _, admin = make_personal_token(AdminFactory(), scopes=["api"])
    url = f"/api/v4/users/{owner.pk}"
    weak = client.put(
        url, {"password": "123"}, content_type="application/json", HTTP_PRIVATE_TOKEN=admin
    )
    assert weak.status_code == 400 and "password" in weak.json()["message"]
    strong = "A new long passphrase 42!"
    done = client.put(
        url, {"password": strong}, content_type="application/json", HTTP_PRIVATE_TOKEN=admin
    )
    assert done.status_code == 200
    assert authenticate(username="olga", password=strong) is not None
