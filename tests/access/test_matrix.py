"""One role matrix, every surface: what each visitor may do on a project and its group, written
out by hand below for a private, an internal and a public project, and checked on the pages,
the querysets, the API, Git (the probe and the two POST endpoints), the package registry and
the container registry's token service. A surface that disagrees with the table, or with
another surface, fails here.

The scene is tanuki/backend/api, the three of the same visibility. The roles are memberships
of tanuki, inherited, except `direct_developer` (a member of the project alone, who may see the
groups above it to find their way down) and `blocked` (an Owner whose account is blocked).
Users present a session on pages and a personal access token with `api` elsewhere; deploy
tokens have every deploy scope and present their username and token; project and group
access tokens are bot members (a Developer of the project, a Maintainer of tanuki) whose tokens
have every scope but the API's read-only one.
"""

import base64
import io

import jwt
import pytest
from django.contrib.auth.models import AnonymousUser

from tests.factories import (
    AdminFactory,
    GroupFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    make_access_token,
    make_deploy_token,
    make_personal_token,
)
from tokens_site.access.abilities import Ability
from tokens_site.models import AccessLevel, Group, Membership, Project, Visibility
from tokens_site.packages import services as packages
from tokens_site.packages.models import PackageFile

# On the project.
VIEW = Ability.VIEW
READ_CODE, PUSH = Ability.READ_REPOSITORY, Ability.WRITE_REPOSITORY
PULL, PUSH_IMAGE = Ability.READ_REGISTRY, Ability.WRITE_REGISTRY
DOWNLOAD, UPLOAD = Ability.READ_PACKAGES, Ability.WRITE_PACKAGES
MEMBERS, DEPLOY_TOKENS = Ability.MANAGE_MEMBERS, Ability.MANAGE_DEPLOY_TOKENS
SETTINGS, OWN = Ability.MANAGE_SETTINGS, Ability.OWN
# On its group (tanuki/backend).
GROUP_VIEW, GROUP_DEPLOY_TOKENS = "group:view", "group:manage_deploy_tokens"
GROUP_SETTINGS = "group:manage_settings"

READS = {VIEW, READ_CODE, PULL, DOWNLOAD}
REPORTER = READS | {GROUP_VIEW}
DEVELOPER = REPORTER | {PUSH, PUSH_IMAGE, UPLOAD}
MAINTAINER = DEVELOPER | {MEMBERS, DEPLOY_TOKENS, SETTINGS}
# A group's deploy tokens reach below it, and its settings rule it all: Owners. So does
# deleting a project.
OWNER = MAINTAINER | {GROUP_DEPLOY_TOKENS, GROUP_SETTINGS, OWN}
DEPLOY_TOKEN = {READ_CODE, PULL, PUSH_IMAGE, DOWNLOAD, UPLOAD}  # never pushes code, no API

# The matrix: what each visitor may do, by the visibility of the scene.
PRIVATE = {
    "anonymous": set(),
    "non_member": set(),
    "blocked": set(),
    "guest": {VIEW, GROUP_VIEW},
    "reporter": REPORTER,
    "developer": DEVELOPER,
    "direct_developer": DEVELOPER,
    "maintainer": MAINTAINER,
    "owner": OWNER,
    "admin": OWNER,
    "deploy_project": DEPLOY_TOKEN,  # the project's own token
    "deploy_group": DEPLOY_TOKEN,  # a token of tanuki, two levels up
    "deploy_other": set(),  # another project's token
    # Project and group access tokens: bot members with the token's role.
    "project_bot_developer": DEVELOPER,
    "group_bot_maintainer": MAINTAINER,  # a token of tanuki, two levels up
}
INTERNAL = {
    **PRIVATE,
    # Any signed-in user reads.
    "non_member": READS | {GROUP_VIEW},
    "guest": READS | {GROUP_VIEW},
}
PUBLIC = {
    **INTERNAL,
    # Anyone reads; another project's deploy token still reaches only its own project.
    "anonymous": READS | {GROUP_VIEW},
}
# A blocked account's session is no session (anonymous, which reads a public project) while
# its tokens are refused: on a public project its surfaces differ by design, so it is left out.
del PUBLIC["blocked"]
MATRIX = {Visibility.PRIVATE: PRIVATE, Visibility.INTERNAL: INTERNAL, Visibility.PUBLIC: PUBLIC}

