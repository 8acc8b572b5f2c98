"""The visitors of the permission matrices: anonymous, a non-member, each role, an administrator."""

import pytest
from django.urls import reverse

from tests.factories import (
    AdminFactory,
    GroupFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
)
from tokens_site.models import AccessLevel

ROLES = [
    "anonymous",
    "non_member",
    "guest",
    "reporter",
    "developer",
    "maintainer",
    "owner",
    "admin",
]
LEVELS = {
    "guest": AccessLevel.GUEST,
    "reporter": AccessLevel.REPORTER,
    "developer": AccessLevel.DEVELOPER,
    "maintainer": AccessLevel.MAINTAINER,
    "owner": AccessLevel.OWNER,
}
SIGN_IN = "sign_in"


@pytest.fixture
def world(db):
    """A private group tanuki / backend with the project api in backend. The roles are
    memberships of tanuki, so on backend and api they are inherited."""
    top = GroupFactory(path="tanuki", owner=UserFactory(username="founder"))
    backend = GroupFactory(parent=top, path="backend")
    project = ProjectFactory(group=backend, path="api")
    users = {"non_member": UserFactory(username="stranger"), "admin": AdminFactory()}
    for role, level in LEVELS.items():
        users[role] = UserFactory(username=role)
        MembershipFactory(user=users[role], group=top, access_level=level)
    target = MembershipFactory(
        user=UserFactory(username="target"), group=backend, access_level=AccessLevel.GUEST
    )
    project_target = MembershipFactory(
        user=UserFactory(username="ptarget"), project=project, access_level=AccessLevel.GUEST
    )
    UserFactory(username="newcomer")
    return {
        "top": top,
        "group": backend,
        "project": project,
        "users": users,
        "target": target,
        "project_target": project_target,
    }


def visit(client, world, role, method, url, data=None):
    if role != "anonymous":
        client.force_login(world["users"][role])
    return getattr(client, method)(url, data or {})


def outcome(response) -> int | str:
    if response.status_code == 302 and reverse(SIGN_IN) in response["Location"]:
        return SIGN_IN
    return response.status_code
