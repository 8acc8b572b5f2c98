"""Project and group access tokens, as GitLab makes them: each is a personal access token of a
bot user made with it (tokens_site.models.bots), who is a member of the project or group
with the token's role. So the one authentication pipeline knows it already (a personal
token), and every surface — Git, packages, the registry, the API — asks the one access
policy about the bot's membership, reaching the project or group (and what is below a group)
and nothing else. Revoking or expiry stops it at once; the bot, its membership and the audit
trail stay.

Who manages them: a project's Maintainers and Owners, a group's Owners (the access policy's
MANAGE_ACCESS_TOKENS); never with a role above their own, and Owner only from an Owner. A
token may also see, rotate and revoke itself (the API's `self`)."""

import secrets
from datetime import date, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.db.models import OuterRef, Subquery
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.debug import sensitive_variables

from personal_tokens.models import PersonalAccessToken
from personal_tokens.rules import personal_token_validate
from personal_tokens.services import personal_token_replace
from tokens_site.access.abilities import Ability
from tokens_site.access.policy import Access, access_on, require_person
from tokens_site.models import (
    AccessLevel,
    AuditAction,
    Bot,
    Group,
    InstanceSettings,
    Membership,
    Project,
)
from tokens_site.tokens import utc_today


class Scope(models.TextChoices):
    """The scopes GitLab offers project and group access tokens (no read_user, no sudo), in
    its words for them."""

    API = (
        "api",
        gettext_lazy(
            "Grants complete read and write access to the scoped project or group API, "
            "including the container registry and the package registry."
        ),
    )
    READ_API = (
        "read_api",
        gettext_lazy(
            "Grants read access to the scoped project or group API, including the package registry."
        ),
    )
    READ_REPOSITORY = (
        "read_repository",
        gettext_lazy("Grants read access (pull) to the repository."),
    )
    WRITE_REPOSITORY = (
        "write_repository",
        gettext_lazy("Grants read and write access (pull and push) to the repository."),
    )
    READ_REGISTRY = (
        "read_registry",
        gettext_lazy("Grants read access (pull) to the container registry images."),
    )
    WRITE_REGISTRY = (
        "write_registry",
        gettext_lazy("Grants write access (push) to the container registry."),
    )
    SELF_ROTATE = (
        "self_rotate",
        gettext_lazy("Grants permission to rotate this token using the access token API (`self`)."),
    )


SCOPES = Scope.values


def longest_lifetime_days() -> int:
    """An access token's expiry date is required, at most the instance maximum or a year."""
    return InstanceSettings.current().longest_token_lifetime_days()


def latest_expiry() -> date:
    """The latest expiry date an access token may have, made or rotated today."""
    return utc_today() + timedelta(days=longest_lifetime_days())


def expiry_required_message() -> str:
    days = longest_lifetime_days()
    return ngettext(
        "Enter an expiration date: access tokens last at most %(days)d day (until %(date)s).",
        "Enter an expiration date: access tokens last at most %(days)d days (until %(date)s).",
        days,
    ) % {"days": days, "date": latest_expiry()}


def _expiry_errors(expires_at: date | None) -> list[str]:
    """An access token's expiry date: required, after today, at most its longest lifetime
    (for made and rotated tokens alike)."""
    if expires_at is None:
        return [expiry_required_message()]
    if expires_at <= utc_today():
        return [_("Choose a date in the future.")]
    if expires_at > latest_expiry():
        days = longest_lifetime_days()
        return [
            ngettext(
                "Access tokens last at most %(days)d day: choose %(date)s or earlier.",
                "Access tokens last at most %(days)d days: choose %(date)s or earlier.",
                days,
            )
            % {"days": days, "date": latest_expiry()}
        ]
    return []


def access_token_access(actor, source: Group | Project) -> Access:
    """May `actor` manage the access tokens of `source` (Maintainer of a project, Owner of a
    group; bots never)."""
    access = access_on(actor, source)
    access.require(Ability.MANAGE_ACCESS_TOKENS)
    require_person(actor, _("access tokens"))
    return access


def access_token_require(actor, source: Group | Project, token, *, itself=None) -> None:
    """May `actor` see, rotate or revoke `token` (one of `tokens_of(source)`): the token
    itself may (`itself`: the token that authenticated the request, if any); else a manager
    of `source` who could have made it — whoever could not may neither take it over (a
    rotation shows its new value) nor take it away."""
    if itself is not None and itself.pk == token.pk:
        return
    access = access_token_access(actor, source)
    if not access.may_grant(token.access_level):
        raise PermissionDenied(
            _(
                "This token has the %(role)s role, above yours: only someone who may give that "
                "role can act on it."
            )
            % {"role": AccessLevel(token.access_level).label}
        )


