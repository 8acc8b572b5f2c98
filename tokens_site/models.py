"""The site-wide domain: groups, projects, memberships, instance settings, audit events."""

import hashlib
import time
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Exists, F, OuterRef, Q
from django.db.models.functions import Lower
from django.db.models.lookups import StartsWith
from django.urls import reverse
from django.utils import timezone

from tokens_site.paths import validate_path
from tokens_site.tokens import (
    DIGEST_LENGTH,
    PERSONAL_TOKEN_PREFIX,
    token_expired,
    token_expires_soon,
    utc_today,
)


class Visibility(models.TextChoices):
    PRIVATE = "private", "Private"
    INTERNAL = "internal", "Internal"
    PUBLIC = "public", "Public"


# How open each visibility is; a child may not be more open than its parent group.
VISIBILITY_RANK = {Visibility.PRIVATE: 0, Visibility.INTERNAL: 10, Visibility.PUBLIC: 20}

VISIBILITY_HELP = {
    Visibility.PRIVATE: "Access must be granted explicitly to each user.",
    Visibility.INTERNAL: "Any signed-in user can see it.",
    Visibility.PUBLIC: "Anyone can see it, without signing in.",
}


class AccessLevel(models.IntegerChoices):
    """GitLab's role numbers."""

    GUEST = 10, "Guest"
    REPORTER = 20, "Reporter"
    DEVELOPER = 30, "Developer"
    MAINTAINER = 40, "Maintainer"
    OWNER = 50, "Owner"


NO_ACCESS = 0

# GitLab's limit on subgroup nesting: a top-level group is level 1.
MAX_GROUP_DEPTH = 20
# The longest full path of a group or project (the column's size).
FULL_PATH_MAX_LENGTH = 1024


def visible_visibilities(user) -> list[str]:
    """The visibilities open to this user without any membership."""
    if user.is_authenticated:
        return [Visibility.PUBLIC, Visibility.INTERNAL]
    return [Visibility.PUBLIC]


class PathQuerySet(models.QuerySet):
    def by_full_path(self, full_path: str) -> "PathQuerySet":
        """Records at `full_path`, ignoring case as the unique index on LOWER(full_path) does
        (and served by that index; `__iexact` compiles to UPPER() on PostgreSQL, which it
        cannot serve)."""
        return self.alias(lower_full_path=Lower("full_path")).filter(
            lower_full_path=full_path.lower()
        )


class GroupQuerySet(PathQuerySet):
    def visible_to(self, user) -> "GroupQuerySet":
        """Groups the user may see: open ones, ones they (or an ancestor) belong to, and the
        ancestors of anything they belong to, so they can navigate down to it."""
        if user.is_authenticated and not user.is_active:
            return self.none()
        if user.is_authenticated and user.is_superuser:
            return self
        condition = Q(visibility__in=visible_visibilities(user))
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
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_superuser:
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