USERS = {
    "non_member",
    "blocked",
    "guest",
    "reporter",
    "developer",
    "direct_developer",
    "maintainer",
    "owner",
    "admin",
}
DEPLOY_ROLES = {"deploy_project", "deploy_group", "deploy_other"}
BOT_ROLES = {"project_bot_developer", "group_bot_maintainer"}
MACHINE_ROLES = DEPLOY_ROLES | BOT_ROLES  # no session: pages and querysets are not theirs
DEPLOY_SCOPES = [
    "read_repository",
    "read_registry",
    "write_registry",
    "read_package_registry",
    "write_package_registry",
]
INHERITED = {
    "guest": AccessLevel.GUEST,
    "reporter": AccessLevel.REPORTER,
    "developer": AccessLevel.DEVELOPER,
    "maintainer": AccessLevel.MAINTAINER,
    "owner": AccessLevel.OWNER,
}


BOT_SCOPES = ["api", "read_repository", "write_repository", "read_registry", "write_registry"]


def scene(visibility: str) -> dict:
    founder = UserFactory(username="founder")
    top = GroupFactory(path="tanuki", visibility=visibility, owner=founder)
    group = GroupFactory(parent=top, path="backend", visibility=visibility)
    project = ProjectFactory(group=group, path="api", visibility=visibility)
    users = {"non_member": UserFactory(username="stranger"), "admin": AdminFactory()}
    for role, level in INHERITED.items():
        users[role] = UserFactory(username=role)
        MembershipFactory(user=users[role], group=top, access_level=level)
    users["direct_developer"] = UserFactory(username="direct")
    MembershipFactory(
        user=users["direct_developer"], project=project, access_level=AccessLevel.DEVELOPER
    )
    users["blocked"] = UserFactory(username="blocked")
    MembershipFactory(user=users["blocked"], group=top, access_level=AccessLevel.OWNER)
    packages.generic_file_add(
        project=project,
        name="tool",
        version="1.0",
        file_name="tool.txt",
        chunks=io.BytesIO(b"tool").readlines(),
    )
    return {
        "top": top,
        "top_owner": founder,
        "group": group,
        "project": project,
        "other_project": ProjectFactory(group=GroupFactory(path="elsewhere"), path="other"),
        "users": users,
        "newcomer": UserFactory(username="newcomer"),
    }


class Visitor:
    """One role's credentials in a scene."""

    def __init__(self, client, world, role: str) -> None:
        self.client, self.world, self.role = client, world, role
        self.project: Project = world["project"]
        self.group: Group = world["group"]
        self.basic = None
        self.token = None
        if role in USERS:
            user = world["users"][role]
            _, self.token = make_personal_token(user, scopes=["api"])
            self.basic = ("anyone", self.token)
            if role == "blocked":  # blocked once the token exists, as happens
                user.is_active = False
                user.save()
        elif role in DEPLOY_ROLES:
            owner = {
                "deploy_project": self.project,
                "deploy_group": world["top"],
                "deploy_other": world["other_project"],
            }[role]
            token, value = make_deploy_token(owner, scopes=DEPLOY_SCOPES)
            self.basic = (token.username, value)
        elif role in BOT_ROLES:
            source, level = {
                "project_bot_developer": (self.project, AccessLevel.DEVELOPER),
                "group_bot_maintainer": (world["top"], AccessLevel.MAINTAINER),
            }[role]
            _, self.token = make_access_token(
                source, world["top_owner"], name=role, scopes=BOT_SCOPES, access_level=level
            )
            self.basic = ("anything", self.token)

    @property
    def user(self):
        return self.world["users"].get(self.role, AnonymousUser())

    def session(self) -> None:
        if self.role in USERS:
            self.client.force_login(self.world["users"][self.role])

    def headers(self, *, api: bool = False) -> dict:
        if api and self.role in DEPLOY_ROLES:  # refused by the API, even on a public project
            return {"HTTP_DEPLOY_TOKEN": self.basic[1]}
        if api:
            return {"HTTP_PRIVATE_TOKEN": self.token} if self.token else {}
        if self.basic is None:
            return {}
        pair = ":".join(self.basic).encode()
        return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(pair).decode()}


