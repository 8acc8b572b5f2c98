"""Reach and expiry of deploy tokens."""

from datetime import UTC, date, datetime

import pytest
import time_machine

from deploy_tokens.models import DeployToken
from tests.factories import GroupFactory, ProjectFactory, make_deploy_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def tree():
    """top / a / b / c (three levels of subgroups), a project at each level, and a sibling."""
    top = GroupFactory(path="top")
    a = GroupFactory(parent=top, path="a")
    b = GroupFactory(parent=a, path="b")
    c = GroupFactory(parent=b, path="c")
    sibling = GroupFactory(parent=top, path="sibling")
    return {
        "top": top,
        "a": a,
        "b": b,
        "c": c,
        "p_top": ProjectFactory(group=top, path="p"),
        "p_a": ProjectFactory(group=a, path="p"),
        "p_b": ProjectFactory(group=b, path="p"),
        "p_c": ProjectFactory(group=c, path="p"),
        "p_sibling": ProjectFactory(group=sibling, path="p"),
        "elsewhere": ProjectFactory(path="elsewhere"),
    }


PROJECTS = ["p_top", "p_a", "p_b", "p_c", "p_sibling", "elsewhere"]


@pytest.mark.parametrize(
    ("owner", "reached"),
    [
        ("top", {"p_top", "p_a", "p_b", "p_c", "p_sibling"}),
        ("a", {"p_a", "p_b", "p_c"}),
        ("b", {"p_b", "p_c"}),
        ("c", {"p_c"}),
        ("p_b", {"p_b"}),
    ],
)
def test_reach_of_project_and_group_tokens(tree, owner, reached):
    token, _ = make_deploy_token(tree[owner])
    token = DeployToken.objects.select_related("group").get(pk=token.pk)
    assert {name for name in PROJECTS if token.reaches(tree[name])} == reached
    # The queryset used to list a project's tokens agrees with the one function.
    assert {
        name for name in PROJECTS if DeployToken.objects.reaching(tree[name]).filter(pk=token.pk)
    } == reached


def test_subgroup_token_never_reaches_the_parents_projects(tree):
    token, _ = make_deploy_token(tree["c"])
    assert not token.reaches(tree["p_b"]) and not token.reaches(tree["p_top"])


@pytest.mark.parametrize(
    ("moment", "active"),
    [
        (datetime(2030, 3, 9, 23, 59, 59, tzinfo=UTC), True),
        (datetime(2030, 3, 10, 0, 0, 0, tzinfo=UTC), False),
        (datetime(2030, 3, 10, 12, 0, 0, tzinfo=UTC), False),
    ],
)
def test_token_stops_working_at_midnight_utc_at_the_start_of_its_expiry_date(moment, active):
    with time_machine.travel(datetime(2030, 1, 1, tzinfo=UTC), tick=False):
        token, _ = make_deploy_token(ProjectFactory(), expires_at=date(2030, 3, 10))
    with time_machine.travel(moment, tick=False):
        token.refresh_from_db()
        assert token.is_active is active
        assert DeployToken.objects.active().filter(pk=token.pk).exists() is active


def test_revoked_token_is_not_active():
    token, _ = make_deploy_token(ProjectFactory())
    DeployToken.objects.filter(pk=token.pk).update(revoked=True)
    token.refresh_from_db()
    assert not token.is_active and not DeployToken.objects.active().exists()


def test_str_never_shows_the_secret_or_digest():
    token, plaintext = make_deploy_token(ProjectFactory(path="app"), name="ci")
    assert plaintext not in str(token) and token.token_digest not in str(token)
    assert str(token).startswith("deploy token 'ci' (gitlab+deploy-token-")