def tokens_of(source: Group | Project):
    """The access tokens of `source`, newest first, each with its bot's role on it as
    `access_level`."""
    field = _field(source)
    role = Membership.objects.filter(user=OuterRef("user_id"), **{field: source})
    return (
        PersonalAccessToken.objects.filter(**{f"user__bot__{field}": source})
        .annotate(access_level=Subquery(role.values("access_level")[:1]))
        .order_by("-created_at", "-id")
    )


def _field(source: Group | Project) -> str:
    """The column that names `source` on a bot or a membership."""
    return "project" if isinstance(source, Project) else "group"


def _validate(
    *, actor, access: Access, name: str, description: str, scopes, access_level, expires_at
) -> dict[str, list[str]]:
    """A personal token's rules (name, description, scopes), then an access token's own:
    its scopes, a required expiry within its limit, a role its maker may give."""
    errors = personal_token_validate(
        user=actor, name=name, scopes=scopes, expires_at=expires_at, description=description
    )
    unknown = sorted(set(scopes) - set(SCOPES))
    if scopes and unknown:
        errors["scopes"] = [_("Unknown scopes: %(scopes)s.") % {"scopes": ", ".join(unknown)}]
    if expiry := _expiry_errors(expires_at):
        errors["expires_at"] = expiry
    if not access.may_grant(access_level):
        errors["access_level"] = [
            _("You can give at most your own role (%(role)s).")
            % {"role": AccessLevel(access.level).label}
        ]
    return errors


def _bot_username(source: Group | Project) -> str:
    """GitLab's shape: `project_<id>_bot_<random>`, `group_<id>_bot_<random>`."""
    return f"{_field(source)}_{source.pk}_bot_{secrets.token_hex(16)}"


@sensitive_variables()
def access_token_create(
    *,
    actor,
    source: Group | Project,
    name: str,
    scopes: list[str],
    access_level: int = AccessLevel.MAINTAINER,
    expires_at: date | None = None,
    description: str = "",
    ip_address: str | None = None,
) -> tuple[PersonalAccessToken, str]:
    """Make a bot member of `source` with `access_level` and a token for it. Returns the
    token (with `access_level` set) and its value, which exists only in this return value."""
    access = access_token_access(actor, source)
    errors = _validate(
        actor=actor,
        access=access,
        name=name,
        description=description,
        scopes=scopes,
        access_level=access_level,
        expires_at=expires_at,
    )
    if errors:
        raise ValidationError(errors)
    users = get_user_model()
    with transaction.atomic():
        username = _bot_username(source)
        bot = users(
            username=username,
            email=f"{username}@noreply.{urlsplit(settings.EXTERNAL_URL).hostname}",
            first_name=name.strip()[:150],
        )
        bot.set_unusable_password()
        bot.save()
        field = _field(source)
        Bot.objects.create(user=bot, **{field: source})
        Membership.objects.create(user=bot, access_level=access_level, **{field: source})
        token, plaintext = PersonalAccessToken.objects.create_token(
            user=bot,
            name=name,
            scopes=scopes,
            expires_at=expires_at,
            description=description,
            actor=actor,
            ip_address=ip_address,
            audit_action=AuditAction.ACCESS_TOKEN_CREATE,
            audit_details={"source": source.full_path, "access_level": access_level},
        )
    token.access_level = access_level
    return token, plaintext


def access_token_revoke(
    *,
    actor,
    source: Group | Project,
    token: PersonalAccessToken,
    itself=None,
    ip_address: str | None = None,
) -> None:
    """Revoke `token`, one of `tokens_of(source)`."""
    access_token_require(actor, source, token, itself=itself)
    token.revoke(actor=actor, ip_address=ip_address)


@sensitive_variables()
def access_token_rotate(
    *,
    actor,
    source: Group | Project,
    token: PersonalAccessToken,
    expires_at: date | None = None,
    overlap_hours: int | None = None,
    itself=None,
    ip_address: str | None = None,
) -> tuple[PersonalAccessToken, str]:
    """Retire `token` (one of `tokens_of(source)`; at once, or after `overlap_hours`) and make
    its successor for the same bot
    (same name, description, scopes and role) in one transaction. The new expiry date is
    `expires_at`, else as long a lifetime as the old one had, from today, within a new token's
    limit (TokenRecord.rotated_expiry; GitLab gives a week)."""
    access_token_require(actor, source, token, itself=itself)
    if expires_at is None:
        expires_at = token.rotated_expiry()
    if expiry := _expiry_errors(expires_at):
        raise ValidationError({"expires_at": expiry})
    successor, plaintext = personal_token_replace(
        actor=actor,
        token=token,
        expires_at=expires_at,
        overlap_hours=overlap_hours,
        ip_address=ip_address,
    )
    successor.access_level = token.access_level
    return successor, plaintext
