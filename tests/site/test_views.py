"""Every page of the site against every kind of visitor: anonymous, non-member, Guest ... Owner,
administrator. What one may not see answers 404 (anonymous visitors are sent to sign in); what
one may see but not change answers 403."""

import base64
import re

import pytest

from tests.factories import (
    PASSWORD,
    GroupFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    make_deploy_token,
    make_personal_token,
)
from tests.roles import ROLES, SIGN_IN, outcome, visit
from tokens_site.access.policy import EXTERNAL_AUTHORIZATION_REFUSAL
from tokens_site.models import (
    MAX_GROUP_DEPTH,
    AccessLevel,
    Group,
    InstanceSettings,
    Membership,
    Project,
    Visibility,
)

pytestmark = pytest.mark.django_db

# Expected outcome per role, in the order of ROLES.
SEE_PRIVATE = [SIGN_IN, 404, 200, 200, 200, 200, 200, 200]
CHANGE_MEMBERS = [SIGN_IN, 404, 403, 403, 403, 302, 302, 302]
# A membership with the Owner role: only Owners (and administrators) touch it.
CHANGE_OWNERS = [SIGN_IN, 404, 403, 403, 403, 403, 302, 302]
SIGNED_IN = [SIGN_IN, 200, 200, 200, 200, 200, 200, 200]
# Internal and public groups: who may see them without a membership.
SEE_OPEN = {
    Visibility.INTERNAL: [SIGN_IN, 200, 200, 200, 200, 200, 200, 200],
    Visibility.PUBLIC: [200, 200, 200, 200, 200, 200, 200, 200],
}
CHANGE_OPEN_MEMBERS = [SIGN_IN, 403, 403, 403, 403, 302, 302, 302]


def matrix(expected: list) -> list[tuple]:
    return list(zip(ROLES, expected, strict=True))


def open_up(world, visibility: str) -> None:
    """Make the world's groups and project internal or public."""
    Group.objects.filter(pk__in=[world["top"].pk, world["group"].pk]).update(visibility=visibility)
    Project.objects.filter(pk=world["project"].pk).update(visibility=visibility)


@pytest.mark.parametrize(("role", "expected"), matrix(SEE_PRIVATE))
@pytest.mark.parametrize(
    "url",
    [
        "/groups/tanuki/backend",
        "/groups/tanuki/backend/-/group_members",
        "/tanuki/backend/api",
        "/tanuki/backend/api/-/project_members",
    ],
)
def test_private_pages_are_seen_by_members_only(client, world, role, expected, url):
    assert outcome(visit(client, world, role, "get", url)) == expected


@pytest.mark.parametrize(("role", "expected"), matrix(CHANGE_MEMBERS))
def test_adding_group_members_needs_maintainer(client, world, role, expected):
    response = visit(
        client,
        world,
        role,
        "post",
        "/groups/tanuki/backend/-/group_members",
        {"username": "newcomer", "access_level": AccessLevel.REPORTER},
    )
    assert outcome(response) == expected
    added = Membership.objects.filter(user__username="newcomer", group=world["group"]).exists()
    assert added == (expected == 302)


@pytest.mark.parametrize(("role", "expected"), matrix(CHANGE_MEMBERS))
def test_adding_project_members_needs_maintainer(client, world, role, expected):
    response = visit(
        client,
        world,
        role,
        "post",
        "/tanuki/backend/api/-/project_members",
        {"username": "newcomer", "access_level": AccessLevel.DEVELOPER},
    )
    assert outcome(response) == expected
    added = Membership.objects.filter(user__username="newcomer", project=world["project"]).exists()
    assert added == (expected == 302)


@pytest.mark.parametrize(("role", "expected"), matrix(CHANGE_MEMBERS))
def test_changing_a_role_needs_maintainer(client, world, role, expected):
    target = world["target"]
    url = f"/groups/tanuki/backend/-/group_members/{target.pk}"
    response = visit(client, world, role, "post", url, {"access_level": AccessLevel.REPORTER})
    assert outcome(response) == expected
    target.refresh_from_db()
    assert (target.access_level == AccessLevel.REPORTER) == (expected == 302)


@pytest.mark.parametrize(("role", "expected"), matrix(CHANGE_MEMBERS))
def test_removing_a_project_member_needs_maintainer(client, world, role, expected):
    target = world["project_target"]
    url = f"/tanuki/backend/api/-/project_members/{target.pk}/remove"
    assert outcome(visit(client, world, role, "post", url)) == expected
    assert Membership.objects.filter(pk=target.pk).exists() == (expected != 302)