class Group(models.Model):
    name = models.CharField(max_length=255)
    path = models.CharField(max_length=255, validators=[validate_path])
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="subgroups"
    )
    full_path = models.CharField(max_length=FULL_PATH_MAX_LENGTH, unique=True, editable=False)
    # Ids from the top-level group down to this one, as "/1/5/9/": one prefix test answers
    # "is X an ancestor of Y" in Python and in SQL, at any depth. At MAX_GROUP_DEPTH ids of
    # at most 19 digits it stays under 410 characters.
    traversal = models.CharField(max_length=1024, editable=False, db_index=True)
    visibility = models.CharField(
        max_length=16, choices=Visibility.choices, default=Visibility.PRIVATE
    )
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = GroupQuerySet.as_manager()

    class Meta:
        ordering = ["full_path"]
        constraints = [
            models.UniqueConstraint(Lower("full_path"), name="group_full_path_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.full_path

    def get_absolute_url(self) -> str:
        return reverse("group", kwargs={"full_path": self.full_path})

    @property
    def ancestor_ids(self) -> list[int]:
        """This group's id and its ancestors', top-level first."""
        return [int(part) for part in self.traversal.strip("/").split("/")]

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
        if user.is_authenticated and not user.is_active:
            return self.none()
        if user.is_authenticated and user.is_superuser:
            return self
        condition = Q(visibility__in=visible_visibilities(user))
        if user.is_authenticated:
            condition |= Q(pk__in=Membership.objects.filter(user=user).values("project_id"))
            condition |= Exists(
                Membership.objects.filter(user=user).filter(
                    StartsWith(OuterRef("group__traversal"), F("group__traversal"))
                )
            )
        return self.filter(condition)

    def member_of(self, user) -> "ProjectQuerySet":
        """Projects the user belongs to, directly or through a group (the dashboard's list)."""
        return self.with_level(user, AccessLevel.GUEST, administrators_everywhere=False)

    def with_level(
        self, user, level: int, *, administrators_everywhere: bool = True
    ) -> "ProjectQuerySet":
        """Projects where the user's effective level, direct or inherited from a group, is
        at least `level` (administrators: every project, unless told otherwise)."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_superuser and administrators_everywhere:
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


class Project(models.Model):
    name = models.CharField(max_length=255)
    path = models.CharField(max_length=255, validators=[validate_path])
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="projects")
    full_path = models.CharField(max_length=FULL_PATH_MAX_LENGTH, unique=True, editable=False)
    visibility = models.CharField(
        max_length=16, choices=Visibility.choices, default=Visibility.PRIVATE
    )
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    objects = ProjectQuerySet.as_manager()

    class Meta:
        ordering = ["full_path"]
        constraints = [
            models.UniqueConstraint(Lower("full_path"), name="project_full_path_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.full_path

    def get_absolute_url(self) -> str:
        return reverse("project", kwargs={"full_path": self.full_path})

    @property
    def repository_path(self) -> Path:
        return Path(settings.REPOSITORIES_ROOT) / repository_relative_path(self.pk)


class MembershipQuerySet(models.QuerySet):
    def inherited_by(self, source: "Group | Project") -> "MembershipQuerySet":
        """Memberships `source` inherits: those of the groups above a group, or of a
        project's group and the groups above it."""
        group_ids = (
            source.ancestor_ids[:-1] if isinstance(source, Group) else source.group.ancestor_ids
        )
        return self.filter(group_id__in=group_ids)

    def direct_on(self, source: "Group | Project") -> "MembershipQuerySet":
        return self.filter(**{"group" if isinstance(source, Group) else "project": source})

    def effective_on(self, source: "Group | Project") -> list["Membership"]:
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
        Group, null=True, blank=True, on_delete=models.CASCADE, related_name="memberships"
    )
    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.CASCADE, related_name="memberships"
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
        return f"{self.user} — {self.get_access_level_display()} of {self.source}"

    @property
    def source(self) -> Group | Project:
        return self.group or self.project


# GitLab's range for the instance's maximum personal access token lifetime.
MAX_TOKEN_LIFETIME_LIMIT_DAYS = 365
LIFETIME_RANGE_MESSAGE = (
    f"Enter a number of days from 1 to {MAX_TOKEN_LIFETIME_LIMIT_DAYS}, "
    f"or leave it empty for no limit."
)


class InstanceSettings(models.Model):
    """The instance's one row of settings, edited in the Django admin."""

    SINGLETON_ID = 1
    CACHE_KEY = "instance-settings:v1"
    # This process's copy and when it was read (time.monotonic()), for the request path.
    _memo: tuple["InstanceSettings", float] | None = None

    external_authorization_enabled = models.BooleanField(
        "external authorization",
        default=False,
        help_text="When on, deploy tokens are refused for Git, packages and the registry.",
    )
    git_password_authentication_enabled = models.BooleanField(
        "password authentication for Git over HTTP",
        default=True,
        help_text="When off, Git over HTTP accepts only tokens, never account passwords.",
    )
    personal_access_token_max_lifetime_days = models.PositiveIntegerField(
        "maximum personal access token lifetime (days)",
        null=True,
        blank=True,
        validators=[
            MinValueValidator(1, LIFETIME_RANGE_MESSAGE),
            MaxValueValidator(MAX_TOKEN_LIFETIME_LIMIT_DAYS, LIFETIME_RANGE_MESSAGE),
        ],
        help_text=f"Empty: no limit. When set (1 to {MAX_TOKEN_LIFETIME_LIMIT_DAYS}), every "
        f"new token needs an expiry date no later than today plus this many days.",
    )
    personal_access_token_prefix = models.CharField(
        max_length=20,
        default=PERSONAL_TOKEN_PREFIX,
        validators=[
            RegexValidator(
                r"\A[A-Za-z0-9_-]*-\Z",
                "Use letters, digits, '_' and '-', ending in '-' (e.g. 'mycompany-glpat-').",
            )
        ],
        help_text="Prefix of new personal access tokens; tokens made with an earlier "
        "prefix keep working.",
    )
    failed_auth_ban_enabled = models.BooleanField(
        "ban IPs after failed authentication", default=True
    )
    failed_auth_ban_limit = models.PositiveIntegerField(
        "failed attempts before a ban",
        default=30,
        validators=[
            MinValueValidator(1, "Enter at least 1. To never ban an address, turn the ban off.")
        ],
    )
    failed_auth_ban_period_seconds = models.PositiveIntegerField(
        "within this many seconds",
        default=180,
        validators=[MinValueValidator(1, "Enter at least 1 second.")],
    )
    failed_auth_ban_duration_seconds = models.PositiveIntegerField(
        "ban duration (seconds)",
        default=3600,
        validators=[
            MinValueValidator(
                1, "Enter at least 1 second. To never ban an address, turn the ban off."
            )
        ],
    )
    package_file_max_size_mb = models.PositiveIntegerField(
        "largest package file (MiB)",
        default=1024,
        help_text="Uploads to the package registry larger than this are refused.",
    )

    class Meta:
        verbose_name = "instance settings"
        verbose_name_plural = "instance settings"
        # The validators above, kept by the database too: a lifetime beyond the range would
        # overflow date arithmetic, a 0 limit would ban on the first failure, a 0 duration
        # would never ban.
        constraints = [
            models.CheckConstraint(
                condition=Q(personal_access_token_max_lifetime_days__isnull=True)
                | Q(
                    personal_access_token_max_lifetime_days__gte=1,
                    personal_access_token_max_lifetime_days__lte=MAX_TOKEN_LIFETIME_LIMIT_DAYS,
                ),
                name="instancesettings_token_lifetime_in_range",
                violation_error_message=LIFETIME_RANGE_MESSAGE,
            ),
            models.CheckConstraint(
                condition=Q(failed_auth_ban_limit__gte=1),
                name="instancesettings_ban_limit_positive",
            ),
            models.CheckConstraint(
                condition=Q(failed_auth_ban_period_seconds__gte=1),
                name="instancesettings_ban_period_positive",
            ),
            models.CheckConstraint(
                condition=Q(failed_auth_ban_duration_seconds__gte=1),
                name="instancesettings_ban_duration_positive",
            ),
        ]

    def __str__(self) -> str:
        return "Instance settings"

    def save(self, *args, **kwargs) -> None:
        self.pk = self.SINGLETON_ID
        super().save(*args, **kwargs)
        cache.delete(self.CACHE_KEY)
        InstanceSettings.forget()

    @classmethod
    def current(cls) -> "InstanceSettings":
        """The settings row: this process's copy if younger than
        INSTANCE_SETTINGS_CACHE_SECONDS, else the shared cache's, else the database's. A change
        reaches every server process within that many seconds, and most requests pay nothing."""
        now = time.monotonic()
        if cls._memo is not None and now - cls._memo[1] < settings.INSTANCE_SETTINGS_CACHE_SECONDS:
            return cls._memo[0]
        found = cache.get(cls.CACHE_KEY)
        if found is None:
            found, _ = cls.objects.get_or_create(pk=cls.SINGLETON_ID)
            cache.set(cls.CACHE_KEY, found, timeout=None)
        cls._memo = (found, now)
        return found

    @classmethod
    def forget(cls) -> None:
        """Drop this process's copy (the next current() reads the shared one)."""
        cls._memo = None


class AuditAction(models.TextChoices):
    DEPLOY_TOKEN_CREATE = "deploy_token.create", "Deploy token created"
    DEPLOY_TOKEN_REVOKE = "deploy_token.revoke", "Deploy token revoked"
    PERSONAL_TOKEN_CREATE = "personal_token.create", "Personal access token created"
    PERSONAL_TOKEN_REVOKE = "personal_token.revoke", "Personal access token revoked"
    PERSONAL_TOKEN_ROTATE = "personal_token.rotate", "Personal access token rotated"
    MEMBER_ADD = "member.add", "Member added"
    MEMBER_CHANGE = "member.change", "Member access level changed"
    MEMBER_REMOVE = "member.remove", "Member removed"
    GROUP_CREATE = "group.create", "Group created"
    PROJECT_CREATE = "project.create", "Project created"
    IP_BAN = "ip.ban", "IP address banned"


class AuditEvent(models.Model):
    """Who did what to which token, membership or address, from where, when. Append-only."""

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # Kept as text too, so the record survives the actor's deletion.
    actor_username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=40, choices=AuditAction.choices, db_index=True)
    target_type = models.CharField(max_length=40)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=1024)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        who = self.actor_username or "system"
        return f"{self.created_at:%Y-%m-%d %H:%M} {who}: {self.get_action_display()}"


class TokenQuerySet(models.QuerySet):
    def active(self, today=None):
        """Neither revoked nor expired (expired from 00:00 UTC on the expiry date)."""
        today = today or utc_today()
        return self.filter(Q(expires_at__isnull=True) | Q(expires_at__gt=today), revoked=False)


class TokenRecord(models.Model):
    """What every token kind stores: a name, the digest of its value (never the value), an
    optional expiry date, whether it was revoked, and when it was made."""

    name = models.CharField(max_length=255)
    token_digest = models.CharField(max_length=DIGEST_LENGTH, unique=True, editable=False)
    expires_at = models.DateField(null=True, blank=True, db_index=True)
    revoked = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]

    @property
    def is_expired(self) -> bool:
        return token_expired(self.expires_at)

    @property
    def expires_soon(self) -> bool:
        return token_expires_soon(self.expires_at)

    @property
    def is_active(self) -> bool:
        return not self.revoked and not self.is_expired


# The package registry's models live with its code; importing them here registers them.
from tokens_site.packages.models import Package, PackageFile  # noqa: E402, F401