def allowed(
    response, status: int = 200, content_type: str | None = None, *, page: bool = False
) -> bool:
    """Whether the surface served the visitor. True on its success: exactly `status`, with
    `content_type` when one is named. False on a refusal: 401, 403, 404, or, on a page only,
    a redirect to sign in. Any other answer (a 500, a 400, a 200 where 201 is due, a redirect
    elsewhere) is neither a grant nor a refusal, and fails the test."""
    request = f"{response.request['REQUEST_METHOD']} {response.request['PATH_INFO']}"
    code = response.status_code
    if code in (401, 403, 404):
        return False
    if page and code == 302 and response["Location"].startswith("/users/sign_in?next="):
        return False
    assert code == status, f"{request} answered {code}: neither {status} nor a refusal"
    if content_type is not None:
        assert response["Content-Type"].split(";")[0] == content_type, (
            f"{request} answered {code} with {response['Content-Type']}, not {content_type}"
        )
    return True


# --- How each surface asks ----------------------------------------------------------------------


def page(path: str):
    def ask(visitor: Visitor) -> bool:
        visitor.session()
        where = path.format(project=visitor.project.full_path, group=visitor.group.full_path)
        return allowed(visitor.client.get(where), 200, "text/html", page=True)

    return ask


def page_add_member(visitor: Visitor) -> bool:
    """Added, the page redirects to the members' list; refused, nobody was added."""
    visitor.session()
    members = f"/{visitor.project.full_path}/-/project_members"
    response = visitor.client.post(members, {"username": "newcomer", "access_level": 10})
    permitted = allowed(response, 302, page=True)
    if permitted:
        assert response["Location"] == members, response["Location"]
    added = Membership.objects.filter(user__username="newcomer", project=visitor.project)
    assert added.exists() == permitted, (
        f"answered {response.status_code}, yet added: {not permitted}"
    )
    return permitted


def visible_project(visitor: Visitor) -> bool:
    return Project.objects.visible_to(visitor.user).filter(pk=visitor.project.pk).exists()


def visible_group(visitor: Visitor) -> bool:
    return Group.objects.visible_to(visitor.user).filter(pk=visitor.group.pk).exists()


def api(path: str):
    def ask(visitor: Visitor) -> bool:
        where = path.format(project=visitor.project.pk, group=visitor.group.pk)
        response = visitor.client.get(f"/api/v4/{where}", **visitor.headers(api=True))
        return allowed(response, 200, "application/json")

    return ask


def api_add_member(visitor: Visitor) -> bool:
    response = visitor.client.post(
        f"/api/v4/projects/{visitor.project.pk}/members",
        {"user_id": visitor.world["newcomer"].pk, "access_level": 10},
        **visitor.headers(api=True),
    )
    permitted = allowed(response, 201, "application/json")
    added = Membership.objects.filter(user__username="newcomer", project=visitor.project)
    assert added.exists() == permitted, (
        f"answered {response.status_code}, yet added: {not permitted}"
    )
    return permitted


def api_change(kind: str):
    """`PUT /<kind>/:id` with a new description: changed when answered 200, else unchanged."""

    def ask(visitor: Visitor) -> bool:
        record = visitor.project if kind == "projects" else visitor.group
        response = visitor.client.put(
            f"/api/v4/{kind}/{record.pk}",
            {"description": f"changed by {visitor.role}"},
            content_type="application/json",
            **visitor.headers(api=True),
        )
        permitted = allowed(response, 200, "application/json")
        record.refresh_from_db()
        assert (record.description == f"changed by {visitor.role}") == permitted, (
            f"answered {response.status_code}, yet changed: {not permitted}"
        )
        return permitted

    return ask