@pytest.mark.parametrize(("role", "expected"), matrix(CHANGE_MEMBERS))
def test_changing_a_project_members_role_needs_maintainer(client, world, role, expected):
    target = world["project_target"]
    url = f"/tanuki/backend/api/-/project_members/{target.pk}"
    response = visit(client, world, role, "post", url, {"access_level": AccessLevel.REPORTER})
    assert outcome(response) == expected
    target.refresh_from_db()
    assert (target.access_level == AccessLevel.REPORTER) == (expected == 302)


@pytest.mark.parametrize(("role", "expected"), matrix(CHANGE_MEMBERS))
def test_removing_a_group_member_needs_maintainer(client, world, role, expected):
    target = world["target"]
    url = f"/groups/tanuki/backend/-/group_members/{target.pk}/remove"
    assert outcome(visit(client, world, role, "post", url)) == expected
    assert Membership.objects.filter(pk=target.pk).exists() == (expected != 302)


@pytest.fixture(params=["group", "project"])
def owner_row(request, world):
    """A direct Owner membership of tanuki/backend or of tanuki/backend/api, and its URL."""
    source = {request.param: world[request.param]}
    row = MembershipFactory(
        user=UserFactory(username="boss"), access_level=AccessLevel.OWNER, **source
    )
    members = (
        "/groups/tanuki/backend/-/group_members"
        if request.param == "group"
        else "/tanuki/backend/api/-/project_members"
    )
    return row, f"{members}/{row.pk}"


@pytest.mark.parametrize(("role", "expected"), matrix(CHANGE_OWNERS))
def test_changing_an_owners_role_needs_an_owner(client, world, owner_row, role, expected):
    row, url = owner_row
    response = visit(client, world, role, "post", url, {"access_level": AccessLevel.MAINTAINER})
    assert outcome(response) == expected
    row.refresh_from_db()
    assert (row.access_level == AccessLevel.MAINTAINER) == (expected == 302)


@pytest.mark.parametrize(("role", "expected"), matrix(CHANGE_OWNERS))
def test_removing_an_owner_needs_an_owner(client, world, owner_row, role, expected):
    row, url = owner_row
    assert outcome(visit(client, world, role, "post", f"{url}/remove")) == expected
    assert Membership.objects.filter(pk=row.pk).exists() == (expected != 302)


def test_a_maintainer_is_told_why_an_owners_row_is_out_of_reach(client, world, owner_row):
    row, url = owner_row
    client.force_login(world["users"]["maintainer"])
    response = client.post(f"{url}/remove")
    assert response.status_code == 403
    assert "Only Owners can remove an Owner." in response.content.decode()
    assert Membership.objects.filter(pk=row.pk).exists()


@pytest.mark.parametrize(("role", "expected"), matrix(SIGNED_IN))
@pytest.mark.parametrize("url", ["/groups/new", "/projects/new"])
def test_new_group_and_new_project_pages_are_open_to_signed_in_users(
    client, world, role, expected, url
):
    assert outcome(visit(client, world, role, "get", url)) == expected


MAINTAINED = ["tanuki", "tanuki/backend"]


@pytest.mark.parametrize(
    ("role", "expected"), matrix([SIGN_IN, [], [], [], [], MAINTAINED, MAINTAINED, MAINTAINED])
)
def test_new_project_page_offers_only_groups_one_maintains(client, world, role, expected):
    response = visit(client, world, role, "get", "/projects/new")
    if expected == SIGN_IN:
        assert outcome(response) == SIGN_IN
        return
    offered = response.context["form"].fields["group"].queryset
    assert sorted(group.full_path for group in offered) == expected


@pytest.mark.parametrize(("role", "expected"), matrix(CHANGE_MEMBERS))
def test_creating_a_subgroup_needs_maintainer_of_the_parent(client, world, role, expected):
    url = f"/groups/new?parent_id={world['group'].pk}"
    data = {"name": "Fresh", "path": "fresh", "visibility": Visibility.PRIVATE}
    assert outcome(visit(client, world, role, "post", url, data)) == expected
    created = Group.objects.filter(full_path="tanuki/backend/fresh").exists()
    assert created == (expected == 302)


