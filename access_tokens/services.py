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
from django.views.decorators.debug import sensitive_variables

from personal_tokens.models import PersonalAccessToken
from personal_tokens.services import personal_token_replace
from tokens_site.access.abilities import Ability
from tokens_site.access.policy import Access, access_on, require_person
from tokens_site.audit import audit_event_record
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
        "Grants complete read and write access to the scoped project or group API, including "
        "the container registry and the package registry.",
    )
    READ_API = (
        "read_api",
        "Grants read access to the scoped project or group API, including the package registry.",
    )
    READ_REPOSITORY = "read_repository", "Grants read access (pull) to the repository."
    WRITE_REPOSITORY = (
        "write_repository",
        "Grants read and write access (pull and push) to the repository.",
    )
    READ_REGISTRY = (
        "read_registry",
        "Grants read access (pull) to the container registry images.",
    )
    WRITE_REGISTRY = "write_registry", "Grants write access (push) to the container registry."
    SELF_ROTATE = (
        "self_rotate",
        "Grants permission to rotate this token using the access token API (`self`).",
    )


SCOPES = Scope.values
DEFAULT_LIFETIME_DAYS = 30  # what the forms prefill
ROTATED_LIFETIME_DAYS = 7  # a rotated token's, unless a date is given (as GitLab)
LONGEST_LIFETIME_DAYS = 365  # when the instance sets no maximum


def longest_lifetime_days() -> int:
    """An access token's expiry date is required, at most the instance maximum or a year."""
    return InstanceSettings.current().personal_access_token_max_lifetime_days or (
        LONGEST_LIFETIME_DAYS
    )


def access_token_access(actor, source: Group | Project) -> Access:
    """May `actor` manage the access tokens of `source` (Maintainer of a project, Owner of a
    group; bots never)."""
    access = access_on(actor, source)
    access.require(Ability.MANAGE_ACCESS_TOKENS)
    require_person(actor, "access tokens")
    return access


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


def bot_source(token: PersonalAccessToken) -> Group | Project | None:
    """The project or group whose access token this is; None for a person's token."""
    bot = Bot.objects.filter(user_id=token.user_id).select_related("project", "group").first()
    return bot.source if bot else None


def _validate(
    *, access: Access, scopes: list[str], access_level, expires_at: date | None
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if access_level not in AccessLevel.values:
        errors["access_level"] = ["Choose one of the listed roles."]
    elif access_level > access.level:
        errors["access_level"] = [
            f"You can give at most your own role ({AccessLevel(access.level).label})."
        ]
    elif access_level == AccessLevel.OWNER and not access.can(Ability.OWN):
        errors["access_level"] = ["Only Owners can create tokens with the Owner role."]
    unknown = sorted(set(scopes) - set(SCOPES))
    if not scopes:
        errors["scopes"] = ["Select at least one scope."]
    elif unknown:
        errors["scopes"] = [f"Unknown scopes: {', '.join(unknown)}."]
    longest = longest_lifetime_days()
    latest = utc_today() + timedelta(days=longest)
    if expires_at is None:
        errors["expires_at"] = [
            f"Enter an expiration date: access tokens last at most {longest} days (until {latest})."
        ]
    elif expires_at <= utc_today():
        errors["expires_at"] = ["Choose a date in the future."]
    elif expires_at > latest:
        errors["expires_at"] = [
            f"Access tokens last at most {longest} days: choose {latest} or earlier."
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
        access=access,
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
        )
        audit_event_record(
            action=AuditAction.ACCESS_TOKEN_CREATE,
            actor=actor,
            target=token,
            ip_address=ip_address,
            details={"source": source.full_path, "access_level": access_level},
        )
    token.access_level = access_level
    return token, plaintext


def _require_manager_or_itself(actor, token: PersonalAccessToken, itself, verb: str) -> None:
    """A token's project or group managers act on it; so may the token itself (`itself`:
    the token that authenticated the request, if any)."""
    if itself is not None and itself.pk == token.pk:
        return
    source = bot_source(token)
    if source is None:
        raise PermissionDenied(f"Only project and group access tokens can be {verb} here.")
    access = access_token_access(actor, source)
    # Whoever could not have made the token may not take it over (a rotation shows its
    # new value) nor take it away.
    level = (
        Membership.objects.filter(user_id=token.user_id, **{_field(source): source})
        .values_list("access_level", flat=True)
        .first()
        or 0
    )
    if level > access.level or (level == AccessLevel.OWNER and not access.can(Ability.OWN)):
        raise PermissionDenied(
            f"This token has the {AccessLevel(level).label} role, above yours: only someone "
            f"with at least that role can have it {verb}."
        )


def access_token_revoke(
    *, actor, token: PersonalAccessToken, itself=None, ip_address: str | None = None
) -> None:
    _require_manager_or_itself(actor, token, itself, "revoked")
    token.revoke(actor=actor, ip_address=ip_address)


@sensitive_variables()
def access_token_rotate(
    *,
    actor,
    token: PersonalAccessToken,
    expires_at: date | None = None,
    itself=None,
    ip_address: str | None = None,
) -> tuple[PersonalAccessToken, str]:
    """Revoke `token` and make its successor for the same bot (same name, description,
    scopes and role) in one transaction. The new expiry date is `expires_at`, else a week
    from today as GitLab does, within the same limit as a new token's."""
    _require_manager_or_itself(actor, token, itself, "rotated")
    if expires_at is None:
        expires_at = utc_today() + timedelta(days=ROTATED_LIFETIME_DAYS)
    longest = longest_lifetime_days()
    latest = utc_today() + timedelta(days=longest)
    if expires_at <= utc_today() or expires_at > latest:
        raise ValidationError(
            {"expires_at": [f"Choose a date after today and no later than {latest}."]}
        )
    successor, plaintext = personal_token_replace(
        actor=actor, token=token, expires_at=expires_at, ip_address=ip_address
    )
    successor.access_level = getattr(token, "access_level", None)
    return successor, plaintext
