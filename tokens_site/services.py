"""Writes to the site-wide domain. Every function checks who may act, validates, writes in one
transaction and records the audit event; views and the API call these and nothing else."""

import copy
import logging
from typing import TypeVar

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, models, transaction
from django.db.models import CharField, Max, Value
from django.db.models.functions import Concat, Length, Substr
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.debug import sensitive_variables

from tokens_site.access.abilities import Ability
from tokens_site.access.policy import (
    Access,
    access_on,
    group_access,
    inherited_level,
    membership_level,
    project_access,
    require_administrator,
    require_person,
)
from tokens_site.access.roles import VISIBILITY_RANK, visibility_allowed_within
from tokens_site.audit import audit_event_record
from tokens_site.models import (
    FULL_PATH_MAX_LENGTH,
    MAX_GROUP_DEPTH,
    AccessLevel,
    AuditAction,
    Bot,
    Group,
    Membership,
    Project,
    Visibility,
    is_bot,
)
from tokens_site.paths import validate_top_level_path
from tokens_site.registry.listing import RegistryUnavailable, first_tagged_image_below
from tokens_site.repositories import RepositoryError, repository_create, repository_remove

logger = logging.getLogger(__name__)

# English here; translated where they are raised (the REST API answers in English).
PATH_TAKEN_RACE = gettext_noop("That path was taken a moment ago; choose another.")
USERNAME_TAKEN = gettext_noop("Username has already been taken")
# How many of the subgroups and projects in the way a refused visibility names.
SHOWN_IN_REFUSAL = 5
# What user_update may change of an account.
ACCOUNT_FIELDS = ["username", "email", "first_name", "last_name", "is_staff", "is_superuser"]

Record = TypeVar("Record", bound=models.Model)


def _namespace_taken(full_path: str, *, moving: Group | Project | None = None) -> bool:
    """Subgroups and projects of one group share one namespace (their URLs do). `moving`: the
    group or project being renamed, whose own path is no obstacle (when only the case
    changes)."""
    groups = Group.objects.by_full_path(full_path)
    projects = Project.objects.by_full_path(full_path)
    if isinstance(moving, Group):
        groups = groups.exclude(pk=moving.pk)
    elif isinstance(moving, Project):
        projects = projects.exclude(pk=moving.pk)
    return groups.exists() or projects.exists()


def _too_long(*, parent: Group, full_path: str, kind: str) -> str:
    """Why `full_path` (of a `kind`: "subgroup" or "project", in `parent`) is too long, in the
    current language."""
    room = FULL_PATH_MAX_LENGTH - len(parent.full_path) - 1
    values = {
        "length": len(full_path),
        "max": FULL_PATH_MAX_LENGTH,
        "name": parent.name,
        "parent_length": len(parent.full_path),
        "room": room,
    }
    if kind == "project":
        problem = _(
            "With this path the project's full path would be %(length)s characters long; "
            "at most %(max)s are allowed."
        )
    else:
        problem = _(
            "With this path the subgroup's full path would be %(length)s characters long; "
            "at most %(max)s are allowed."
        )
    if room >= 1:
        advice = _("Use a path of at most %(room)s characters here.")
    elif kind == "project":
        advice = _(
            "The full path of %(name)s is already %(parent_length)s characters long: create "
            "the project in a group with a shorter full path."
        )
    else:
        advice = _(
            "The full path of %(name)s is already %(parent_length)s characters long: create "
            "the subgroup in a group with a shorter full path."
        )
    return f"{problem % values} {advice % values}"


