"""Memberships: a user's role on one group or one project. A group's memberships are inherited
by every subgroup and project below it (see `inherited_by`)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from tokens_site.access.roles import AccessLevel


def _direct_field(source) -> str:
    """The membership column that names `source`: "group" or "project"."""
    return source._meta.model_name


class MembershipQuerySet(models.QuerySet):
    def inherited_by(self, source) -> "MembershipQuerySet":
        """Memberships `source` (a group or project) inherits: those of the groups above a
        group, or of a project's group and the groups above it."""
        return self.filter(group_id__in=source.inherited_group_ids)

    def direct_on(self, source) -> "MembershipQuerySet":
        return self.filter(**{_direct_field(source): source})

    def effective_on(self, source) -> list["Membership"]:
        """One membership per user, direct or inherited: the one with the highest role (a
        user's effective level on `source`), ordered by username."""
        best: dict[int, Membership] = {}
        for membership in (self.inherited_by(source) | self.direct_on(source)).select_related(
            "user"
        ):
            current = best.get(membership.user_id)
            if current is None or membership.access_level > current.access_level:
                best[membership.user_id] = membership
        return sorted(best.values(), key=lambda membership: membership.user.username)


class Membership(models.Model):
    """A user's access level on exactly one group or one project."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    group = models.ForeignKey(
        "tokens_site.Group",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="memberships",
    )
    project = models.ForeignKey(
        "tokens_site.Project",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="memberships",
    )
    access_level = models.PositiveSmallIntegerField(choices=AccessLevel.choices)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = MembershipQuerySet.as_manager()

    class Meta:
        ordering = ["-access_level", "user__username"]
        constraints = [
            models.CheckConstraint(
                condition=Q(group__isnull=False, project__isnull=True)
                | Q(group__isnull=True, project__isnull=False),
                name="membership_group_xor_project",
            ),
            models.UniqueConstraint(
                fields=["user", "group"],
                condition=Q(group__isnull=False),
                name="membership_unique_user_group",
            ),
            models.UniqueConstraint(
                fields=["user", "project"],
                condition=Q(project__isnull=False),
                name="membership_unique_user_project",
            ),
        ]

    def __str__(self) -> str:
        # English, as the audit log records it (its target label), whatever the page's language.
        return f"{self.user} — {AccessLevel(self.access_level).english} of {self.source}"

    @property
    def source(self):
        """The group or project this membership is on."""
        return self.group or self.project
