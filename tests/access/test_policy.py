"""Effective access levels and what each user may see."""

import pytest

from tests.factories import (
    AdminFactory,
    GroupFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
)
from tokens_site.access.abilities import Ability
from tokens_site.access.policy import group_access, project_access
from tokens_site.models import AccessLevel, Group, Membership, Project, Visibility

pytestmark = pytest.mark.django_db


@pytest.fixture
def tree():
    """top / middle / bottom, with a project in bottom and one in top."""
    top = GroupFactory(path="top")
    middle = GroupFactory(parent=top, path="middle")
    bottom = GroupFactory(parent=middle, path="bottom")
    return {
        "top": top,
        "middle": middle,
        "bottom": bottom,
        "deep_project": ProjectFactory(group=bottom, path="deep"),
        "top_project": ProjectFactory(group=top, path="shallow"),
    }


def test_membership_is_inherited_through_three_levels_of_groups(tree):
    user = UserFactory()
    MembershipFactory(user=user, group=tree["top"], access_level=AccessLevel.REPORTER)
    assert group_access(user, tree["bottom"]).level == AccessLevel.REPORTER
    assert project_access(user, tree["deep_project"]).level == AccessLevel.REPORTER


def test_effective_level_is_the_highest_of_direct_and_inherited(tree):
    user = UserFactory()
    MembershipFactory(user=user, group=tree["top"], access_level=AccessLevel.REPORTER)
    MembershipFactory(user=user, group=tree["middle"], access_level=AccessLevel.MAINTAINER)
    MembershipFactory(user=user, project=tree["deep_project"], access_level=AccessLevel.DEVELOPER)
    assert project_access(user, tree["deep_project"]).level == AccessLevel.MAINTAINER
    assert group_access(user, tree["top"]).level == AccessLevel.REPORTER
    assert project_access(user, tree["top_project"]).level == AccessLevel.REPORTER


def test_membership_of_a_subgroup_never_reaches_up(tree):
    user = UserFactory()
    MembershipFactory(user=user, group=tree["bottom"], access_level=AccessLevel.OWNER)
    assert group_access(user, tree["middle"]).level == 0
    assert project_access(user, tree["top_project"]).level == 0
    assert project_access(user, tree["deep_project"]).can(Ability.OWN)


def test_similar_ids_do_not_match_as_ancestors():
    """Group 7001 is no ancestor of group 70011, although one id is a prefix of the other."""
    a = Group.objects.create(pk=7001, name="a", path="a", full_path="a", traversal="/7001/")
    b = Group.objects.create(pk=70011, name="b", path="b", full_path="b", traversal="/70011/")
    user = UserFactory()
    MembershipFactory(user=user, group=a, access_level=AccessLevel.OWNER)
    assert not a.is_ancestor_of(b)
    assert group_access(user, b).level == 0
    assert list(Group.objects.visible_to(user)) == [a]
    assert list(Group.objects.maintained_by(user)) == [a]


def test_administrator_acts_as_owner_everywhere(tree):
    admin = AdminFactory()
    assert project_access(admin, tree["deep_project"]).can(Ability.OWN)
    assert set(Project.objects.visible_to(admin)) == {tree["deep_project"], tree["top_project"]}


def test_blocked_user_has_no_access_and_sees_nothing(tree):
    user = UserFactory(is_active=False)
    MembershipFactory(user=user, group=tree["top"], access_level=AccessLevel.OWNER)
    assert project_access(user, tree["deep_project"]).level == 0
    assert not Project.objects.visible_to(user).exists()
    assert not Group.objects.visible_to(user).exists()


def test_private_projects_are_visible_to_members_only(tree):
    from django.contrib.auth.models import AnonymousUser

    member, stranger = UserFactory(), UserFactory()
    MembershipFactory(user=member, group=tree["middle"], access_level=AccessLevel.GUEST)
    assert list(Project.objects.visible_to(member)) == [tree["deep_project"]]
    assert not Project.objects.visible_to(stranger).exists()
    assert not Project.objects.visible_to(AnonymousUser()).exists()


def test_ancestors_of_what_a_user_belongs_to_are_visible_for_navigation(tree):
    member = UserFactory()
    MembershipFactory(user=member, project=tree["deep_project"], access_level=AccessLevel.GUEST)
    visible = set(Group.objects.visible_to(member))
    assert visible == {tree["top"], tree["middle"], tree["bottom"]}
    # ...but not the other projects in them.
    assert list(Project.objects.visible_to(member)) == [tree["deep_project"]]