def _placement_errors(
    *,
    parent: Group | None,
    path: str | None,
    visibility: str | None,
    kind: str,
    moving: Group | Project | None = None,
) -> dict[str, list[str]]:
    """What is wrong with a `kind` ("subgroup", "project") at `path` in `parent` (None: the
    top level) with `visibility`, each checked unless None (not changing). `moving`: the
    group or project being changed; None when creating one."""
    errors: dict[str, list[str]] = {}
    if path is not None and parent is None:
        try:
            validate_top_level_path(path)
        except ValidationError as error:
            errors["path"] = error.messages
    if moving is None and kind == "subgroup" and parent and parent.depth >= MAX_GROUP_DEPTH:
        errors["parent"] = [
            _(
                "Groups can be nested at most %(max)s levels deep, and %(path)s is at level "
                "%(depth)s: create the subgroup higher up."
            )
            % {"max": MAX_GROUP_DEPTH, "path": parent.full_path, "depth": parent.depth}
        ]
    if path is not None and "path" not in errors:
        full_path = f"{parent.full_path}/{path}" if parent else path
        if parent is not None and len(full_path) > FULL_PATH_MAX_LENGTH:
            errors["path"] = [_too_long(parent=parent, full_path=full_path, kind=kind)]
        elif _namespace_taken(full_path, moving=moving):
            if parent:
                taken = _("The path '%(path)s' is already taken in %(parent)s; choose another.")
            else:
                taken = _("The path '%(path)s' is already taken at the top level; choose another.")
            errors["path"] = [taken % {"path": path, "parent": parent and parent.full_path}]
    if (
        visibility is not None
        and parent is not None
        and not visibility_allowed_within(visibility, parent.visibility)
    ):
        if kind == "project":
            too_open = _(
                "A project cannot be more visible than its group: %(path)s is %(visibility)s."
            )
        else:
            too_open = _(
                "A subgroup cannot be more visible than its group: %(path)s is %(visibility)s."
            )
        errors["visibility"] = [
            too_open
            % {"path": parent.full_path, "visibility": parent.get_visibility_display().lower()}
        ]
    return errors


def _validate_placement(*, parent: Group | None, path: str, visibility: str, kind: str) -> None:
    if errors := _placement_errors(parent=parent, path=path, visibility=visibility, kind=kind):
        raise ValidationError(errors)


def group_create(
    *,
    actor,
    name: str,
    path: str,
    parent: Group | None = None,
    visibility: str = Visibility.PRIVATE,
    description: str = "",
    ip_address: str | None = None,
) -> Group:
    """Create a group (or a subgroup of `parent`); the creator becomes its Owner unless they
    already own it through an ancestor."""
    if parent is None:  # a token's bot reaches its own project or group, not a new one
        require_person(actor, _("top-level groups"))
    else:
        group_access(actor, parent).require(
            Ability.CREATE_WITHIN,
            _("You need at least the Maintainer role in %(path)s to create subgroups.")
            % {"path": parent.full_path},
        )
    group = Group(
        name=name.strip(),
        path=path,
        parent=parent,
        visibility=visibility,
        description=description,
        full_path=f"{parent.full_path}/{path}" if parent else path,
        traversal="/",  # replaced once the id is known
    )
    # full_path's length is checked by _validate_placement, with a message on `path`.
    group.full_clean(
        exclude=["full_path", "traversal"], validate_unique=False, validate_constraints=False
    )
    _validate_placement(parent=parent, path=path, visibility=visibility, kind="subgroup")
    try:
        with transaction.atomic():
            group.save()
            parent_traversal = parent.traversal if parent else "/"
            group.traversal = f"{parent_traversal}{group.pk}/"
            group.save(update_fields=["traversal"])
            owns_already = (
                parent is not None
                and membership_level(actor, group_ids=parent.ancestor_ids) == AccessLevel.OWNER
            )
            if not owns_already:
                Membership.objects.create(user=actor, group=group, access_level=AccessLevel.OWNER)
            audit_event_record(
                action=AuditAction.GROUP_CREATE, actor=actor, target=group, ip_address=ip_address
            )
    except IntegrityError as error:
        raise ValidationError({"path": [_(PATH_TAKEN_RACE)]}) from error
    return group