@pytest.mark.parametrize("visibility", [Visibility.INTERNAL, Visibility.PUBLIC])
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    "url",
    [
        "/groups/tanuki/backend",
        "/groups/tanuki/backend/-/group_members",
        "/tanuki/backend/api",
        "/tanuki/backend/api/-/project_members",
    ],
)
def test_internal_and_public_pages_are_seen_without_a_membership(
    client, world, visibility, role, url
):
    open_up(world, visibility)
    expected = dict(matrix(SEE_OPEN[visibility]))[role]
    assert outcome(visit(client, world, role, "get", url)) == expected


@pytest.mark.parametrize("visibility", [Visibility.INTERNAL, Visibility.PUBLIC])
@pytest.mark.parametrize(("role", "expected"), matrix(CHANGE_OPEN_MEMBERS))
@pytest.mark.parametrize(
    "members", ["/groups/tanuki/backend/-/group_members", "/tanuki/backend/api/-/project_members"]
)
def test_seeing_an_open_group_or_project_does_not_let_one_add_members(
    client, world, visibility, role, expected, members
):
    open_up(world, visibility)
    data = {"username": "newcomer", "access_level": AccessLevel.GUEST}
    assert outcome(visit(client, world, role, "post", members, data)) == expected
    added = Membership.objects.filter(user__username="newcomer").exists()
    assert added == (expected == 302)


@pytest.mark.parametrize("visibility", [Visibility.INTERNAL, Visibility.PUBLIC])
@pytest.mark.parametrize(("role", "expected"), matrix(CHANGE_OPEN_MEMBERS))
@pytest.mark.parametrize("action", ["change", "remove"])
def test_seeing_an_open_group_does_not_let_one_change_or_remove_members(
    client, world, visibility, role, expected, action
):
    open_up(world, visibility)
    target = world["target"]
    url = f"/groups/tanuki/backend/-/group_members/{target.pk}"
    if action == "remove":
        response = visit(client, world, role, "post", f"{url}/remove")
    else:
        response = visit(client, world, role, "post", url, {"access_level": AccessLevel.REPORTER})
    assert outcome(response) == expected
    target = Membership.objects.filter(pk=target.pk).first()
    unchanged = target is not None and target.access_level == AccessLevel.GUEST
    assert unchanged == (expected != 302)


@pytest.mark.parametrize("visibility", [Visibility.INTERNAL, Visibility.PUBLIC])
@pytest.mark.parametrize(("role", "expected"), matrix(CHANGE_OPEN_MEMBERS))
def test_seeing_an_open_group_does_not_let_one_create_subgroups(
    client, world, visibility, role, expected
):
    open_up(world, visibility)
    url = f"/groups/new?parent_id={world['group'].pk}"
    data = {"name": "Fresh", "path": "fresh", "visibility": Visibility.PRIVATE}
    assert outcome(visit(client, world, role, "post", url, data)) == expected
    assert Group.objects.filter(path="fresh").exists() == (expected == 302)


def test_a_non_member_adding_a_member_to_an_internal_group_is_told_why(client, world):
    open_up(world, Visibility.INTERNAL)
    client.force_login(world["users"]["non_member"])
    response = client.post(
        "/groups/tanuki/backend/-/group_members",
        {"username": "newcomer", "access_level": AccessLevel.GUEST},
    )
    assert response.status_code == 403
    assert "You need at least the Maintainer role to add members." in response.content.decode()


@pytest.mark.parametrize(
    ("role", "expected"),
    matrix([SIGN_IN, 404, 403, 403, 403, 200, 200, 200]),
)
def test_new_subgroup_page_needs_maintainer_of_the_parent(client, world, role, expected):
    url = f"/groups/new?parent_id={world['group'].pk}"
    assert outcome(visit(client, world, role, "get", url)) == expected


@pytest.mark.parametrize(
    ("role", "created"),
    matrix([False, False, False, False, False, True, True, True]),
)
def test_new_project_only_in_groups_one_maintains(client, world, role, created):
    response = visit(
        client,
        world,
        role,
        "post",
        "/projects/new",
        {
            "name": "New",
            "path": "new-project",
            "group": world["group"].pk,
            "visibility": Visibility.PRIVATE,
        },
    )
    exists = Project.objects.filter(full_path="tanuki/backend/new-project").exists()
    assert exists == created
    if role == "anonymous":
        assert outcome(response) == SIGN_IN
    elif not created:
        assert response.status_code == 200
        assert "Select a valid choice" in response.content.decode()


