"""Lists as GitLab serves them: both paginations over a long list, `order_by` and `sort` with
each list's choices and defaults, GitLab's filters, and 400 for a value a list does not take."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from personal_tokens.models import PersonalAccessToken
from tests.factories import (
    AdminFactory,
    GroupFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    make_personal_token,
)
from tokens_site.models import Group
from tokens_site.tokens import utc_today

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return UserFactory(username="olga", first_name="Olga")


def get(client, path: str, token: str):
    return client.get(path, HTTP_PRIVATE_TOKEN=token)


def next_link(response) -> str | None:
    for part in response.get("Link", "").split(", "):
        if part.endswith('rel="next"'):
            return part[part.index("<") + 1 : part.index(">")]
    return None


class TestLongLists:
    """250 groups: offset pages with every header, and keyset pages followed to the end."""

    @pytest.fixture
    def groups(self, owner):
        top = GroupFactory(path="top", owner=owner)
        parent = Group.objects.get(pk=top.pk)
        made = [top]
        for n in range(249):
            made.append(
                Group.objects.create(
                    name=f"G{n:03d}",
                    path=f"g{n:03d}",
                    parent=parent,
                    full_path=f"top/g{n:03d}",
                    traversal="/",
                )
            )
        for group in made[1:]:
            group.traversal = f"{parent.traversal}{group.pk}/"
        Group.objects.bulk_update(made[1:], ["traversal"])
        return made

    def test_offset_pages_have_gitlabs_headers(self, client, owner, groups):
        _, token = make_personal_token(owner, scopes=["read_api"])
        first = get(client, "/api/v4/groups?per_page=100&order_by=id&sort=asc", token)
        assert first.status_code == 200 and len(first.json()) == 100
        assert (first["X-Total"], first["X-Total-Pages"], first["X-Page"]) == ("250", "3", "1")
        assert (first["X-Per-Page"], first["X-Next-Page"], first["X-Prev-Page"]) == ("100", "2", "")
        rels = [part.rsplit('rel="', 1)[1].rstrip('"') for part in first["Link"].split(", ")]
        assert rels == ["next", "first", "last"]
        seen = [group["id"] for group in first.json()]
        url = next_link(first)
        while url:
            page = get(client, url, token)
            seen += [group["id"] for group in page.json()]
            url = next_link(page)
        last = get(client, "/api/v4/groups?per_page=100&page=3&order_by=id&sort=asc", token)
        assert (last["X-Page"], last["X-Next-Page"], last["X-Prev-Page"]) == ("3", "", "2")
        assert len(last.json()) == 50
        assert seen == sorted(group.pk for group in groups)

    @pytest.mark.parametrize("sort", ["asc", "desc"])
    def test_keyset_pages_follow_to_the_end_without_totals(self, client, owner, groups, sort):
        _, token = make_personal_token(owner, scopes=["read_api"])
        url = f"/api/v4/groups?pagination=keyset&order_by=id&sort={sort}&per_page=100"
        seen, pages = [], 0
        while url:
            page = get(client, url, token)
            assert page.status_code == 200 and "X-Total" not in page
            assert page["X-Per-Page"] == "100"
            seen += [group["id"] for group in page.json()]
            pages += 1
            url = next_link(page)
            if url:
                query = parse_qs(urlsplit(url).query)
                assert ("id_after" if sort == "asc" else "id_before") in query
        ids = sorted(group.pk for group in groups)
        assert pages == 3 and seen == (ids if sort == "asc" else ids[::-1])

    def test_subgroups_in_pages_of_at_most_100(self, client, owner, groups):
        _, token = make_personal_token(owner, scopes=["read_api"])
        page = get(client, "/api/v4/groups/top/subgroups?per_page=100000", token)
        assert (page["X-Total"], page["X-Per-Page"], len(page.json())) == ("249", "100", 100)
        descendants = get(client, "/api/v4/groups/top/descendant_groups?page=3&per_page=100", token)
        assert descendants["X-Total"] == "249" and len(descendants.json()) == 49


class TestOrder:
    @pytest.fixture
    def token(self, owner):
        group = GroupFactory(name="Zebra", path="a-zebra", owner=owner)
        GroupFactory(name="Aardvark", path="z-aardvark", owner=owner)
        ProjectFactory(name="Second", path="b-second", group=group)
        ProjectFactory(name="First", path="a-first", group=group)
        return make_personal_token(owner, scopes=["read_api"])[1]

    def names(self, client, path, token) -> list[str]:
        response = get(client, path, token)
        assert response.status_code == 200, response.content
        return [item["name"] for item in response.json()]

    @pytest.mark.parametrize(
        ("path", "expected"),
        [
            # GitLab's defaults: groups by name, projects newest first.
            ("/api/v4/groups", ["Aardvark", "Zebra"]),
            ("/api/v4/groups?order_by=path", ["Zebra", "Aardvark"]),
            ("/api/v4/groups?order_by=name&sort=desc", ["Zebra", "Aardvark"]),
            ("/api/v4/projects", ["First", "Second"]),
            ("/api/v4/projects?sort=asc", ["Second", "First"]),
            ("/api/v4/projects?order_by=path&sort=asc", ["First", "Second"]),
            ("/api/v4/projects?order_by=name&sort=desc", ["Second", "First"]),
            ("/api/v4/projects?order_by=last_activity_at", ["First", "Second"]),
            ("/api/v4/groups/a-zebra/projects?order_by=name&sort=asc", ["First", "Second"]),
        ],
    )
    def test_order_by_and_sort(self, client, token, path, expected):
        assert self.names(client, path, token) == expected

    @pytest.mark.parametrize(
        "path",
        [
            "/api/v4/groups",
            "/api/v4/projects",
            "/api/v4/users",
            "/api/v4/namespaces",
            "/api/v4/groups/a-zebra/subgroups",
            "/api/v4/groups/a-zebra/descendant_groups",
            "/api/v4/groups/a-zebra/projects",
        ],
    )
    @pytest.mark.parametrize(
        ("query", "message"),
        [
            ("order_by=bogus", "order_by does not have a valid value"),
            ("sort=sideways", "sort does not have a valid value"),
        ],
    )
    def test_an_order_a_list_does_not_have_is_400(self, client, token, path, query, message):
        response = get(client, f"{path}?{query}", token)
        assert response.status_code == 400
        assert response.json() == {"error": message}

    def test_users_newest_first_by_default(self, client, owner, token):
        later = UserFactory(username="later")
        ids = [user["id"] for user in get(client, "/api/v4/users", token).json()]
        assert ids[0] == later.pk and ids == sorted(ids, reverse=True)
        ascending = get(client, "/api/v4/users?order_by=username&sort=asc", token).json()
        usernames = [user["username"] for user in ascending]
        assert "later" in usernames and usernames == sorted(usernames)


class TestRoles:
    @pytest.mark.parametrize(
        "path", ["/api/v4/groups?min_access_level=33", "/api/v4/projects?min_access_level=33"]
    )
    def test_an_unknown_minimum_role_is_400(self, client, owner, path):
        _, token = make_personal_token(owner, scopes=["read_api"])
        response = get(client, path, token)
        assert response.status_code == 400
        assert response.json() == {"error": "min_access_level does not have a valid value"}

    @pytest.mark.parametrize("level", [33, 0, 60, "owner", ""])
    def test_an_unknown_role_for_a_member_is_400_and_adds_nothing(self, client, owner, level):
        group = GroupFactory(path="tanuki", owner=owner)
        newcomer = UserFactory()
        _, token = make_personal_token(owner, scopes=["api"])
        response = client.post(
            "/api/v4/groups/tanuki/members",
            {"user_id": newcomer.pk, "access_level": level},
            HTTP_PRIVATE_TOKEN=token,
        )
        assert response.status_code == 400
        assert "access_level" in response.json()["error"]
        assert not group.memberships.filter(user=newcomer).exists()

    def test_members_query_finds_by_username_and_name(self, client, owner):
        group = GroupFactory(path="tanuki", owner=owner)
        MembershipFactory(
            group=group, user=UserFactory(username="dev", last_name="Eloper"), access_level=30
        )
        _, token = make_personal_token(owner, scopes=["read_api"])
        for query, expected in [("elop", ["dev"]), ("OLG", ["olga"]), ("nobody", [])]:
            for path in ["members", "members/all"]:
                found = get(client, f"/api/v4/groups/tanuki/{path}?query={query}", token).json()
                assert [member["username"] for member in found] == expected


class TestPersonalTokenFilters:
    @pytest.fixture
    def tokens(self, owner):
        now = timezone.now()
        made = {}
        for name, created_days_ago, used_days_ago, expires_in in [
            ("old", 40, 30, 5),
            ("middle", 20, None, 50),
            ("new", 1, 1, 300),
        ]:
            token, _ = make_personal_token(owner, scopes=["read_api"], name=name)
            PersonalAccessToken.objects.filter(pk=token.pk).update(
                created_at=now - timedelta(days=created_days_ago),
                last_used_at=now - timedelta(days=used_days_ago) if used_days_ago else None,
                expires_at=utc_today() + timedelta(days=expires_in),
            )
            made[name] = token
        return made

    @pytest.fixture
    def admin_token(self):
        return make_personal_token(AdminFactory(), scopes=["read_api"], name="admin's")[1]

    def names(self, client, query, token) -> list[str]:
        response = get(client, f"/api/v4/personal_access_tokens?user_id=&{query}", token)
        assert response.status_code == 200, response.content
        return [item["name"] for item in response.json() if item["name"] != "admin's"]

    def moment(self, days: int) -> str:
        return (timezone.now() - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%S")

    def test_created_last_used_and_expiry_filters(self, client, tokens, admin_token):
        assert self.names(client, f"created_after={self.moment(30)}", admin_token) == [
            "new",
            "middle",
        ]
        assert self.names(client, f"created_before={self.moment(30)}", admin_token) == ["old"]
        assert self.names(client, f"last_used_after={self.moment(10)}", admin_token) == ["new"]
        assert self.names(client, f"last_used_before={self.moment(10)}", admin_token) == ["old"]
        soon = (utc_today() + timedelta(days=10)).isoformat()
        assert self.names(client, f"expires_before={soon}", admin_token) == ["old"]
        assert self.names(client, f"expires_after={soon}", admin_token) == ["new", "middle"]
        assert self.names(client, "search=MID", admin_token) == ["middle"]

    @pytest.mark.parametrize(
        ("sort", "expected"),
        [
            ("", ["new", "middle", "old"]),  # created_desc, GitLab's default
            ("created_asc", ["old", "middle", "new"]),
            ("name_asc", ["middle", "new", "old"]),
            ("name_desc", ["old", "new", "middle"]),
            ("expires_asc", ["old", "middle", "new"]),
            ("expires_desc", ["new", "middle", "old"]),
            ("last_used_desc", ["new", "old", "middle"]),  # never used: last either way
            ("last_used_asc", ["old", "new", "middle"]),
        ],
    )
    def test_sort(self, client, tokens, admin_token, sort, expected):
        assert self.names(client, f"sort={sort}", admin_token) == expected

    @pytest.mark.parametrize(
        ("query", "message"),
        [
            ("sort=sideways", "sort does not have a valid value"),
            ("sort=created", "sort does not have a valid value"),
            ("created_after=yesterday", "created_after is invalid"),
            ("expires_before=2026-13-01", "expires_before is invalid"),
        ],
    )
    def test_bad_filters_are_400(self, client, tokens, admin_token, query, message):
        response = get(client, f"/api/v4/personal_access_tokens?{query}", admin_token)
        assert response.status_code == 400
        assert response.json()["error"].startswith(message)


def test_namespaces_are_the_callers_groups_or_every_group_for_administrators(client, owner):
    mine = GroupFactory(name="Mine", path="mine", owner=owner)
    sub = GroupFactory(name="Sub", path="sub", parent=mine)
    GroupFactory(name="Theirs", path="theirs", visibility="public")
    _, token = make_personal_token(owner, scopes=["read_api"])
    listed = get(client, "/api/v4/namespaces", token).json()
    assert [(item["full_path"], item["kind"]) for item in listed] == [
        ("mine", "group"),
        ("mine/sub", "group"),
    ]
    assert get(client, "/api/v4/namespaces?top_level_only=true", token).json()[0]["id"] == mine.pk
    assert [n["path"] for n in get(client, "/api/v4/namespaces?search=su", token).json()] == ["sub"]
    assert get(client, f"/api/v4/namespaces/{sub.pk}", token).json()["parent_id"] == mine.pk
    # Only the caller's own, as GitLab: a public group of others' is not theirs.
    assert get(client, "/api/v4/namespaces/theirs", token).status_code == 404
    assert get(client, "/api/v4/namespaces/theirs", token).json() == {
        "message": "404 Namespace Not Found"
    }
    _, admin = make_personal_token(AdminFactory(), scopes=["read_api"])
    assert len(get(client, "/api/v4/namespaces", admin).json()) == 3
    assert client.get("/api/v4/namespaces").status_code == 401


@pytest.mark.parametrize(
    ("path", "descending"), [("projects", True), ("users", True), ("groups", False)]
)
def test_keyset_pages_go_in_the_lists_default_direction(client, owner, path, descending):
    group = GroupFactory(path="mine", owner=owner)
    for n in range(3):
        ProjectFactory(group=group, path=f"p{n}")
        GroupFactory(path=f"g{n}", owner=owner)
        UserFactory()
    _, token = make_personal_token(owner, scopes=["read_api"])
    ids = [item["id"] for item in get(client, f"/api/v4/{path}?pagination=keyset", token).json()]
    assert len(ids) >= 3 and ids == sorted(ids, reverse=descending)
    offset = [item["id"] for item in get(client, f"/api/v4/{path}?order_by=id", token).json()]
    assert offset == ids


def test_keyset_pages_of_tokens_go_newest_first_as_their_offset_pages(client, owner):
    for n in range(3):
        make_personal_token(owner, scopes=["read_api"], name=f"t{n}")
    _, token = make_personal_token(owner, scopes=["read_api"])
    path = "/api/v4/personal_access_tokens"
    keyset = [item["id"] for item in get(client, f"{path}?pagination=keyset", token).json()]
    offset = [item["id"] for item in get(client, path, token).json()]
    assert len(keyset) == 4 and keyset == offset == sorted(keyset, reverse=True)


def test_token_filters_take_their_boundaries_as_gitlab(client, owner):
    token, _ = make_personal_token(owner, scopes=["read_api"], name="edge")
    PersonalAccessToken.objects.filter(pk=token.pk).update(expires_at=utc_today() + timedelta(9))
    token.refresh_from_db()
    _, value = make_personal_token(owner, scopes=["read_api"], name="caller")
    day = token.expires_at.isoformat()
    moment = token.created_at.strftime("%Y-%m-%dT%H:%M:%S.%f")

    def names(query):
        listed = get(client, f"/api/v4/personal_access_tokens?{query}", value).json()
        return [item["name"] for item in listed if item["name"] == "edge"]

    assert names(f"expires_after={day}") == ["edge"]
    assert names(f"expires_before={day}") == []
    assert names(f"created_after={moment}") == ["edge"]
    assert names(f"created_before={moment}") == ["edge"]