def project_create(
    *,
    actor,
    group: Group,
    name: str,
    path: str,
    visibility: str = Visibility.PRIVATE,
    description: str = "",
    ip_address: str | None = None,
) -> Project:
    """Create a project and its bare repository: both exist afterwards, or neither does."""
    group_access(actor, group).require(
        Ability.CREATE_WITHIN,
        _("You need at least the Maintainer role in %(path)s to create projects.")
        % {"path": group.full_path},
    )
    project = Project(
        group=group,
        name=name.strip(),
        path=path,
        visibility=visibility,
        description=description,
        full_path=f"{group.full_path}/{path}",
    )
    project.full_clean(exclude=["full_path"], validate_unique=False, validate_constraints=False)
    _validate_placement(parent=group, path=path, visibility=visibility, kind="project")
    created_repository = None
    try:
        with transaction.atomic():
            project.save()
            repository_create(project.repository_path)
            created_repository = project.repository_path
            audit_event_record(
                action=AuditAction.PROJECT_CREATE,
                actor=actor,
                target=project,
                ip_address=ip_address,
            )
    except BaseException as error:
        if created_repository is not None:
            repository_remove(created_repository)
        if isinstance(error, IntegrityError):
            raise ValidationError({"path": [_(PATH_TAKEN_RACE)]}) from error
        if isinstance(error, RepositoryError):
            logger.error("Project %s not created: %s", project.full_path, error)
            raise ValidationError(
                _(
                    "The project's repository could not be created on disk, so the project was "
                    "not created. Try again; if it keeps failing, ask an administrator to check "
                    "the server log and REPOSITORIES_ROOT."
                )
            ) from error
        raise
    return project


# Changing and deleting groups and projects.


def _setting_changes(record: Group | Project, **given) -> dict:
    """The settings among `given` that differ from `record`'s (None: not given)."""
    if given.get("name") is not None:
        given["name"] = given["name"].strip()
    return {
        field: value
        for field, value in given.items()
        if value is not None and value != getattr(record, field)
    }


def _edited(record: Record, changes: dict) -> Record:
    """A copy of `record` with `changes`, validated and saved in its place: `record` itself
    changes only once the change is committed (see _adopt)."""
    edited = copy.copy(record)
    for field, value in changes.items():
        setattr(edited, field, value)
    return edited


def _adopt(record: Record, edited: Record, fields: list[str]) -> None:
    for field in fields:
        setattr(record, field, getattr(edited, field))


def _clean_changes(edited: Group | Project, changes: dict) -> None:
    """The model's own rules (lengths, choices, the path's characters) on the changed fields:
    what is not changing is not judged again."""
    edited.full_clean(
        exclude=[field.name for field in edited._meta.fields if field.name not in changes],
        validate_unique=False,
        validate_constraints=False,
    )


def _change_details(before: Group | Project, after: Group | Project, fields: list[str]) -> dict:
    """What the audit event says changed: from and to (of a description, only that it did)."""
    return {
        field: "changed"
        if field == "description"
        else {"from": getattr(before, field), "to": getattr(after, field)}
        for field in fields
    }


def _renamed_too_long(group: Group, path: str | None) -> str | None:
    """A longer path makes every full path below the group longer: the longest must fit.
    (`path` None: not changing.)"""
    growth = len(path) - len(group.path) if path is not None else 0
    if growth <= 0:
        return None
    longest = Max(Length("full_path"))
    below = max(
        group.descendants().aggregate(longest=longest)["longest"] or 0,
        Project.objects.below(group).aggregate(longest=longest)["longest"] or 0,
    )
    if below + growth <= FULL_PATH_MAX_LENGTH:
        return None
    return _(
        "With this path the longest full path below %(path)s would be %(length)s characters "
        "long; at most %(max)s are allowed. Use a path of at most %(room)s characters here."
    ) % {
        "path": group.full_path,
        "length": below + growth,
        "max": FULL_PATH_MAX_LENGTH,
        "room": FULL_PATH_MAX_LENGTH - below + len(group.path),
    }


