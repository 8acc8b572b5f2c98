"""Groups and projects: the two things with a path, a visibility and members. They share
`PathRecord`; a group nests in a parent group, a project lives in a group and has a repository.

Their querysets are permission-aware (`visible_to`, `with_level`): the SQL form of the access
policy's rules (tokens_site.access: the same vocabulary, and the matrix and policy tests hold
them to the same answers)."""

import hashlib
from pathlib import Path

from django.conf import settings
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.functions import Lower
from django.db.models.lookups import StartsWith
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from tokens_site.access.roles import (
    AccessLevel,
    Visibility,
    is_administrator,
    is_blocked,
    open_visibilities,
)
from tokens_site.models.instance import (
    GRACE_RANGE_MESSAGE,
    TWO_FACTOR_GRACE_PERIOD_HOURS,
    TWO_FACTOR_GRACE_PERIOD_MAX_HOURS,
)
from tokens_site.models.memberships import Membership
from tokens_site.paths import validate_path

# GitLab's limit on subgroup nesting: a top-level group is level 1.
MAX_GROUP_DEPTH = 20
# The longest full path of a group or project (the column's size).
FULL_PATH_MAX_LENGTH = 1024


class PathQuerySet(models.QuerySet):
    def by_full_path(self, full_path: str) -> "PathQuerySet":
        """Records at `full_path`, ignoring case as the unique index on LOWER(full_path) does
        (and served by that index; `__iexact` compiles to UPPER() on PostgreSQL, which it
        cannot serve). The one way the site finds a group or project by its path."""
        return self.alias(lower_full_path=Lower("full_path")).filter(
            lower_full_path=full_path.lower()
        )

    def by_full_paths(self, full_paths: list[str]) -> "PathQuerySet":
        """Records at any of `full_paths` (ignoring case, through the same index)."""
        return self.alias(lower_full_path=Lower("full_path")).filter(
            lower_full_path__in=[path.lower() for path in full_paths]
        )


class PathRecord(models.Model):
    """What groups and projects share: a name, a URL slug, the full path from the top-level
    group, a visibility, a description."""

    name = models.CharField(max_length=255)
    path = models.CharField(max_length=255, validators=[validate_path])
    full_path = models.CharField(max_length=FULL_PATH_MAX_LENGTH, unique=True, editable=False)
    visibility = models.CharField(
        max_length=16, choices=Visibility.choices, default=Visibility.PRIVATE
    )
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        abstract = True
        ordering = ["full_path"]
        constraints = [
            models.UniqueConstraint(Lower("full_path"), name="%(class)s_full_path_ci_unique"),
        ]

    url_name: str  # the page of one: "group" or "project"

    def __str__(self) -> str:
        return self.full_path

    def get_absolute_url(self) -> str:
        return reverse(self.url_name, kwargs={"full_path": self.full_path})


