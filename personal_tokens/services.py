"""Create, revoke, rotate and touch personal access tokens, for the pages and the API: who may
act is checked here (a user manages their own tokens, administrators anyone's); the rules and
the audit events come with the model (personal_tokens.models). Creation returns the record and
the plaintext, which exists only in that return value."""

from datetime import date

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_variables

from personal_tokens.models import PersonalAccessToken
from personal_tokens.rules import personal_token_validate
from tokens_site import rotation
from tokens_site.access.policy import require_person, require_self_or_administrator
from tokens_site.models import AuditAction, InstanceSettings, is_bot


@sensitive_variables("token")
def personal_token_create(
    *,
    user,
    name: str,
    scopes: list[str],
    expires_at: date | None = None,
    description: str = "",
    token: str | None = None,
    actor=None,
    ip_address: str | None = None,
) -> tuple[PersonalAccessToken, str]:
    """Create a token for `user`: a random one, or the predetermined `token`."""
    require_self_or_administrator(actor, user, "create")
    require_person(actor, _("personal access tokens"))
    if is_bot(user):
        raise ValidationError(
            {
                "user": [
                    _(
                        "%(username)s is the bot of a project or group access token: make its "
                        "tokens on that project's or group's Access tokens page."
                    )
                    % {"username": user.username}
                ]
            }
        )
    return PersonalAccessToken.objects.create_token(
        user=user,
        name=name,
        scopes=scopes,
        expires_at=expires_at,
        description=description,
        token=token,
        actor=actor,
        ip_address=ip_address,
    )


def personal_token_revoke(*, actor, token: PersonalAccessToken, ip_address: str | None = None):
    require_self_or_administrator(actor, token.user, "revoke")
    token.revoke(actor=actor, ip_address=ip_address)


@sensitive_variables()
def personal_token_rotate(
    *,
    actor,
    token: PersonalAccessToken,
    expires_at: date | None = None,
    overlap_hours: int | None = None,
    ip_address: str | None = None,
) -> tuple[PersonalAccessToken, str]:
    """Retire `token` and create its successor (see personal_token_replace); a user rotates
    their own tokens, administrators anyone's."""
    require_self_or_administrator(actor, token.user, "rotate")
    return personal_token_replace(
        actor=actor,
        token=token,
        expires_at=expires_at,
        overlap_hours=overlap_hours,
        ip_address=ip_address,
    )


@sensitive_variables()
def personal_token_replace(
    *,
    actor,
    token: PersonalAccessToken,
    expires_at: date | None = None,
    overlap_hours: int | None = None,
    ip_address: str | None = None,
) -> tuple[PersonalAccessToken, str]:
    """Retire `token` and create its successor (same user, name, description and scopes) by
    the shared rotation (tokens_site.rotation.rotate), under the rules of any new token. Who
    may is the caller's to check (personal_token_rotate; access_tokens for a bot's token)."""

    def validate(expires_at) -> None:
        errors = personal_token_validate(
            user=token.user,
            name=token.name,
            scopes=token.scopes,
            expires_at=expires_at,
            description=token.description,
        )
        if errors:
            raise ValidationError(errors)

    @sensitive_variables("plaintext")
    def build(expires_at, plaintext: str, retired: dict) -> PersonalAccessToken:
        return PersonalAccessToken.objects.insert(
            user=token.user,
            name=token.name,
            scopes=token.scopes,
            expires_at=expires_at,
            description=token.description,
            value=plaintext,
            **retired,
        )

    return rotation.rotate(
        token,
        actor=actor,
        expires_at=expires_at,
        overlap_hours=overlap_hours,
        ip_address=ip_address,
        prefix=InstanceSettings.current().personal_access_token_prefix,
        audit_action=AuditAction.PERSONAL_TOKEN_ROTATE,
        validate=validate,
        build=build,
    )