def test_member_rows_offer_only_what_the_user_may_do(client, world):
    client.force_login(world["users"]["maintainer"])
    response = client.get("/groups/tanuki/-/group_members")
    rows = {row["membership"].user.username: row["can_manage"] for row in response.context["rows"]}
    # Maintainers manage everyone below Owner (themselves included), never an Owner.
    assert rows == {
        "founder": False,
        "owner": False,
        "maintainer": True,
        "developer": True,
        "reporter": True,
        "guest": True,
    }
    page = response.content.decode()
    assert page.count("Change role") == 4
    assert '<option value="50"' not in page


def test_non_member_sees_404_not_403_for_hidden_things(client, world):
    client.force_login(world["users"]["non_member"])
    assert client.get("/groups/tanuki").status_code == 404
    assert client.get("/tanuki/backend/api").status_code == 404
    assert client.get("/tanuki/backend/nothing-here").status_code == 404


def test_anonymous_sign_in_redirect_does_not_reveal_existence(client, world):
    existing = client.get("/tanuki/backend/api")
    missing = client.get("/tanuki/backend/nothing-here")
    assert outcome(existing) == outcome(missing) == SIGN_IN


def test_public_project_is_open_to_anonymous_visitors(client):
    group = GroupFactory(path="open", visibility=Visibility.PUBLIC)
    ProjectFactory(group=group, path="lib", visibility=Visibility.PUBLIC)
    assert client.get("/open/lib").status_code == 200
    assert client.get("/groups/open").status_code == 200
    assert client.get("/open/lib/-/project_members").status_code == 200
    assert b"open/lib.git" in client.get("/open/lib").content


def test_group_path_without_prefix_redirects_to_the_group(client, world):
    client.force_login(world["users"]["guest"])
    response = client.get("/tanuki/backend")
    assert response.status_code == 302 and response["Location"] == "/groups/tanuki/backend"


def test_project_page_shows_the_http_clone_url(client, world):
    client.force_login(world["users"]["reporter"])
    page = client.get("/tanuki/backend/api").content.decode()
    assert 'value="http://127.0.0.1:8000/tanuki/backend/api.git"' in page  # EXTERNAL_URL


