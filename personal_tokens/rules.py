"""The rules every personal access token meets, however it is made (page, API, admin, command,
console): its scopes, name, description, expiry and, for a predetermined value, that value's
shape. Both the model and the services import them; they import neither."""

import re
from datetime import date

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.debug import sensitive_variables

from tokens_site.access.roles import is_administrator
from tokens_site.models import DESCRIPTION_MAX_LENGTH, DESCRIPTION_TOO_LONG, InstanceSettings
from tokens_site.tokens import DEPLOY_TOKEN_PREFIX, token_is_plausible, validate_expiry_date

NAME_MAX_LENGTH = 255
PREDETERMINED_MIN_LENGTH = 20
PREDETERMINED_MAX_LENGTH = 255
# Printable ASCII without spaces: usable in HTTP headers, Basic credentials and URLs.
PREDETERMINED_PATTERN = re.compile(r"[\x21-\x7e]+")


class Scope(models.TextChoices):
    API = (
        "api",
        gettext_lazy(
            "Grants complete read/write access to the API, including all groups and projects, "
            "the container registry, and the package registry."
        ),
    )
    READ_API = (
        "read_api",
        gettext_lazy(
            "Grants read access to the API, including all groups and projects, the container "
            "registry, and the package registry."
        ),
    )
    READ_USER = (
        "read_user",
        gettext_lazy(
            "Grants read-only access to your profile through the /user API endpoint, and to the "
            "read-only API endpoints under /users."
        ),
    )
    READ_REPOSITORY = (
        "read_repository",
        gettext_lazy(
            "Grants read-only access to repositories on private projects using Git-over-HTTP."
        ),
    )
    WRITE_REPOSITORY = (
        "write_repository",
        gettext_lazy(
            "Grants read-write access to repositories on private projects using Git-over-HTTP."
        ),
    )
    READ_REGISTRY = (
        "read_registry",
        gettext_lazy("Grants read-only access to container registry images on private projects."),
    )
    WRITE_REGISTRY = (
        "write_registry",
        gettext_lazy("Grants write access to container registry images on private projects."),
    )
    SUDO = (
        "sudo",
        gettext_lazy(
            "Grants permission to perform API actions as any user in the system, when "
            "authenticated as an administrator."
        ),
    )
    SELF_ROTATE = (
        "self_rotate",
        gettext_lazy("Grants permission to rotate this token using the personal access token API."),
    )


ADMIN_ONLY_SCOPES = frozenset({Scope.SUDO})


def scopes_offered_to(user) -> list[Scope]:
    """`sudo` is offered only to administrators."""
    return [scope for scope in Scope if is_administrator(user) or scope not in ADMIN_ONLY_SCOPES]


@sensitive_variables()
def could_be_personal_token(plaintext: str) -> bool:
    """Decided in memory: a deploy token's prefix, or a known prefix or shape with a wrong
    checksum, rules a value out without any lookup."""
    return not plaintext.startswith(DEPLOY_TOKEN_PREFIX) and token_is_plausible(plaintext)


@sensitive_variables()
def validate_predetermined_value(plaintext: str) -> None:
    """The shape of a predetermined token (that no other token has it is the model's check)."""
    if len(plaintext) < PREDETERMINED_MIN_LENGTH:
        raise ValidationError(
            ngettext(
                "A predetermined token must be at least %(count)d character long.",
                "A predetermined token must be at least %(count)d characters long.",
                PREDETERMINED_MIN_LENGTH,
            )
            % {"count": PREDETERMINED_MIN_LENGTH}
        )
    if len(plaintext) > PREDETERMINED_MAX_LENGTH or not PREDETERMINED_PATTERN.fullmatch(plaintext):
        raise ValidationError(
            _(
                "A predetermined token may contain only printable ASCII characters without "
                "spaces, at most %(count)d."
            )
            % {"count": PREDETERMINED_MAX_LENGTH}
        )
    if not could_be_personal_token(plaintext):
        raise ValidationError(
            _(
                "That value looks like a token this site generates (a known prefix, or '-' "
                "followed by 32 letters and digits) but its checksum does not match; choose "
                "another value."
            )
        )


@sensitive_variables()
def personal_token_validate(
    *,
    user,
    name: str,
    scopes: list[str],
    expires_at: date | None,
    description: str = "",
    token: str | None = None,
) -> dict[str, list[str]]:
    """Every rule a new token must meet, as field errors (empty when it may be created)."""
    errors: dict[str, list[str]] = {}
    if not name.strip():
        errors["name"] = [_("Enter a name for the token.")]
    elif len(name.strip()) > NAME_MAX_LENGTH:
        errors["name"] = [
            ngettext(
                "Use at most %(count)d character.",
                "Use at most %(count)d characters.",
                NAME_MAX_LENGTH,
            )
            % {"count": NAME_MAX_LENGTH}
        ]
    if len(description.strip()) > DESCRIPTION_MAX_LENGTH:
        errors["description"] = [DESCRIPTION_TOO_LONG]
    unknown = sorted(set(scopes) - set(Scope.values))
    if not scopes:
        errors["scopes"] = [_("Select at least one scope.")]
    elif unknown:
        errors["scopes"] = [_("Unknown scopes: %(scopes)s.") % {"scopes": ", ".join(unknown)}]
    elif not is_administrator(user) and ADMIN_ONLY_SCOPES & set(scopes):
        errors["scopes"] = [_("Only administrators can have the sudo scope.")]
    try:
        validate_expiry_date(
            expires_at,
            max_lifetime_days=InstanceSettings.current().personal_access_token_max_lifetime_days,
        )
    except ValidationError as error:
        errors["expires_at"] = error.messages
    if token is not None:
        try:
            validate_predetermined_value(token)
        except ValidationError as error:
            errors["token"] = error.messages
    return errors
