"""The admin's token inventory lists access tokens beside personal ones, with what each
belongs to."""

from datetime import timedelta

import pytest

from tests.factories import (
    GroupFactory,
    ProjectFactory,
    UserFactory,
    make_access_token,
    make_personal_token,
)
from tokens_site.tokens import utc_today

pytestmark = pytest.mark.django_db
LIST = "/admin/personal_tokens/personalaccesstoken/"


@pytest.fixture
def tokens():
    owner = UserFactory(username="olga")
    group = GroupFactory(path="tanuki", owner=owner)
    project = ProjectFactory(path="api", group=group)
    expires = utc_today() + timedelta(days=30)
    for source, name in [(project, "project-ci"), (group, "group-ci")]:
        make_access_token(source, owner, name=name, scopes=["read_api"], expires_at=expires)
    make_personal_token(owner, scopes=["read_api"], name="laptop")


def names(response) -> list[str]:
    return sorted(row.name for row in response.context["cl"].result_list)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["group-ci", "laptop", "project-ci"]),
        ("?kind=personal", ["laptop"]),
        ("?kind=project", ["project-ci"]),
        ("?kind=group", ["group-ci"]),
    ],
)
def test_kind_filter(admin_client, tokens, query, expected):
    assert names(admin_client.get(LIST + query)) == expected


def test_what_each_belongs_to_is_shown(admin_client, tokens):
    page = admin_client.get(LIST).content.decode()
    assert "project tanuki/api" in page and "group tanuki" in page and "(personal)" in page
