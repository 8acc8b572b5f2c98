"""How the API answers what is not a well-formed call, as GitLab does: a wrong method is a
405 before credentials are read, blank parameters count as not given, bodies parse whatever
the case of their type, malformed forms are JSON 400s."""

import json

import pytest

from tests.factories import GroupFactory, MembershipFactory, UserFactory, make_personal_token
from tokens_site.models import AccessLevel, FailedAuthCounter

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return UserFactory(username="olga")


@pytest.fixture
def token(owner):
    return make_personal_token(owner, scopes=["api"])[1]


def test_a_method_an_endpoint_lacks_is_405_whoever_asks(client, owner):
    _, read_user = make_personal_token(owner, scopes=["read_user"])
    asks = [
        client.delete("/api/v4/user", HTTP_PRIVATE_TOKEN=read_user),
        client.delete("/api/v4/groups"),
        client.put("/api/v4/groups", HTTP_PRIVATE_TOKEN="glpat-wrong"),
        client.options("/api/v4/projects"),
    ]
    for response in asks:
        assert response.status_code == 405
        assert response.json() == {"message": "405 Method Not Allowed"}
        assert response["Cache-Control"] == "no-store"
    assert not FailedAuthCounter.objects.exists()  # the wrong token was never read


def test_blank_query_parameters_count_as_not_given(client, owner, token):
    GroupFactory(path="tanuki", owner=owner)
    response = client.get(
        "/api/v4/groups?search=&page=&per_page=&min_access_level=", HTTP_PRIVATE_TOKEN=token
    )
    assert response.status_code == 200
    assert [group["path"] for group in response.json()] == ["tanuki"]
    assert response["X-Per-Page"] == "20"


def test_the_body_type_is_read_whatever_its_case(client, owner, token):
    response = client.post(
        "/api/v4/groups",
        json.dumps({"name": "Tanuki", "path": "tanuki"}),
        content_type="Application/JSON; charset=UTF-8",
        HTTP_PRIVATE_TOKEN=token,
    )
    assert response.status_code == 201


def test_a_form_with_too_many_fields_is_a_json_400(client, owner, token, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    body = "&".join(f"f{n}=x" for n in range(20))
    response = client.post(
        "/api/v4/groups",
        body,
        content_type="application/x-www-form-urlencoded",
        HTTP_PRIVATE_TOKEN=token,
    )
    assert response.status_code == 400
    assert response.json()["error"].startswith("The request body is not a valid form")
    assert response["Cache-Control"] == "no-store"


def test_a_keyset_next_link_keeps_the_bound_the_caller_gave(client, owner, token):
    ids = sorted(GroupFactory(path=f"g{n}", owner=owner).pk for n in range(6))
    floor = ids[1]
    url = f"/api/v4/groups?pagination=keyset&sort=desc&per_page=2&id_after={floor}"
    seen = []
    while url:
        response = client.get(url, HTTP_PRIVATE_TOKEN=token)
        seen += [group["id"] for group in response.json()]
        link = response.get("Link", "")
        url = link[link.index("<") + 1 : link.index(">")] if link else None
    assert seen == [pk for pk in reversed(ids) if pk > floor]


def test_members_are_paged_by_keyset_on_their_user_id(client, owner, token):
    group = GroupFactory(path="tanuki", owner=owner)
    users = [UserFactory(username=name) for name in ("zed", "amy", "kim")]
    for user in reversed(users):  # memberships made in the other order than their users
        MembershipFactory(user=user, group=group, access_level=AccessLevel.DEVELOPER)
    url = f"/api/v4/groups/{group.pk}/members?pagination=keyset&per_page=1"
    seen = []
    while url:
        response = client.get(url, HTTP_PRIVATE_TOKEN=token)
        seen += [member["id"] for member in response.json()]
        link = response.get("Link", "")
        url = link[link.index("<") + 1 : link.index(">")] if link else None
    assert seen == sorted(group.memberships.values_list("user_id", flat=True))
