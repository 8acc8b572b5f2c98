"""Writes to the site-wide domain. Every function checks who may act, validates, writes in one
transaction and records the audit event; views and the API call these and nothing else."""

import logging

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.views.decorators.debug import sensitive_variables

from tokens_site.access.abilities import Ability
from tokens_site.access.policy import (
    Access,
    access_on,
    group_access,
    inherited_level,
    membership_level,
    require_administrator,
)
from tokens_site.access.roles import visibility_allowed_within
from tokens_site.audit import audit_event_record
from tokens_site.models import (
    FULL_PATH_MAX_LENGTH,
    MAX_GROUP_DEPTH,
    AccessLevel,
    AuditAction,
    Group,
    Membership,
    Project,
    Visibility,
)
from tokens_site.paths import validate_top_level_path
from tokens_site.repositories import RepositoryError, repository_create, repository_remove

logger = logging.getLogger(__name__)

PATH_TAKEN_RACE = "That path was taken a moment ago; choose another."


def _namespace_taken(full_path: str) -> bool:
    """Subgroups and projects of one group share one namespace (their URLs do)."""
    return (
        Group.objects.by_full_path(full_path).exists()
        or Project.objects.by_full_path(full_path).exists()
    )


def _too_long(*, parent: Group, full_path: str, kind: str) -> str:
    room = FULL_PATH_MAX_LENGTH - len(parent.full_path) - 1
    problem = (
        f"With this path the {kind}'s full path would be {len(full_path)} characters long; "
        f"at most {FULL_PATH_MAX_LENGTH} are allowed."
    )
    if room < 1:
        return (
            f"{problem} The full path of {parent.name} is already {len(parent.full_path)} "
            f"characters long: create the {kind} in a group with a shorter full path."
        )
    return f"{problem} Use a path of at most {room} characters here."


def _validate_placement(*, parent: Group | None, path: str, visibility: str, kind: str) -> None:
    errors: dict[str, list[str]] = {}
    if parent is None:
        try:
            validate_top_level_path(path)
        except ValidationError as error:
            errors["path"] = error.messages
    elif kind == "subgroup" and parent.depth >= MAX_GROUP_DEPTH:
        errors["parent"] = [
            f"Groups can be nested at most {MAX_GROUP_DEPTH} levels deep, and "
            f"{parent.full_path} is at level {parent.depth}: create the subgroup higher up."
        ]
    full_path = f"{parent.full_path}/{path}" if parent else path
    if parent is not None and "path" not in errors and len(full_path) > FULL_PATH_MAX_LENGTH:
        errors["path"] = [_too_long(parent=parent, full_path=full_path, kind=kind)]
    if "path" not in errors and _namespace_taken(full_path):
        where = f"in {parent.full_path}" if parent else "at the top level"
        errors["path"] = [f"The path '{path}' is already taken {where}; choose another."]
    if parent is not None and not visibility_allowed_within(visibility, parent.visibility):
        errors["visibility"] = [
            f"A {kind} cannot be more visible than its group: {parent.full_path} is "
            f"{parent.get_visibility_display().lower()}."
        ]
    if errors:
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
    if parent is not None:
        group_access(actor, parent).require(
            Ability.CREATE_WITHIN,
            f"You need at least the Maintainer role in {parent.full_path} to create subgroups.",
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
        raise ValidationError({"path": [PATH_TAKEN_RACE]}) from error
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
        f"You need at least the Maintainer role in {group.full_path} to create projects.",
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
            raise ValidationError({"path": [PATH_TAKEN_RACE]}) from error
        if isinstance(error, RepositoryError):
            logger.error("Project %s not created: %s", project.full_path, error)
            raise ValidationError(
                "The project's repository could not be created on disk, so the project was not "
                "created. Try again; if it keeps failing, ask an administrator to check the "
                "server log and REPOSITORIES_ROOT."
            ) from error
        raise
    return project


def _validate_level(*, access: Access, user, source: Group | Project, access_level: int) -> None:
    if access_level not in AccessLevel.values:
        raise ValidationError({"access_level": ["Choose one of the listed roles."]})
    if access_level not in access.grantable_levels():
        raise ValidationError({"access_level": ["Only Owners can grant the Owner role."]})
    inherited = inherited_level(user, source)
    if access_level < inherited:
        raise ValidationError(
            {
                "access_level": [
                    f"{user.username} already has the {AccessLevel(inherited).label} role "
                    f"through a parent group; choose that role or a higher one."
                ]
            }
        )


def _require_manage_member(access: Access, membership: Membership, verb: str) -> None:
    """Maintainers manage members below Owner; only Owners manage Owners."""
    if access.can_manage_member(membership.access_level):
        return
    if access.can(Ability.MANAGE_MEMBERS):
        raise PermissionDenied(f"Only Owners can {verb} an Owner.")
    raise PermissionDenied("You need at least the Maintainer role to manage members.")


def _ensure_an_owner_remains(membership: Membership) -> None:
    """A group keeps at least one Owner, direct or inherited. Called in the transaction that
    removes or demotes `membership`: the Owners' rows stay locked until it ends, so two Owners
    removing each other at the same moment cannot both succeed."""
    if membership.group_id is None or membership.access_level != AccessLevel.OWNER:
        return
    owners = (
        Membership.objects.select_for_update()
        .filter(group_id__in=membership.group.ancestor_ids, access_level=AccessLevel.OWNER)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not set(owners) - {membership.pk}:
        raise ValidationError(
            f"{membership.user.username} is the last Owner of {membership.group.full_path}. "
            f"Make someone else an Owner first."
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
    access.require(Ability.MANAGE_MEMBERS, "You need at least the Maintainer role to add members.")
    user = get_user_model().objects.filter(username=username.strip()).first()
    if user is None:
        raise ValidationError({"username": [f"There is no user with the username '{username}'."]})
    if source.memberships.filter(user=user).exists():
        raise ValidationError(
            {
                "username": ValidationError(
                    f"{user.username} is already a member; change their role in the list.",
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
        raise ValidationError({"username": [f"{user.username} is already a member."]}) from error
    return membership


def member_update(
    *, actor, membership: Membership, access_level: int, ip_address: str | None = None
) -> Membership:
    access = access_on(actor, membership.source)
    _require_manage_member(access, membership, "change the role of")
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
        _require_manage_member(access_on(actor, membership.source), membership, "remove")
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
    require_administrator(actor, "Only administrators can create users.")
    users = get_user_model()
    account = users(username=username, email=email, is_staff=is_admin, is_superuser=is_admin)
    account.first_name, _, account.last_name = name.strip().partition(" ")
    errors: dict[str, list] = {}
    try:
        account.full_clean(exclude=["password"], validate_unique=False)
    except ValidationError as error:
        errors.update(error.message_dict)
    if users.objects.filter(username__iexact=username).exists():
        raise ValidationError("Username has already been taken", code="exists")
    if email and users.objects.filter(email__iexact=email).exists():
        raise ValidationError("Email has already been taken", code="exists")
    if not email:
        errors.setdefault("email", []).append("Email is required.")
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