class GroupQuerySet(PathQuerySet):
    def visible_to(self, user) -> "GroupQuerySet":
        """Groups the user may see: open ones, ones they (or an ancestor) belong to, and the
        ancestors of anything they belong to, so they can navigate down to it."""
        if is_blocked(user):
            return self.none()
        if is_administrator(user):
            return self
        condition = Q(visibility__in=open_visibilities(signed_in=user.is_authenticated))
        if user.is_authenticated:
            mine = Membership.objects.filter(user=user)
            condition |= Exists(
                mine.filter(StartsWith(OuterRef("traversal"), F("group__traversal")))
            )
            condition |= Exists(
                mine.filter(StartsWith(F("group__traversal"), OuterRef("traversal")))
            )
            condition |= Exists(
                mine.filter(StartsWith(F("project__group__traversal"), OuterRef("traversal")))
            )
        return self.filter(condition)

    def member_of(self, user) -> "GroupQuerySet":
        """Groups where the user holds a membership of their own (the dashboard's list)."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(pk__in=Membership.objects.filter(user=user).values("group_id"))

    def with_level(self, user, level: int) -> "GroupQuerySet":
        """Groups where the user's effective level, direct or inherited from an ancestor
        group, is at least `level` (administrators: every group)."""
        if not user.is_authenticated or is_blocked(user):
            return self.none()
        if is_administrator(user):
            return self
        return self.filter(
            Exists(
                Membership.objects.filter(
                    StartsWith(OuterRef("traversal"), F("group__traversal")),
                    user=user,
                    access_level__gte=level,
                )
            )
        )

    def maintained_by(self, user) -> "GroupQuerySet":
        """Groups where the user may create projects: Maintainer or above."""
        return self.with_level(user, AccessLevel.MAINTAINER)


class Group(PathRecord):
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="subgroups"
    )
    # Ids from the top-level group down to this one, as "/1/5/9/": one prefix test answers
    # "is X an ancestor of Y" in Python and in SQL, at any depth. At MAX_GROUP_DEPTH ids of
    # at most 19 digits it stays under 410 characters.
    traversal = models.CharField(max_length=1024, editable=False, db_index=True)
    require_two_factor_authentication = models.BooleanField(
        _("require two-factor authentication"),
        default=False,
        help_text=_(
            "Members of this group, of its subgroups and of their projects must set up "
            "two-factor authentication."
        ),
    )
    two_factor_grace_period = models.PositiveIntegerField(
        _("grace period (hours)"),
        default=TWO_FACTOR_GRACE_PERIOD_HOURS,
        validators=[MaxValueValidator(TWO_FACTOR_GRACE_PERIOD_MAX_HOURS, GRACE_RANGE_MESSAGE)],
        help_text=_("How long members may go on without it, reminded on every page. 0: at once."),
    )

    objects = GroupQuerySet.as_manager()

    url_name = "group"

    @property
    def ancestor_ids(self) -> list[int]:
        """This group's id and its ancestors', top-level first."""
        return [int(part) for part in self.traversal.strip("/").split("/")]

    @property
    def inherited_group_ids(self) -> list[int]:
        """The groups whose memberships this group inherits: the ones above it."""
        return self.ancestor_ids[:-1]

    @property
    def depth(self) -> int:
        """1 for a top-level group, 2 for its subgroups, and so on."""
        return len(self.ancestor_ids)

    def ancestors(self) -> "GroupQuerySet":
        """This group and its ancestors, top-level first."""
        return Group.objects.filter(pk__in=self.ancestor_ids).order_by("traversal")

    def descendants(self) -> "GroupQuerySet":
        """This group and every subgroup below it, at any depth."""
        return Group.objects.filter(traversal__startswith=self.traversal)

    def is_ancestor_of(self, other: "Group") -> bool:
        """True for the group itself and for any group above `other`."""
        return other.traversal.startswith(self.traversal)


class ProjectQuerySet(PathQuerySet):
    def visible_to(self, user) -> "ProjectQuerySet":
        """Projects the user may see: open ones and ones they belong to, directly or
        through any ancestor group."""
        if is_blocked(user):
            return self.none()
        if is_administrator(user):
            return self
        condition = Q(visibility__in=open_visibilities(signed_in=user.is_authenticated))
        if user.is_authenticated:
            condition |= Q(pk__in=Membership.objects.filter(user=user).values("project_id"))
            condition |= Exists(
                Membership.objects.filter(user=user).filter(
                    StartsWith(OuterRef("group__traversal"), F("group__traversal"))
                )
            )
        return self.filter(condition)

    def below(self, group: "Group") -> "ProjectQuerySet":
        """The projects of `group` and of every group below it."""
        return self.filter(group__traversal__startswith=group.traversal)

    def member_of(self, user) -> "ProjectQuerySet":
        """Projects the user belongs to, directly or through a group (the dashboard's list)."""
        return self.with_level(user, AccessLevel.GUEST, administrators_everywhere=False)

    def with_level(
        self, user, level: int, *, administrators_everywhere: bool = True
    ) -> "ProjectQuerySet":
        """Projects where the user's effective level, direct or inherited from a group, is
        at least `level` (administrators: every project, unless told otherwise)."""
        if not user.is_authenticated or is_blocked(user):
            return self.none()
        if administrators_everywhere and is_administrator(user):
            return self
        mine = Membership.objects.filter(user=user, access_level__gte=level)
        return self.filter(
            Q(pk__in=mine.values("project_id"))
            | Exists(mine.filter(StartsWith(OuterRef("group__traversal"), F("group__traversal"))))
        )


def repository_relative_path(project_id: int) -> str:
    """GitLab's hashed storage: the path never changes when the project is renamed."""
    digest = hashlib.sha256(str(project_id).encode()).hexdigest()
    return f"@hashed/{digest[:2]}/{digest[2:4]}/{digest}.git"


class Project(PathRecord):
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="projects")

    objects = ProjectQuerySet.as_manager()

    url_name = "project"

    @property
    def inherited_group_ids(self) -> list[int]:
        """The groups whose memberships this project inherits: its group and those above."""
        return self.group.ancestor_ids

    @property
    def repository_path(self) -> Path:
        return Path(settings.REPOSITORIES_ROOT) / repository_relative_path(self.pk)