def api_delete_project(visitor: Visitor) -> bool:
    response = visitor.client.delete(
        f"/api/v4/projects/{visitor.project.pk}", **visitor.headers(api=True)
    )
    permitted = allowed(response, 202, "application/json")
    remains = Project.objects.filter(pk=visitor.project.pk).exists()
    assert remains != permitted, f"answered {response.status_code}, yet deleted: {not remains}"
    return permitted


def git_probe(service: str):
    """The advertisement of refs, which opens with the service's pkt-line."""

    def ask(visitor: Visitor) -> bool:
        url = f"/{visitor.project.full_path}.git/info/refs?service={service}"
        response = visitor.client.get(url, **visitor.headers())
        permitted = allowed(response, 200, f"application/x-{service}-advertisement")
        if permitted:
            banner = f"# service={service}\n"
            line = f"{len(banner) + 4:04x}{banner}0000".encode()
            body = b"".join(response.streaming_content) if response.streaming else response.content
            assert body.startswith(line), body[:80]
        return permitted

    return ask


def git_post(service: str):
    """The endpoint a client then talks to (a flush packet: nothing asked, nothing sent)."""

    def ask(visitor: Visitor) -> bool:
        response = visitor.client.post(
            f"/{visitor.project.full_path}.git/{service}",
            b"0000",
            content_type=f"application/x-{service}-request",
            **visitor.headers(),
        )
        return allowed(response, 200, f"application/x-{service}-result")

    return ask


def package_download(visitor: Visitor) -> bool:
    url = f"/api/v4/projects/{visitor.project.pk}/packages/generic/tool/1.0/tool.txt"
    response = visitor.client.get(url, **visitor.headers())
    permitted = allowed(response, 200)
    if permitted:
        assert b"".join(response.streaming_content) == b"tool"
    return permitted


def package_upload(visitor: Visitor) -> bool:
    url = f"/api/v4/projects/{visitor.project.pk}/packages/generic/tool/2.0/tool.txt"
    response = visitor.client.put(url, b"new", content_type="text/plain", **visitor.headers())
    permitted = allowed(response, 201, "application/json")
    stored = PackageFile.objects.filter(
        package__project=visitor.project, package__version="2.0", file_name="tool.txt"
    )
    assert stored.exists() == permitted, (
        f"answered {response.status_code}, yet stored: {not permitted}"
    )
    return permitted


def registry(action: str):
    """The token service answers 200 to any valid credential, with the actions granted (none,
    when none is); a credential it does not accept is refused, 401."""

    def ask(visitor: Visitor) -> bool:
        name = visitor.project.full_path.lower()
        response = visitor.client.get(
            f"/jwt/auth?service=container_registry&scope=repository:{name}:pull,push",
            **visitor.headers(),
        )
        if not allowed(response, 200, "application/json"):
            return False
        claims = jwt.decode(response.json()["token"], options={"verify_signature": False})
        [access] = claims["access"]
        assert (access["type"], access["name"]) == ("repository", name), access
        return action in access["actions"]

    return ask


# (surface, ability, how to ask, whom it serves: pages and querysets serve people only)
CELLS = [
    ("page", VIEW, page("/{project}"), "people"),
    ("page", DOWNLOAD, page("/{project}/-/packages"), "people"),
    ("page", PULL, page("/{project}/-/container_registry"), "people"),
    ("page", DEPLOY_TOKENS, page("/{project}/-/settings/repository"), "people"),
    ("page", MEMBERS, page_add_member, "people"),
    ("page", GROUP_VIEW, page("/groups/{group}"), "people"),
    ("page", GROUP_DEPLOY_TOKENS, page("/groups/{group}/-/settings/repository"), "people"),
    ("queryset", VIEW, visible_project, "people"),
    ("queryset", GROUP_VIEW, visible_group, "people"),
    ("api", VIEW, api("projects/{project}"), "all"),
    ("api", DEPLOY_TOKENS, api("projects/{project}/deploy_tokens"), "all"),
    ("api", MEMBERS, api_add_member, "all"),
    ("api", GROUP_VIEW, api("groups/{group}"), "all"),
    ("api", GROUP_DEPLOY_TOKENS, api("groups/{group}/deploy_tokens"), "all"),
    ("api", SETTINGS, api_change("projects"), "all"),
    ("api", GROUP_SETTINGS, api_change("groups"), "all"),
    ("api", OWN, api_delete_project, "all"),
    ("git", READ_CODE, git_probe("git-upload-pack"), "all"),
    ("git", READ_CODE, git_post("git-upload-pack"), "all"),
    ("git", PUSH, git_probe("git-receive-pack"), "all"),
    ("git", PUSH, git_post("git-receive-pack"), "all"),
    ("packages", DOWNLOAD, package_download, "all"),
    ("packages", UPLOAD, package_upload, "all"),
    ("registry", PULL, registry("pull"), "all"),
    ("registry", PUSH_IMAGE, registry("push"), "all"),
]
CASES = [
    pytest.param(
        visibility,
        role,
        surface,
        ability,
        ask,
        id=f"{visibility}-{surface}-{getattr(ability, 'value', ability)}-{ask.__qualname__}-{role}",
    )
    for visibility, may in MATRIX.items()
    for surface, ability, ask, serves in CELLS
    for role in may
    if serves == "all" or role not in MACHINE_ROLES
]