def _more_visible_below(group: Group, visibility: str | None) -> str | None:
    """Nothing below a group is more visible than the group: to lower its visibility, lower
    theirs first. (`visibility` None: not changing.)"""
    if visibility is None or VISIBILITY_RANK[visibility] >= VISIBILITY_RANK[group.visibility]:
        return None
    rank = VISIBILITY_RANK[visibility]
    more_open = [other for other in Visibility if VISIBILITY_RANK[other] > rank]
    found = sorted(
        [
            *group.descendants()
            .exclude(pk=group.pk)
            .filter(visibility__in=more_open)
            .values_list("full_path", "visibility")[: SHOWN_IN_REFUSAL + 1],
            *Project.objects.below(group)
            .filter(visibility__in=more_open)
            .values_list("full_path", "visibility")[: SHOWN_IN_REFUSAL + 1],
        ]
    )
    if not found:
        return None
    named = ", ".join(
        f"{full_path} ({Visibility(other).label.lower()})"
        for full_path, other in found[:SHOWN_IN_REFUSAL]
    )
    values = {
        "path": group.full_path,
        "visibility": Visibility(visibility).label.lower(),
        "named": named,
    }
    if len(found) > SHOWN_IN_REFUSAL:
        return (
            _(
                "%(path)s cannot be %(visibility)s while subgroups or projects below it are "
                "more visible: %(named)s and more. Lower their visibility first."
            )
            % values
        )
    return (
        _(
            "%(path)s cannot be %(visibility)s while subgroups or projects below it are more "
            "visible: %(named)s. Lower their visibility first."
        )
        % values
    )


def _refuse_orphaned_images(*, full_path: str, new_full_path: str) -> None:
    """The container registry names images by full path, so a new path would leave the images
    at and below the old one behind, for whatever takes that path next. Like GitLab, refuse a
    new path while the registry holds tagged images there (a change of case only is fine:
    image names are lowercase). Without a registry configured (no REGISTRY_URL) there is
    nothing to ask and nothing is refused; when the registry cannot be reached, the path
    is refused too: images left behind cannot be taken back, a refused rename can be tried
    again."""
    if not settings.REGISTRY_URL or full_path.lower() == new_full_path.lower():
        return
    try:
        tagged = first_tagged_image_below(full_path)
    except RegistryUnavailable as error:
        raise ValidationError(
            {
                "path": [
                    _(
                        "The path was not changed: the container registry could not be reached "
                        "to check for images under %(path)s, which a new path would leave "
                        "behind. Try again later."
                    )
                    % {"path": full_path}
                ]
            }
        ) from error
    if tagged is not None:
        raise ValidationError(
            {
                "path": [
                    _(
                        "The path cannot change while the container registry holds images under "
                        "%(path)s (%(image)s has tags): they are named by the path and would be "
                        "left behind. Delete the images first."
                    )
                    % {"path": full_path, "image": tagged}
                ]
            }
        )


def _move_below(group: Group, new_full_path: str) -> None:
    """Give `group`, every group below it and every project in them the full path that starts
    with `new_full_path` instead of the group's: one UPDATE for the groups and one for the
    projects, however many there are."""
    moved = Concat(
        Value(new_full_path),
        Substr("full_path", len(group.full_path) + 1),
        output_field=CharField(),
    )
    group.descendants().update(full_path=moved)
    Project.objects.below(group).update(full_path=moved)


def _save_settings(
    actor,
    record: Record,
    edited: Record,
    fields: list[str],
    *,
    action,
    details: dict,
    race: ValidationError,
    ip_address,
    first=None,
) -> None:
    """Save `edited`'s `fields` and audit the change (`details`) in one transaction (after
    `first`, when given); `record` takes the new values once they are committed. A value
    taken by a racing request meanwhile is the unique index's to catch: `race` says so."""
    try:
        with transaction.atomic():
            if first is not None:
                first()
            edited.save(update_fields=fields)
            audit_event_record(
                action=action, actor=actor, target=edited, ip_address=ip_address, details=details
            )
    except IntegrityError as error:
        raise race from error
    _adopt(record, edited, fields)


def _path_race() -> ValidationError:
    return ValidationError({"path": [_(PATH_TAKEN_RACE)]})


