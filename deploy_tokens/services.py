"""Create, rotate and revoke deploy tokens. Each returns the record; creation and rotation
also return the plaintext, which exists only in that return value (it is never stored, logged
or cached)."""

from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables

from deploy_tokens.models import (
    DEFAULT_USERNAME_FORMAT,
    GITLAB_DEPLOY_TOKEN_NAME,
    PREFIX,
    DeployToken,
    Scope,
)
from tokens_site import rotation
from tokens_site.access.abilities import Ability
from tokens_site.access.policy import Access, access_on, require_person
from tokens_site.audit import audit_event_record
from tokens_site.models import AuditAction, Group, Project
from tokens_site.tokens import (
    token_digest,
    token_encrypt,
    token_generate,
    validate_expiry_date,
)


def deploy_token_access(actor, owner: Group | Project) -> Access:
    """Project tokens are managed by the project's Maintainers and Owners; group tokens only by
    the group's Owners (the access policy's MANAGE_DEPLOY_TOKENS)."""
    access = access_on(actor, owner)
    access.require(Ability.MANAGE_DEPLOY_TOKENS)
    return access


@sensitive_variables()
def deploy_token_create(
    *,
    actor,
    owner: Group | Project,
    name: str,
    scopes: list[str],
    expires_at: date | None = None,
    username: str = "",
    description: str = "",
    ip_address: str | None = None,
) -> tuple[DeployToken, str]:
    deploy_token_access(actor, owner)
    require_person(actor, _("deploy tokens"))
    unknown = sorted(set(scopes) - set(Scope.values))
    if unknown:
        raise ValidationError(
            {"scopes": _("Unknown scopes: %(scopes)s.") % {"scopes": ", ".join(unknown)}}
        )
    plaintext = token_generate(PREFIX)
    token = DeployToken(
        name=name.strip(),
        description=description.strip(),
        username=username.strip() or DEFAULT_USERNAME_FORMAT.format(n="pending"),
        expires_at=expires_at,
        token_digest=token_digest(plaintext),
        creator=actor if actor.is_authenticated else None,
        **({"project": owner} if isinstance(owner, Project) else {"group": owner}),
    )
    token.scopes = scopes
    if token.name == GITLAB_DEPLOY_TOKEN_NAME:
        token.token_encrypted = token_encrypt(plaintext)
    token.full_clean()
    _expiry_valid(expires_at)
    with transaction.atomic():
        token.save()
        if not username.strip():
            token.username = DEFAULT_USERNAME_FORMAT.format(n=token.pk)
            token.save(update_fields=["username"])
        audit_event_record(
            action=AuditAction.DEPLOY_TOKEN_CREATE,
            actor=actor,
            target=token,
            ip_address=ip_address,
            # Without a date, it got the instance's (TokenRecord.save: default_token_expiry).
            details={"scopes": token.scopes, "expires_at": str(token.expires_at or "")},
        )
    return token, plaintext


def deploy_token_revoke(*, actor, token: DeployToken, ip_address: str | None = None) -> None:
    deploy_token_access(actor, token.owner)
    with transaction.atomic():
        if not token.revoke_once():  # a second revoke is reported, not audited twice
            raise ValidationError(
                _("The deploy token '%(name)s' was already revoked.") % {"name": token.name}
            )
        audit_event_record(
            action=AuditAction.DEPLOY_TOKEN_REVOKE, actor=actor, target=token, ip_address=ip_address
        )


def _expiry_valid(expires_at: date | None) -> None:
    """A deploy token's date: after today (the form's and the API's error on `expires_at`)."""
    if expires_at is None:
        return
    try:
        validate_expiry_date(expires_at)
    except ValidationError as error:
        raise ValidationError({"expires_at": error.messages}) from error


@sensitive_variables()
def deploy_token_rotate(
    *,
    actor,
    token: DeployToken,
    expires_at: date | None = None,
    overlap_hours: int | None = None,
    ip_address: str | None = None,
) -> tuple[DeployToken, str]:
    """Retire `token` and make its successor by the shared rotation
    (tokens_site.rotation.rotate): the same owner, name, username (clients keep theirs),
    description and scopes, a new value."""
    deploy_token_access(actor, token.owner)
    require_person(actor, _("deploy tokens"))

    @sensitive_variables("plaintext")
    def build(expires_at, plaintext: str, retired: dict) -> DeployToken:
        successor = DeployToken(
            name=token.name,
            description=token.description,
            username=token.username,
            expires_at=expires_at,
            token_digest=token_digest(plaintext),
            creator=actor if actor.is_authenticated else None,
            project=token.project,
            group=token.group,
            **retired,
        )
        successor.scopes = token.scopes
        if token.token_encrypted:
            successor.token_encrypted = token_encrypt(plaintext)
        successor.save()
        return successor

    return rotation.rotate(
        token,
        actor=actor,
        expires_at=expires_at,
        overlap_hours=overlap_hours,
        ip_address=ip_address,
        prefix=PREFIX,
        audit_action=AuditAction.DEPLOY_TOKEN_ROTATE,
        validate=_expiry_valid,
        build=build,
    )