@pytest.mark.parametrize(("visibility", "role", "surface", "ability", "ask"), CASES)
def test_every_surface_follows_the_one_matrix(client, db, visibility, role, surface, ability, ask):
    may = MATRIX[visibility][role]
    permitted = ask(Visitor(client, scene(visibility), role))
    assert permitted == (ability in may), (
        f"{visibility} {surface}: {role} {'may' if permitted else 'may not'} {ability}, "
        f"the matrix says {'yes' if ability in may else 'no'}"
    )


def test_the_matrix_covers_every_role_and_every_ability_it_names():
    assert set(PRIVATE) == {"anonymous", *USERS, *MACHINE_ROLES}
    surfaces: dict[str, set[str]] = {}
    for surface, ability, _, _ in CELLS:
        surfaces.setdefault(ability, set()).add(surface)
    named = set().union(*(set().union(*may.values()) for may in MATRIX.values()))
    assert set(surfaces) == named
    # What several surfaces offer alike is asked of each.
    assert surfaces[VIEW] == surfaces[GROUP_VIEW] == {"page", "queryset", "api"}
    assert surfaces[MEMBERS] == surfaces[DEPLOY_TOKENS] == {"page", "api"}
    assert surfaces[GROUP_DEPLOY_TOKENS] == {"page", "api"}
    assert surfaces[DOWNLOAD] == {"page", "packages"}
    assert surfaces[PULL] == {"page", "registry"}


def answer(status: int, content_type: str = "application/json", location: str | None = None):
    from django.http import HttpResponse

    response = HttpResponse(status=status, content_type=content_type)
    response.request = {"REQUEST_METHOD": "PUT", "PATH_INFO": "/somewhere"}
    if location is not None:
        response["Location"] = location
    return response


@pytest.mark.parametrize(
    "response",
    [answer(500), answer(400), answer(200), answer(302, location="/elsewhere")],
    ids=["500", "400", "200", "redirect-elsewhere"],
)
def test_an_answer_neither_granted_nor_refused_fails_the_cell(response):
    """A 500 or a 400 is neither permitted nor refused: it fails the cell, as does a 200 where
    201 is due or a page's redirect anywhere but to sign in."""
    with pytest.raises(AssertionError, match="neither 201 nor a refusal"):
        allowed(response, 201, "application/json", page=True)


def test_a_success_of_the_wrong_type_fails_the_cell():
    with pytest.raises(AssertionError, match="not text/html"):
        allowed(answer(200), 200, "text/html", page=True)


def test_the_refusals_are_401_403_404_and_on_a_page_the_way_to_sign_in():
    for status in (401, 403, 404):
        assert allowed(answer(status), 200) is False
    to_sign_in = answer(302, location="/users/sign_in?next=/somewhere")
    assert allowed(to_sign_in, 200, page=True) is False
    with pytest.raises(AssertionError, match="neither 200 nor a refusal"):
        allowed(to_sign_in, 200)  # only a page sends a visitor to sign in