def test_form_errors_for_bad_group_input_keep_what_was_typed(client):
    client.force_login(UserFactory())
    response = client.post(
        "/groups/new", {"name": "My group", "path": "bad path", "visibility": "private"}
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "is not a valid path" in page and 'value="My group"' in page
    assert not Group.objects.filter(name="My group").exists()


def test_member_forms_show_errors_for_unknown_user_and_duplicates(client, world):
    client.force_login(world["users"]["owner"])
    url = "/groups/tanuki/backend/-/group_members"
    page = client.post(url, {"username": "ghost", "access_level": 10}).content.decode()
    assert "There is no user with the username &#x27;ghost&#x27;." in page
    page = client.post(url, {"username": "target", "access_level": 10}).content.decode()
    assert "already a member" in page


def test_maintainer_asking_for_owner_gets_a_form_error(client, world):
    client.force_login(world["users"]["maintainer"])
    response = client.post(
        "/groups/tanuki/backend/-/group_members", {"username": "newcomer", "access_level": 50}
    )
    assert "Only Owners can grant the Owner role." in response.content.decode()
    assert not Membership.objects.filter(user__username="newcomer").exists()


def test_removing_the_last_owner_shows_a_message(client, world):
    client.force_login(world["users"]["admin"])
    founder = Membership.objects.get(user__username="founder")
    Membership.objects.filter(group=world["top"], user__username="owner").delete()
    response = client.post(f"/groups/tanuki/-/group_members/{founder.pk}/remove", follow=True)
    assert "is the last Owner of tanuki" in response.content.decode()
    assert Membership.objects.filter(pk=founder.pk).exists()


def test_member_action_urls_are_post_only(client, world):
    client.force_login(world["users"]["owner"])
    target = world["target"]
    url = f"/groups/tanuki/backend/-/group_members/{target.pk}/remove"
    assert client.get(url).status_code == 405
    assert Membership.objects.filter(pk=target.pk).exists()


def test_membership_id_of_another_group_is_not_found(client, world):
    """Editing the id in the URL cannot reach a membership of some other group."""
    other = GroupFactory(owner=world["users"]["owner"])
    foreign = MembershipFactory(group=other, access_level=AccessLevel.GUEST)
    client.force_login(world["users"]["maintainer"])
    url = f"/groups/tanuki/backend/-/group_members/{foreign.pk}/remove"
    assert client.post(url).status_code == 404
    assert Membership.objects.filter(pk=foreign.pk).exists()


def test_dashboard_lists_own_groups_and_projects(client, world):
    client.force_login(world["users"]["developer"])
    page = client.get("/").content.decode()
    assert "tanuki/backend/api" in page and ">tanuki<" in page
    assert client.get("/").status_code == 200


def test_dashboard_needs_sign_in(client):
    assert outcome(client.get("/")) == SIGN_IN


def test_sign_in_and_sign_out(client):
    UserFactory(username="zed")
    response = client.post("/users/sign_in", {"username": "zed", "password": "wrong"})
    assert "Invalid username or password." in response.content.decode()
    response = client.post("/users/sign_in", {"username": "zed", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/users/sign_out").status_code == 405  # sign-out is a POST
    client.post("/users/sign_out")
    assert outcome(client.get("/")) == SIGN_IN


def test_blocked_user_cannot_sign_in(client):
    UserFactory(username="blocked", is_active=False)
    response = client.post("/users/sign_in", {"username": "blocked", "password": PASSWORD})
    assert (
        response.status_code == 200 and "Invalid username or password." in response.content.decode()
    )


def test_profile_page_is_where_edit_profile_leads(client):
    user = UserFactory()
    client.force_login(user)
    assert 'href="/-/user_settings/profile">Edit profile' in client.get("/").content.decode()
    response = client.post(
        "/-/user_settings/profile",
        {"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com"},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.get_full_name() == "Ann Lee"


@pytest.mark.parametrize("parent_id", ["abc", "-1", "1" * 30, "999999", "²", "1.0"])
def test_bad_parent_id_is_a_clear_error(client, parent_id):
    client.force_login(UserFactory())
    assert client.get(f"/groups/new?parent_id={parent_id}").status_code == 404
    response = client.post(
        f"/groups/new?parent_id={parent_id}",
        {"name": "Sub", "path": "sub", "visibility": Visibility.PRIVATE},
    )
    assert response.status_code == 404
    assert not Group.objects.filter(path="sub").exists()


def test_project_page_shows_how_to_clone_with_each_token_kind(client, world):
    client.force_login(world["users"]["maintainer"])
    page = client.get("/tanuki/backend/api").content.decode()
    assert (
        "git clone http://&lt;username&gt;:&lt;deploy_token&gt;@127.0.0.1:8000/tanuki/backend/api.git"
        in page
    )
    assert (
        "git clone http://oauth2:&lt;personal_access_token&gt;@127.0.0.1:8000/tanuki/backend/api.git"
        in page
    )
    assert "/tanuki/backend/api/-/settings/repository#deploy-tokens" in page


def test_a_subgroup_below_the_deepest_level_is_a_clear_error_on_the_page(client):
    owner = UserFactory()
    deepest = None
    for level in range(1, MAX_GROUP_DEPTH + 1):
        deepest = GroupFactory(parent=deepest, path=f"level{level}", owner=owner)
    client.force_login(owner)
    response = client.post(
        f"/groups/new?parent_id={deepest.pk}",
        {"name": "Too deep", "path": "too-deep", "visibility": Visibility.PRIVATE},
    )
    assert response.status_code == 200
    assert "Groups can be nested at most 20 levels deep" in response.content.decode()
    assert not Group.objects.filter(path="too-deep").exists()


def test_a_too_long_project_path_is_an_error_next_to_the_path_field(client, world):
    long_group = world["group"]
    for letter in "abc":
        long_group = GroupFactory(parent=long_group, path=letter * 255)
    client.force_login(world["users"]["owner"])
    response = client.post(
        "/projects/new",
        {"name": "Long", "path": "p" * 255, "group": long_group.pk, "visibility": "private"},
    )
    assert response.status_code == 200
    (message,) = response.context["form"].errors["path"]
    assert "at most 1024 are allowed. Use a path of at most 241 characters here." in message
    assert not Project.objects.filter(name="Long").exists()


def basic(username: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode()


def test_whoami_refuses_a_password_and_accepts_the_same_users_token(client):
    """Passwords are for Git over HTTP only (SPEC §6), even while the instance allows them."""
    assert InstanceSettings.current().git_password_authentication_enabled
    user = UserFactory(username="pat")
    response = client.get("/-/whoami", HTTP_AUTHORIZATION=basic("pat", PASSWORD))
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic realm=")
    _, value = make_personal_token(user, scopes=["read_api"])
    response = client.get("/-/whoami", HTTP_AUTHORIZATION=basic("pat", value))
    assert response.status_code == 200 and response.json()["username"] == "pat"


def test_whoami_refuses_deploy_tokens_while_external_authorization_is_on(client):
    token, value = make_deploy_token(ProjectFactory())
    header = basic(token.username, value)
    assert client.get("/-/whoami", HTTP_AUTHORIZATION=header).status_code == 200
    instance = InstanceSettings.current()
    instance.external_authorization_enabled = True
    instance.save()
    response = client.get("/-/whoami", HTTP_AUTHORIZATION=header)
    assert response.status_code == 403
    assert response.content.decode().strip() == EXTERNAL_AUTHORIZATION_REFUSAL
    _, personal = make_personal_token(scopes=["read_api"])
    assert client.get("/-/whoami", HTTP_AUTHORIZATION=basic("x", personal)).status_code == 200


def test_the_project_page_shows_its_id_to_copy_and_relative_times_read_well(client, world):
    from datetime import timedelta

    from django.utils import timezone

    from tokens_site.templatetags.tokens_extras import time_ago

    project = world["project"]
    client.force_login(world["users"]["admin"])
    page = client.get(f"/{project.full_path}").content.decode()
    assert f'id="project-id" class="mono inline-copy" value="{project.pk}"' in page
    assert 'data-copy-target="project-id"' in page
    now = timezone.now()
    assert time_ago(now - timedelta(seconds=5)) == "just now"
    assert time_ago(now - timedelta(hours=3, minutes=5)) == "3\xa0hours ago"


def test_every_token_date_field_starts_tomorrow(client, world):
    import re
    from datetime import timedelta

    from tokens_site.tokens import utc_today

    client.force_login(world["users"]["admin"])
    tomorrow = utc_today() + timedelta(days=1)
    for url in (
        f"/{world['project'].full_path}/-/settings/repository",
        "/-/user_settings/personal_access_tokens",
    ):
        page = client.get(url).content.decode()
        date_input = re.search(r'<input type="date" name="expires_at"[^>]*>', page).group(0)
        assert f'min="{tomorrow}"' in date_input, url


def test_the_last_owner_cannot_press_leave_and_is_told_why(client):
    owner = UserFactory()
    group = GroupFactory(path="solo", owner=owner)
    client.force_login(owner)
    page = client.get(f"/groups/{group.full_path}/-/group_members").content.decode()
    text = re.sub(r"<[^>]+>", "", page)
    assert "You are the last Owner of solo: make someone else an Owner first." in text
    assert re.search(
        r'<button type="button" class="btn small danger" disabled[^>]*>Leave</button>', page
    )
    second = UserFactory()
    MembershipFactory(user=second, group=group, access_level=AccessLevel.OWNER)
    page = client.get(f"/groups/{group.full_path}/-/group_members").content.decode()
    assert "the last Owner" not in page


def test_the_user_search_offers_people_by_the_start_of_their_username_or_name(client):
    from tests.factories import make_access_token

    UserFactory(username="alice", first_name="Alice", last_name="Liddell")
    UserFactory(username="alfred", is_active=False)
    UserFactory(username="bob", first_name="Alan")
    owner = UserFactory(username="owner")
    project = ProjectFactory(group=GroupFactory(path="t", owner=owner))
    bot_token, _ = make_access_token(project, owner)  # its bot is no one to add
    assert bot_token.user.username.startswith("project_")
    assert client.get("/-/autocomplete/users?search=al").status_code == 401
    client.force_login(owner)
    found = client.get("/-/autocomplete/users?search=@AL").json()
    assert found == [
        {"username": "alice", "name": "Alice Liddell"},
        {"username": "bob", "name": "Alan"},
    ]
    assert client.get("/-/autocomplete/users?search=project_").json() == []
    assert client.get("/-/autocomplete/users?search=").json() == []
    page = client.get(f"/{project.full_path}/-/project_members").content.decode()
    assert (
        'list="member-username-options"' in page
        and 'data-user-search="/-/autocomplete/users"' in page
    )
