"""Groups, projects and memberships as the services create and change them."""

import subprocess
import threading

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction

from tests.factories import (
    AdminFactory,
    GroupFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
)
from tokens_site import services
from tokens_site.models import (
    FULL_PATH_MAX_LENGTH,
    MAX_GROUP_DEPTH,
    AccessLevel,
    AuditAction,
    AuditEvent,
    Group,
    Membership,
    Project,
    Visibility,
)

pytestmark = pytest.mark.django_db


def test_group_creator_becomes_owner_and_full_path_joins_ancestors():
    user = UserFactory()
    top = services.group_create(actor=user, name="Tanuki", path="tanuki")
    sub = services.group_create(actor=user, name="Backend", path="backend", parent=top)
    subsub = services.group_create(actor=user, name="API", path="api", parent=sub)
    assert subsub.full_path == "tanuki/backend/api"
    assert subsub.ancestor_ids == [top.pk, sub.pk, subsub.pk]
    assert Membership.objects.get(user=user, group=top).access_level == AccessLevel.OWNER
    # Already Owner through the top group: no second membership below it.
    assert not Membership.objects.filter(group__in=[sub, subsub]).exists()
    assert AuditEvent.objects.filter(action=AuditAction.GROUP_CREATE).count() == 3


def test_maintainer_creating_a_subgroup_becomes_its_owner():
    top = GroupFactory()
    maintainer = UserFactory()
    MembershipFactory(user=maintainer, group=top, access_level=AccessLevel.MAINTAINER)
    sub = services.group_create(actor=maintainer, name="Sub", path="sub", parent=top)
    assert Membership.objects.get(user=maintainer, group=sub).access_level == AccessLevel.OWNER


def test_developer_may_not_create_subgroups_or_projects():
    top = GroupFactory()
    developer = UserFactory()
    MembershipFactory(user=developer, group=top, access_level=AccessLevel.DEVELOPER)
    with pytest.raises(PermissionDenied, match="Maintainer"):
        services.group_create(actor=developer, name="Sub", path="sub", parent=top)
    with pytest.raises(PermissionDenied, match="Maintainer"):
        services.project_create(actor=developer, group=top, name="P", path="p")
    assert Group.objects.count() == 1 and not Project.objects.exists()