def project_update(
    *,
    actor,
    project: Project,
    name: str | None = None,
    path: str | None = None,
    visibility: str | None = None,
    description: str | None = None,
    ip_address: str | None = None,
) -> Project:
    """Change the settings given (not None): Maintainers change the name, description and
    visibility (never more visible than the group), Owners the path too. The repository is
    stored by the project's id and its memberships and deploy tokens point at the project:
    all stay as they are under a new path. A new path is refused while the container registry
    holds images under the old one (see _refuse_orphaned_images)."""
    access = project_access(actor, project)
    access.require(Ability.MANAGE_SETTINGS)
    changes = _setting_changes(
        project, name=name, path=path, visibility=visibility, description=description
    )
    if "path" in changes:
        access.require(
            Ability.OWN,
            _(
                "You need the Owner role in %(path)s to change its path; Maintainers change its "
                "name, description and visibility."
            )
            % {"path": project.full_path},
        )
    if not changes:
        return project
    edited = _edited(project, changes)
    _clean_changes(edited, changes)
    errors = _placement_errors(
        parent=project.group,
        path=changes.get("path"),
        visibility=changes.get("visibility"),
        kind="project",
        moving=project,
    )
    if errors:
        raise ValidationError(errors)
    fields = list(changes)
    if "path" in changes:
        edited.full_path = f"{project.group.full_path}/{edited.path}"
        fields.append("full_path")
        _refuse_orphaned_images(full_path=project.full_path, new_full_path=edited.full_path)
    _save_settings(
        actor,
        project,
        edited,
        fields,
        action=AuditAction.PROJECT_UPDATE,
        details=_change_details(project, edited, fields),
        race=_path_race(),
        ip_address=ip_address,
    )
    return project


def group_update(
    *,
    actor,
    group: Group,
    name: str | None = None,
    path: str | None = None,
    visibility: str | None = None,
    description: str | None = None,
    require_two_factor_authentication: bool | None = None,
    two_factor_grace_period: int | None = None,
    ip_address: str | None = None,
) -> Group:
    """Change the settings given (not None); Owners only. A new path gives the group, every
    group below it and every project in them new full paths in one transaction (ids,
    traversal, repositories, memberships and deploy tokens stay as they are); it is refused
    while the container registry holds images below the group (see
    _refuse_orphaned_images). The visibility stays within the parent's, and at least as open
    as anything below."""
    group_access(actor, group).require(Ability.MANAGE_SETTINGS)
    changes = _setting_changes(
        group,
        name=name,
        path=path,
        visibility=visibility,
        description=description,
        require_two_factor_authentication=require_two_factor_authentication,
        two_factor_grace_period=two_factor_grace_period,
    )
    if not changes:
        return group
    edited = _edited(group, changes)
    _clean_changes(edited, changes)
    parent = group.parent
    errors = _placement_errors(
        parent=parent,
        path=changes.get("path"),
        visibility=changes.get("visibility"),
        kind="subgroup" if parent else "group",
        moving=group,
    )
    if "path" not in errors and (too_long := _renamed_too_long(group, changes.get("path"))):
        errors["path"] = [too_long]
    if in_the_way := _more_visible_below(group, changes.get("visibility")):
        errors.setdefault("visibility", []).append(in_the_way)
    if errors:
        raise ValidationError(errors)
    fields = list(changes)
    if "path" in changes:
        edited.full_path = f"{parent.full_path}/{edited.path}" if parent else edited.path
        fields.append("full_path")
        _refuse_orphaned_images(full_path=group.full_path, new_full_path=edited.full_path)
    _save_settings(
        actor,
        group,
        edited,
        fields,
        action=AuditAction.GROUP_UPDATE,
        details=_change_details(group, edited, fields),
        race=_path_race(),
        ip_address=ip_address,
        first=(lambda: _move_below(group, edited.full_path)) if "path" in changes else None,
    )
    return group


