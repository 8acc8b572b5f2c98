"""The vocabulary of access: roles (GitLab's numbers) and visibility, and which visibilities
are open to whom. Pure data: the models use it for their fields, the policy for its rules."""

from django.db import models


class AccessLevel(models.IntegerChoices):
    """GitLab's role numbers."""

    GUEST = 10, "Guest"
    REPORTER = 20, "Reporter"
    DEVELOPER = 30, "Developer"
    MAINTAINER = 40, "Maintainer"
    OWNER = 50, "Owner"


NO_ACCESS = 0


def role_name(level: int) -> str:
    return AccessLevel(level).label if level else "no role"


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


def is_administrator(user) -> bool:
    """Instance administrators (`is_superuser`) see everything and act everywhere as an Owner
    would; the administrators-only parts of the API and the admin are theirs."""
    return user is not None and user.is_authenticated and user.is_active and user.is_superuser


def is_blocked(user) -> bool:
    """A blocked (inactive) account can do nothing, with any credential."""
    return user is not None and user.is_authenticated and not user.is_active


def visibility_allowed_within(visibility: str, parent_visibility: str | None) -> bool:
    """A group or project is never more visible than the group it is in."""
    return parent_visibility is None or (
        VISIBILITY_RANK[visibility] <= VISIBILITY_RANK[parent_visibility]
    )


def open_visibilities(*, signed_in: bool) -> list[str]:
    """The visibilities anyone may read without a membership: public for everyone, internal
    too for a signed-in user (any credential that is a user: a session, a personal token)."""
    if signed_in:
        return [Visibility.PUBLIC, Visibility.INTERNAL]
    return [Visibility.PUBLIC]


def is_open(visibility: str, *, signed_in: bool) -> bool:
    """Readable without any membership."""
    return visibility in open_visibilities(signed_in=signed_in)