def test_project_gets_a_bare_repository_on_disk(settings):
    project = ProjectFactory(path="awesome")
    path = project.repository_path
    assert path.is_dir() and path.is_relative_to(settings.REPOSITORIES_ROOT)
    assert path.name.endswith(".git") and "@hashed" in path.parts
    bare = subprocess.run(
        ["git", "--git-dir", str(path), "rev-parse", "--is-bare-repository"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert bare.stdout.strip() == "true"
    head = subprocess.run(
        ["git", "--git-dir", str(path), "symbolic-ref", "HEAD"], capture_output=True, text=True
    )
    assert head.stdout.strip() == "refs/heads/main"


def test_repository_is_removed_with_its_project(django_capture_on_commit_callbacks):
    project = ProjectFactory()
    path = project.repository_path
    with django_capture_on_commit_callbacks(execute=True):
        project.delete()
    assert not path.exists()


def test_repositories_are_removed_when_their_group_is_deleted(django_capture_on_commit_callbacks):
    top = GroupFactory()
    sub = GroupFactory(parent=top)
    paths = [ProjectFactory(group=top).repository_path, ProjectFactory(group=sub).repository_path]
    with django_capture_on_commit_callbacks(execute=True):
        top.delete()
    assert not any(path.exists() for path in paths)
    assert not Project.objects.exists()


def test_no_row_is_left_when_the_repository_cannot_be_created(settings, tmp_path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    settings.REPOSITORIES_ROOT = blocker
    group = GroupFactory()
    with pytest.raises(ValidationError, match="repository could not be created"):
        services.project_create(actor=AdminFactory(), group=group, name="P", path="p")
    assert not Project.objects.exists()


def test_no_repository_is_left_when_the_row_is_rolled_back(monkeypatch, settings):
    group = GroupFactory()

    def fail(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(services, "audit_event_record", fail)
    with pytest.raises(RuntimeError):
        services.project_create(actor=AdminFactory(), group=group, name="P", path="p")
    assert not Project.objects.exists()
    leftovers = [p for p in settings.REPOSITORIES_ROOT.rglob("*.git")]
    assert leftovers == []


def test_duplicate_path_in_one_parent_is_refused_case_insensitively():
    top = GroupFactory(path="tanuki")
    ProjectFactory(group=top, path="awesome")
    with pytest.raises(ValidationError) as raised:
        services.project_create(actor=AdminFactory(), group=top, name="Again", path="Awesome")
    assert raised.value.message_dict["path"] == [
        "The path 'Awesome' is already taken in tanuki; choose another."
    ]
    with pytest.raises(ValidationError, match="already taken"):
        services.group_create(actor=AdminFactory(), name="Sub", path="awesome", parent=top)
    with pytest.raises(ValidationError, match="already taken at the top level"):
        services.group_create(actor=UserFactory(), name="Tanuki", path="TANUKI")
    assert Project.objects.count() == 1 and Group.objects.count() == 1


def test_same_path_in_different_parents_is_fine():
    a, b = GroupFactory(), GroupFactory()
    ProjectFactory(group=a, path="app")
    ProjectFactory(group=b, path="app")
    assert Project.objects.filter(path="app").count() == 2


def test_invalid_and_reserved_paths_are_refused():
    user = UserFactory()
    with pytest.raises(ValidationError) as raised:
        services.group_create(actor=user, name="X", path="-x")
    assert "path" in raised.value.message_dict
    with pytest.raises(ValidationError, match="reserved"):
        services.group_create(actor=user, name="Groups", path="groups")
    top = GroupFactory()
    # Reserved words matter only at the top level, where our URLs live.
    assert services.group_create(actor=AdminFactory(), name="API", path="api", parent=top)


def test_child_may_not_be_more_visible_than_its_group():
    group = GroupFactory(visibility=Visibility.INTERNAL)
    with pytest.raises(ValidationError) as raised:
        services.project_create(
            actor=AdminFactory(), group=group, name="P", path="p", visibility=Visibility.PUBLIC
        )
    assert "cannot be more visible than its group" in raised.value.message_dict["visibility"][0]
    assert services.project_create(
        actor=AdminFactory(), group=group, name="P", path="p", visibility=Visibility.INTERNAL
    )


def nest(actor, paths: list[str]) -> Group:
    """A chain of groups, each a subgroup of the one before; the deepest is returned."""
    group = None
    for path in paths:
        group = services.group_create(actor=actor, name=path[:20], path=path, parent=group)
    return group


def test_groups_nest_at_most_twenty_levels_deep():
    actor = UserFactory()
    deepest = nest(actor, [f"level{n}" for n in range(1, MAX_GROUP_DEPTH + 1)])
    assert deepest.depth == MAX_GROUP_DEPTH == 20
    with pytest.raises(ValidationError) as raised:
        services.group_create(actor=actor, name="Too deep", path="too-deep", parent=deepest)
    (message,) = raised.value.message_dict["parent"]
    assert message.startswith("Groups can be nested at most 20 levels deep")
    assert not Group.objects.filter(path="too-deep").exists()
    # The deepest group still holds projects: the limit is on groups.
    assert services.project_create(actor=actor, group=deepest, name="Leaf", path="leaf")


def test_the_deepest_group_tree_fits_the_traversal_column():
    """Ids of the largest size, at the deepest level, still fit: no database error on
    PostgreSQL, which enforces the column's length."""
    largest_id = str(2**63 - 1)
    deepest_traversal = "/" + f"{largest_id}/" * MAX_GROUP_DEPTH
    assert len(deepest_traversal) <= Group._meta.get_field("traversal").max_length


def test_a_too_long_full_path_is_an_error_on_the_path_that_says_how_long_it_may_be():
    actor = AdminFactory()
    parent = nest(actor, ["a" * 255, "b" * 255, "c" * 255, "d" * 232])
    assert len(parent.full_path) == 1000
    with pytest.raises(ValidationError) as raised:
        services.project_create(actor=actor, group=parent, name="P", path="e" * 100)
    assert raised.value.message_dict == {
        "path": [
            "With this path the project's full path would be 1101 characters long; at most "
            "1024 are allowed. Use a path of at most 23 characters here."
        ]
    }
    with pytest.raises(ValidationError) as raised:
        services.group_create(actor=actor, name="G", path="f" * 24, parent=parent)
    assert "Use a path of at most 23 characters here." in raised.value.message_dict["path"][0]
    project = services.project_create(actor=actor, group=parent, name="P", path="e" * 23)
    assert len(project.full_path) == FULL_PATH_MAX_LENGTH
    assert Group.objects.count() == 4 and Project.objects.count() == 1


def test_a_group_whose_full_path_is_full_cannot_hold_anything_more():
    actor = AdminFactory()
    parent = nest(actor, ["a" * 255, "b" * 255, "c" * 255, "d" * 255])
    assert len(parent.full_path) == 1023
    for create in (
        lambda: services.group_create(actor=actor, name="G", path="e" * 255, parent=parent),
        lambda: services.project_create(actor=actor, group=parent, name="P", path="p"),
    ):
        with pytest.raises(ValidationError) as raised:
            create()
        (message,) = raised.value.message_dict["path"]
        assert "at most 1024 are allowed" in message
        assert "create the" in message and "in a group with a shorter full path" in message
    assert Group.objects.count() == 4 and not Project.objects.exists()


class TestMembers:
    @pytest.fixture
    def group(self):
        return GroupFactory(owner=UserFactory(username="olivia"))

    @pytest.fixture
    def maintainer(self, group):
        user = UserFactory(username="max")
        MembershipFactory(user=user, group=group, access_level=AccessLevel.MAINTAINER)
        return user

    def test_add_member_records_an_audit_event(self, group, maintainer):
        UserFactory(username="dev")
        membership = services.member_add(
            actor=maintainer,
            source=group,
            username="dev",
            access_level=AccessLevel.DEVELOPER,
            ip_address="192.0.2.7",
        )
        event = AuditEvent.objects.get(action=AuditAction.MEMBER_ADD)
        assert (event.actor, event.target_id, event.ip_address) == (
            maintainer,
            str(membership.pk),
            "192.0.2.7",
        )

    def test_adding_twice_and_unknown_usernames_are_form_errors(self, group, maintainer):
        UserFactory(username="dev")
        services.member_add(actor=maintainer, source=group, username="dev", access_level=10)
        with pytest.raises(ValidationError) as raised:
            services.member_add(actor=maintainer, source=group, username="dev", access_level=20)
        assert "already a member" in raised.value.message_dict["username"][0]
        with pytest.raises(ValidationError) as raised:
            services.member_add(actor=maintainer, source=group, username="nobody", access_level=20)
        assert raised.value.message_dict["username"] == [
            "There is no user with the username 'nobody'."
        ]

    def test_maintainer_may_not_grant_owner(self, group, maintainer):
        UserFactory(username="dev")
        with pytest.raises(ValidationError) as raised:
            services.member_add(actor=maintainer, source=group, username="dev", access_level=50)
        assert raised.value.message_dict["access_level"] == [
            "Only Owners can grant the Owner role."
        ]
        assert not Membership.objects.filter(user__username="dev").exists()

    def test_only_owners_change_or_remove_owners(self, group, maintainer):
        olivia = Membership.objects.get(user__username="olivia")
        with pytest.raises(PermissionDenied, match="Only Owners"):
            services.member_update(actor=maintainer, membership=olivia, access_level=10)
        with pytest.raises(PermissionDenied, match="Only Owners"):
            services.member_remove(actor=maintainer, membership=olivia)
        assert Membership.objects.get(pk=olivia.pk).access_level == AccessLevel.OWNER

    def test_the_last_owner_cannot_be_removed_or_demoted(self, group):
        olivia = Membership.objects.get(user__username="olivia")
        with pytest.raises(ValidationError, match="last Owner"):
            services.member_remove(actor=olivia.user, membership=olivia)
        with pytest.raises(ValidationError, match="last Owner"):
            services.member_update(actor=olivia.user, membership=olivia, access_level=40)
        second = UserFactory()
        services.member_add(
            actor=olivia.user, source=group, username=second.username, access_level=50
        )
        services.member_remove(actor=olivia.user, membership=olivia)
        assert not Membership.objects.filter(pk=olivia.pk).exists()

    @pytest.mark.django_db(transaction=True)
    def test_two_owners_leaving_at_once_leave_one(self):
        if connection.vendor != "postgresql":
            pytest.skip("SQLite runs one write transaction at a time")
        group = GroupFactory(owner=UserFactory())
        first = Membership.objects.get(group=group)
        second = MembershipFactory(group=group, access_level=AccessLevel.OWNER)
        outcome = []

        def second_leaves():
            try:
                services.member_remove(actor=second.user, membership=second)
                outcome.append("removed")
            except ValidationError:
                outcome.append("refused")
            finally:
                connection.close()

        with transaction.atomic():
            services.member_remove(actor=first.user, membership=first)
            other = threading.Thread(target=second_leaves)
            other.start()
            # Unlocked, the second removal would complete now, seeing the first still there.
            other.join(timeout=1)
        other.join()
        assert outcome == ["refused"]
        assert list(Membership.objects.filter(group=group)) == [second]

    def test_subgroup_owner_may_leave_when_an_owner_is_inherited(self, group):
        sub = GroupFactory(parent=group, owner=UserFactory())
        direct = Membership.objects.get(group=sub)
        services.member_remove(actor=direct.user, membership=direct)
        assert not Membership.objects.filter(group=sub).exists()

    def test_a_member_may_leave_without_the_maintainer_role(self, group):
        guest = MembershipFactory(group=group, access_level=AccessLevel.GUEST)
        services.member_remove(actor=guest.user, membership=guest)
        assert not Membership.objects.filter(pk=guest.pk).exists()

    def test_direct_role_below_the_inherited_one_is_refused(self, group):
        project = ProjectFactory(group=group)
        dev = MembershipFactory(group=group, access_level=AccessLevel.DEVELOPER).user
        owner = Membership.objects.get(user__username="olivia").user
        with pytest.raises(ValidationError) as raised:
            services.member_add(actor=owner, source=project, username=dev.username, access_level=20)
        assert "already has the Developer role" in raised.value.message_dict["access_level"][0]
        assert services.member_add(
            actor=owner, source=project, username=dev.username, access_level=40
        )

    def test_developer_may_not_manage_members(self, group):
        dev = MembershipFactory(group=group, access_level=AccessLevel.DEVELOPER).user
        UserFactory(username="x")
        with pytest.raises(PermissionDenied, match="Maintainer"):
            services.member_add(actor=dev, source=group, username="x", access_level=10)
