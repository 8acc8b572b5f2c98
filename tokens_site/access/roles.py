"""The vocabulary of access: roles (GitLab's numbers) and visibility, and which visibilities
are open to whom. Pure data: the models use it for their fields, the policy for its rules."""

from django.db import models
from django.utils import translation
from django.utils.translation import gettext_lazy as _


def in_english(text) -> str:
    """A lazily translated label as written here, in English, whatever the language of the
    request: for what programs and records read (audit labels, logs, the REST API)."""
    with translation.override(None):
        return str(text)


class AccessLevel(models.IntegerChoices):
    """GitLab's role numbers. `label` is the role's name in the current language (pages,
    refusals people read); `english` is its English name (the audit log, the REST API)."""

    GUEST = 10, _("Guest")
    REPORTER = 20, _("Reporter")
    DEVELOPER = 30, _("Developer")
    MAINTAINER = 40, _("Maintainer")
    OWNER = 50, _("Owner")

    @property
    def english(self) -> str:
        return in_english(self.label)


NO_ACCESS = 0


def role_name(level: int) -> str:
    """A role's name, lazily translated ("no role" for none): English in `in_english`."""
    return AccessLevel(level).label if level else _("no role")


class Visibility(models.TextChoices):
    PRIVATE = "private", _("Private")
    INTERNAL = "internal", _("Internal")
    PUBLIC = "public", _("Public")


# How open each visibility is; a child may not be more open than its parent group.
VISIBILITY_RANK = {Visibility.PRIVATE: 0, Visibility.INTERNAL: 10, Visibility.PUBLIC: 20}

VISIBILITY_HELP = {
    Visibility.PRIVATE: _("Access must be granted explicitly to each user."),
    Visibility.INTERNAL: _("Any signed-in user can see it."),
    Visibility.PUBLIC: _("Anyone can see it, without signing in."),
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
