"""The one place that answers "what may this user do here".

Visibility ("may they see it at all") is applied by the `visible_to` querysets in models.py;
everything a user may *do* on a group or project follows from their effective access level,
computed here: the highest of their direct membership and every membership inherited from an
ancestor group. Instance administrators act everywhere as an Owner would.
"""

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db.models import Max, Q

from tokens_site.models import (
    NO_ACCESS,
    VISIBILITY_RANK,
    AccessLevel,
    Group,
    Membership,
    Project,
    Visibility,
)


def effective_level(user, *, group_ids: list[int], project_id: int | None = None) -> int:
    """Highest access level of `user` among memberships of these groups (and project)."""
    if not user.is_authenticated or not user.is_active:
        return NO_ACCESS
    if user.is_superuser:
        return AccessLevel.OWNER
    where = Q(group_id__in=group_ids)
    if project_id is not None:
        where |= Q(project_id=project_id)
    found = Membership.objects.filter(where, user=user).aggregate(level=Max("access_level"))
    return found["level"] or NO_ACCESS


@dataclass(frozen=True)
class Access:
    """What one user may do on one group or project."""

    level: int
    visibility: str
    authenticated: bool

    @property
    def role(self) -> str:
        return AccessLevel(self.level).label if self.level else "No access"

    @property
    def is_open(self) -> bool:
        """Readable without any membership (public, or internal for a signed-in user)."""
        return self.visibility == Visibility.PUBLIC or (
            self.visibility == Visibility.INTERNAL and self.authenticated
        )

    @property
    def can_read_code(self) -> bool:
        return self.is_open or self.level >= AccessLevel.REPORTER

    @property
    def can_push(self) -> bool:
        return self.level >= AccessLevel.DEVELOPER

    @property
    def can_maintain(self) -> bool:
        """Create projects and subgroups, manage members below Owner, project settings."""
        return self.level >= AccessLevel.MAINTAINER

    @property
    def is_owner(self) -> bool:
        return self.level >= AccessLevel.OWNER

    def grantable_levels(self) -> list[AccessLevel]:
        """Levels this user may give a member: Maintainers up to Maintainer, Owners any."""
        if not self.can_maintain:
            return []
        return [level for level in AccessLevel if level < AccessLevel.OWNER or self.is_owner]

    def can_manage_member(self, member_level: int) -> bool:
        """Maintainers manage members below Owner; only Owners touch Owners."""
        return self.can_maintain and (member_level < AccessLevel.OWNER or self.is_owner)

    def require(self, allowed: bool, reason: str) -> None:
        if not allowed:
            raise PermissionDenied(reason)


def group_access(user, group: Group) -> Access:
    return Access(
        level=effective_level(user, group_ids=group.ancestor_ids),
        visibility=group.visibility,
        authenticated=user.is_authenticated,
    )


def project_access(user, project: Project) -> Access:
    return Access(
        level=effective_level(user, group_ids=project.group.ancestor_ids, project_id=project.pk),
        visibility=project.visibility,
        authenticated=user.is_authenticated,
    )


def visibility_choices_within(parent: Group | None) -> list[tuple[str, str]]:
    """Visibilities allowed under `parent`: never more open than the parent group."""
    limit = (
        VISIBILITY_RANK[Visibility.PUBLIC] if parent is None else VISIBILITY_RANK[parent.visibility]
    )
    return [
        (value, label) for value, label in Visibility.choices if VISIBILITY_RANK[value] <= limit
    ]