def project_delete(*, actor, project: Project, ip_address: str | None = None) -> None:
    """Delete a project and what it holds (memberships, deploy tokens, packages); Owners only.
    Its repository and package files leave the disk once the deletion is committed
    (tokens_site.signals)."""
    project_access(actor, project).require(
        Ability.OWN,
        _("You need the Owner role in %(path)s to delete it.") % {"path": project.full_path},
    )
    with transaction.atomic():
        audit_event_record(
            action=AuditAction.PROJECT_DELETE, actor=actor, target=project, ip_address=ip_address
        )
        project.delete()


def group_delete(*, actor, group: Group, ip_address: str | None = None) -> None:
    """Delete a group with every group and project below it (the database cascades; the
    projects' repositories and package files leave the disk once the deletion is committed,
    tokens_site.signals); Owners only."""
    group_access(actor, group).require(
        Ability.OWN,
        _("You need the Owner role in %(path)s to delete it.") % {"path": group.full_path},
    )
    with transaction.atomic():
        audit_event_record(
            action=AuditAction.GROUP_DELETE,
            actor=actor,
            target=group,
            ip_address=ip_address,
            details={
                "subgroups": group.descendants().exclude(pk=group.pk).count(),
                "projects": Project.objects.below(group).count(),
            },
        )
        group.delete()


def _validate_level(*, access: Access, user, source: Group | Project, access_level: int) -> None:
    if access_level not in AccessLevel.values:
        raise ValidationError({"access_level": [_("Choose one of the listed roles.")]})
    if access_level not in access.grantable_levels():
        raise ValidationError({"access_level": [_("Only Owners can grant the Owner role.")]})
    inherited = inherited_level(user, source)
    if access_level < inherited:
        raise ValidationError(
            {
                "access_level": [
                    _(
                        "%(username)s already has the %(role)s role through a parent group; "
                        "choose that role or a higher one."
                    )
                    % {"username": user.username, "role": AccessLevel(inherited).label}
                ]
            }
        )


def _require_manage_member(access: Access, membership: Membership, owners_only: str) -> None:
    """Maintainers manage members below Owner; only Owners manage Owners (`owners_only`: the
    refusal, translated, of a Maintainer acting on an Owner)."""
    if access.can_manage_member(membership.access_level):
        return
    if access.can(Ability.MANAGE_MEMBERS):
        raise PermissionDenied(owners_only)
    raise PermissionDenied(_("You need at least the Maintainer role to manage members."))