def test_internal_is_visible_to_signed_in_users_and_public_to_everyone():
    from django.contrib.auth.models import AnonymousUser

    group = GroupFactory(visibility=Visibility.PUBLIC)
    internal = ProjectFactory(group=group, visibility=Visibility.INTERNAL)
    public = ProjectFactory(group=group, visibility=Visibility.PUBLIC)
    ProjectFactory(group=group, visibility=Visibility.PRIVATE)
    assert set(Project.objects.visible_to(UserFactory())) == {internal, public}
    assert set(Project.objects.visible_to(AnonymousUser())) == {public}
    stranger_access = project_access(UserFactory(), internal)
    assert stranger_access.can(Ability.READ_REPOSITORY) and not stranger_access.can(
        Ability.WRITE_REPOSITORY
    )


def test_code_needs_reporter_on_a_private_project(tree):
    guest, reporter = UserFactory(), UserFactory()
    MembershipFactory(user=guest, group=tree["top"], access_level=AccessLevel.GUEST)
    MembershipFactory(user=reporter, group=tree["top"], access_level=AccessLevel.REPORTER)
    assert not project_access(guest, tree["deep_project"]).can(Ability.READ_REPOSITORY)
    assert project_access(reporter, tree["deep_project"]).can(Ability.READ_REPOSITORY)
    assert not project_access(reporter, tree["deep_project"]).can(Ability.WRITE_REPOSITORY)


def test_maintained_by_lists_groups_where_projects_may_be_created(tree):
    user = UserFactory()
    MembershipFactory(user=user, group=tree["middle"], access_level=AccessLevel.MAINTAINER)
    MembershipFactory(user=user, group=tree["top"], access_level=AccessLevel.DEVELOPER)
    assert set(Group.objects.maintained_by(user)) == {tree["middle"], tree["bottom"]}


def test_grantable_levels_stop_below_owner_for_maintainers(tree):
    maintainer, owner = UserFactory(), UserFactory()
    MembershipFactory(user=maintainer, group=tree["top"], access_level=AccessLevel.MAINTAINER)
    MembershipFactory(user=owner, group=tree["top"], access_level=AccessLevel.OWNER)
    assert AccessLevel.OWNER not in group_access(maintainer, tree["top"]).grantable_levels()
    assert AccessLevel.OWNER in group_access(owner, tree["top"]).grantable_levels()


def test_with_level_agrees_with_the_effective_level_everywhere(tree):
    """The querysets and project_access/group_access answer the same question the same way."""
    user = UserFactory()
    MembershipFactory(user=user, group=tree["middle"], access_level=AccessLevel.DEVELOPER)
    MembershipFactory(user=user, project=tree["top_project"], access_level=AccessLevel.OWNER)
    groups = [tree["top"], tree["middle"], tree["bottom"]]
    projects = [tree["deep_project"], tree["top_project"]]
    for level in AccessLevel:
        assert set(Group.objects.with_level(user, level)) == {
            group for group in groups if group_access(user, group).level >= level
        }
        assert set(Project.objects.with_level(user, level)) == {
            project for project in projects if project_access(user, project).level >= level
        }
    assert set(Project.objects.with_level(AdminFactory(), AccessLevel.OWNER)) == set(projects)


def test_effective_memberships_are_one_per_user_at_the_highest_role(tree):
    user, other = UserFactory(username="ann"), UserFactory(username="bob")
    MembershipFactory(user=user, group=tree["top"], access_level=AccessLevel.REPORTER)
    direct = MembershipFactory(
        user=user, project=tree["deep_project"], access_level=AccessLevel.MAINTAINER
    )
    inherited = MembershipFactory(user=other, group=tree["middle"], access_level=AccessLevel.GUEST)
    below = MembershipFactory(group=tree["bottom"], access_level=AccessLevel.OWNER)
    effective = Membership.objects.effective_on(tree["deep_project"])
    assert len({membership.user_id for membership in effective}) == len(effective)
    assert {direct, inherited, below} <= set(effective)
    assert [m.user.username for m in effective] == sorted(m.user.username for m in effective)
    for membership in effective:
        level = project_access(membership.user, tree["deep_project"]).level
        assert membership.access_level == level
    # Nothing flows upward: middle inherits top's memberships only.
    assert set(Membership.objects.inherited_by(tree["middle"])) == set(
        Membership.objects.filter(group=tree["top"])
    )