def _owner_ids(membership: Membership, *, lock: bool) -> set[int]:
    """The Owners of `membership`'s group, direct or inherited (locked with `lock`)."""
    owners = Membership.objects.select_for_update() if lock else Membership.objects
    return set(
        owners.filter(group_id__in=membership.group.ancestor_ids, access_level=AccessLevel.OWNER)
        # An access token is no Owner to fall back on. (A subquery: FOR UPDATE cannot lock
        # through the outer join that `user__bot` would make.)
        .exclude(user_id__in=Bot.objects.values("user_id"))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def is_last_owner(membership: Membership) -> bool:
    """Whether `membership` is its group's last Owner (who may not leave or be removed)."""
    if membership.group_id is None or membership.access_level != AccessLevel.OWNER:
        return False
    return not _owner_ids(membership, lock=False) - {membership.pk}


def _ensure_an_owner_remains(membership: Membership) -> None:
    """A group keeps at least one Owner, direct or inherited. Called in the transaction that
    removes or demotes `membership`: the Owners' rows stay locked until it ends, so two Owners
    removing each other at the same moment cannot both succeed."""
    if membership.group_id is None or membership.access_level != AccessLevel.OWNER:
        return
    if not _owner_ids(membership, lock=True) - {membership.pk}:
        raise ValidationError(
            _("%(username)s is the last Owner of %(path)s. Make someone else an Owner first.")
            % {"username": membership.user.username, "path": membership.group.full_path}
        )


def member_add(
    *,
    actor,
    source: Group | Project,
    username: str,
    access_level: int,
    ip_address: str | None = None,
) -> Membership:
    access = access_on(actor, source)
    access.require(
        Ability.MANAGE_MEMBERS, _("You need at least the Maintainer role to add members.")
    )
    user = get_user_model().objects.filter(username=username.strip()).first()
    if user is None or is_bot(user):
        raise ValidationError(
            {
                "username": [
                    _("There is no user with the username '%(username)s'.") % {"username": username}
                ]
            }
        )
    if source.memberships.filter(user=user).exists():
        raise ValidationError(
            {
                "username": ValidationError(
                    _("%(username)s is already a member; change their role in the list.")
                    % {"username": user.username},
                    code="exists",
                )
            }
        )
    _validate_level(access=access, user=user, source=source, access_level=access_level)
    field = "group" if isinstance(source, Group) else "project"
    try:
        with transaction.atomic():
            membership = Membership.objects.create(
                user=user, access_level=access_level, **{field: source}
            )
            audit_event_record(
                action=AuditAction.MEMBER_ADD,
                actor=actor,
                target=membership,
                ip_address=ip_address,
                details={"access_level": access_level},
            )
    except IntegrityError as error:
        raise ValidationError(
            {"username": [_("%(username)s is already a member.") % {"username": user.username}]}
        ) from error
    return membership


def member_update(
    *, actor, membership: Membership, access_level: int, ip_address: str | None = None
) -> Membership:
    access = access_on(actor, membership.source)
    _require_manage_member(access, membership, _("Only Owners can change the role of an Owner."))
    _validate_level(
        access=access, user=membership.user, source=membership.source, access_level=access_level
    )
    previous = membership.access_level
    with transaction.atomic():
        if access_level < AccessLevel.OWNER:
            _ensure_an_owner_remains(membership)
        membership.access_level = access_level
        membership.save(update_fields=["access_level"])
        audit_event_record(
            action=AuditAction.MEMBER_CHANGE,
            actor=actor,
            target=membership,
            ip_address=ip_address,
            details={"from": previous, "to": access_level},
        )
    return membership


def member_remove(*, actor, membership: Membership, ip_address: str | None = None) -> None:
    """Remove a membership. Members may always leave; the last Owner of a group may not."""
    if membership.user_id != actor.pk:
        _require_manage_member(
            access_on(actor, membership.source), membership, _("Only Owners can remove an Owner.")
        )
    with transaction.atomic():
        _ensure_an_owner_remains(membership)
        audit_event_record(
            action=AuditAction.MEMBER_REMOVE,
            actor=actor,
            target=membership,
            ip_address=ip_address,
            details={"access_level": membership.access_level},
        )
        membership.delete()


def _set_name(account, name: str) -> None:
    account.first_name, _space, account.last_name = name.strip().partition(" ")


def _account_errors(account) -> dict[str, list]:
    """What an account must be, new or changed: valid by the model's rules, with an email, and
    a username and an email no other account has, ignoring case (those two raise at once, as
    `exists`: GitLab answers 409)."""
    errors: dict[str, list] = {}
    try:
        account.full_clean(exclude=["password"], validate_unique=False)
    except ValidationError as error:
        errors.update(error.message_dict)
    others = get_user_model().objects.exclude(pk=account.pk)
    if others.filter(username__iexact=account.username).exists():
        raise ValidationError(_(USERNAME_TAKEN), code="exists")
    if account.email and others.filter(email__iexact=account.email).exists():
        raise ValidationError(_("Email has already been taken"), code="exists")
    if not account.email:
        errors.setdefault("email", []).append(_("Email is required."))
    return errors


def _account_summary(account) -> dict:
    """What a user's audit event tells of the account."""
    return {
        "username": account.username,
        "email": account.email,
        "name": account.get_full_name(),
        "admin": account.is_superuser,
    }


@sensitive_variables()
def user_create(
    *,
    actor,
    username: str,
    email: str,
    name: str = "",
    password: str | None = None,
    is_admin: bool = False,
):
    """An administrator creates an account. Without a password the account gets an unusable
    one (it signs in once a password is set in the admin)."""
    require_administrator(actor, _("Only administrators can create users."))
    account = get_user_model()(
        username=username, email=email, is_staff=is_admin, is_superuser=is_admin
    )
    _set_name(account, name)
    errors = _account_errors(account)
    if password is not None:
        try:
            validate_password(password, account)
        except ValidationError as error:
            errors["password"] = error.messages
    if errors:
        raise ValidationError(errors)
    if password is None:
        account.set_unusable_password()
    else:
        account.set_password(password)
    account.save()
    return account


@sensitive_variables()
def user_update(
    *,
    actor,
    user,
    username: str | None = None,
    email: str | None = None,
    name: str | None = None,
    is_admin: bool | None = None,
    password: str | None = None,
    ip_address: str | None = None,
):
    """An administrator changes what is given (not None) of an account, checked as
    user_create checks a new one (a password by the password validators; the audit event
    says only that it changed). No administrator takes their own administrator access away
    (another one can): whoever does it keeps the means to undo it."""
    require_administrator(actor, _("Only administrators can change users."))
    if is_admin is False and user.pk == actor.pk:
        raise ValidationError(
            {
                "is_admin": [
                    _(
                        "You cannot remove your own administrator access; ask another "
                        "administrator to do it."
                    )
                ]
            }
        )
    given = {"username": username, "email": email}
    edited = _edited(user, {field: value for field, value in given.items() if value is not None})
    if name is not None:
        _set_name(edited, name)
    if is_admin is not None:
        edited.is_staff = edited.is_superuser = is_admin
    fields = [field for field in ACCOUNT_FIELDS if getattr(edited, field) != getattr(user, field)]
    errors = _account_errors(edited) if fields else {}
    if password is not None:
        try:
            validate_password(password, edited)
        except ValidationError as error:
            errors["password"] = error.messages
        edited.set_password(password)
        fields.append("password")
    if not fields:
        return user
    if errors:
        raise ValidationError(errors)
    before, after = _account_summary(user), _account_summary(edited)
    if password is not None:
        before["password"], after["password"] = "", "changed"
    _save_settings(
        actor,
        user,
        edited,
        fields,
        action=AuditAction.USER_UPDATE,
        details={
            key: {"from": before[key], "to": after[key]}
            for key in before
            if before[key] != after[key]
        },
        race=ValidationError(_(USERNAME_TAKEN), code="exists"),
        ip_address=ip_address,
    )
    return user


def _user_set_active(*, actor, user, active: bool, ip_address: str | None) -> bool:
    """One conditional UPDATE: of two requests at once, one changes it and records it."""
    with transaction.atomic():
        changed = (
            get_user_model()
            .objects.filter(pk=user.pk, is_active=not active)
            .update(is_active=active)
        )
        if changed:
            audit_event_record(
                action=AuditAction.USER_UNBLOCK if active else AuditAction.USER_BLOCK,
                actor=actor,
                target=user,
                ip_address=ip_address,
            )
    user.is_active = active
    return bool(changed)


def user_block(*, actor, user, ip_address: str | None = None) -> bool:
    """Block an account: every credential of it stops at once (Django's sessions of an
    inactive user are signed out; the authentication pipeline refuses the personal access
    tokens and passwords of one). Administrators only, and not their own account. False when
    it was blocked already: nothing changes and nothing is recorded (GitLab's API answers
    that without an error too)."""
    require_administrator(actor, _("Only administrators can block users."))
    if user.pk == actor.pk:
        raise PermissionDenied(_("You cannot block your own account; ask another administrator."))
    return _user_set_active(actor=actor, user=user, active=False, ip_address=ip_address)


def user_unblock(*, actor, user, ip_address: str | None = None) -> bool:
    """Unblock an account: its sessions-to-be, tokens and password work again. Administrators
    only. False when it was not blocked: nothing changes and nothing is recorded."""
    require_administrator(actor, _("Only administrators can unblock users."))
    return _user_set_active(actor=actor, user=user, active=True, ip_address=ip_address)
