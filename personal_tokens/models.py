"""Personal access tokens: a user's own credentials for the API, Git over HTTP and the
registries, limited by scopes. Only a digest of each token is stored.

Making and revoking a token record lives here, with its rules (personal_tokens.rules) and its
audit event, so every way to make one — the services behind the pages and the API, the admin,
the commands, the seed's console recipe — keeps them. Who may do it is the services' concern.
"""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop
from django.views.decorators.debug import sensitive_variables

from personal_tokens.rules import (
    Scope,
    personal_token_validate,
    validate_predetermined_value,
)
from tokens_site.access.roles import is_administrator
from tokens_site.audit import audit_event_record
from tokens_site.models import AuditAction, InstanceSettings, TokenQuerySet, TokenRecord
from tokens_site.tokens import token_digest, token_generate

# English here; translated where it is raised.
IN_USE_MESSAGE = gettext_noop("That token is already in use; choose another.")


class ScopesField(models.CharField):
    """A list of scope names, stored as "api,read_user" so any database can filter on it."""

    SEPARATOR = ","

    def from_db_value(self, value, expression, connection):
        return self.to_python(value)

    def to_python(self, value):
        if value is None or isinstance(value, list):
            return value
        return [scope for scope in value.split(self.SEPARATOR) if scope]

    def get_prep_value(self, value):
        if isinstance(value, list | tuple):
            return self.SEPARATOR.join(value)
        return value

    def value_to_string(self, obj) -> str:
        return self.get_prep_value(self.value_from_object(obj))


def with_scope(scope: str) -> Q:
    """Tokens that have `scope` (an exact member of the stored list)."""
    sep = ScopesField.SEPARATOR
    return (
        Q(scopes=scope)
        | Q(scopes__startswith=f"{scope}{sep}")
        | Q(scopes__endswith=f"{sep}{scope}")
        | Q(scopes__contains=f"{sep}{scope}{sep}")
    )


class PersonalAccessTokenQuerySet(TokenQuerySet):
    def visible_to(self, user) -> "PersonalAccessTokenQuerySet":
        """The tokens `user` may see and manage: their own; every one for an administrator
        (the rule of tokens_site.access.policy.require_self_or_administrator)."""
        if is_administrator(user):
            return self
        if not user.is_authenticated:
            return self.none()
        return self.filter(user=user)

    @sensitive_variables("plaintext")
    def find_by_token(self, plaintext: str) -> "PersonalAccessToken | None":
        """The token with this value (revoked and expired ones too), or None."""
        return self.filter(token_digest=token_digest(plaintext)).first()

    @sensitive_variables("plaintext")
    def value_in_use(self, plaintext: str) -> bool:
        return self.filter(token_digest=token_digest(plaintext)).exists()

    @sensitive_variables("value")
    def insert(
        self,
        *,
        user,
        name: str,
        scopes: list[str],
        expires_at,
        value: str,
        description: str = "",
        **rotated,
    ):
        """Insert one token with this value (its rules are checked on save). No audit event:
        for create_token() and rotation, which record their own (`rotated`: what a successor
        records of the token it replaces, tokens_site.rotation.retire)."""
        record = self.model(
            user=user,
            name=name.strip(),
            description=description.strip(),
            scopes=[scope for scope in Scope.values if scope in scopes],
            expires_at=expires_at,
            token_digest=token_digest(value),
            **rotated,
        )
        record.save(force_insert=True, using=self.db)
        return record

    @sensitive_variables("token", "plaintext")
    def create_token(
        self,
        *,
        user,
        name: str,
        scopes: list[str],
        expires_at=None,
        description: str = "",
        token: str | None = None,
        actor=None,
        ip_address: str | None = None,
        audit_action: str = AuditAction.PERSONAL_TOKEN_CREATE,
        audit_details: dict | None = None,
    ) -> tuple["PersonalAccessToken", str]:
        """Create a token for `user` — a random one, or the predetermined `token` — under every
        rule, with its audit event (`audit_action`, its details completed by
        `audit_details`: an access token's is its own); returns the record and the value
        (which exists only in this return value). For `manage.py shell` as for the
        services. Without a date it expires as the instance requires (default_token_expiry)."""
        if expires_at is None:
            expires_at = InstanceSettings.current().default_token_expiry()
        errors = personal_token_validate(
            user=user,
            name=name,
            scopes=scopes,
            expires_at=expires_at,
            description=description,
            token=token,
        )
        if token is not None and "token" not in errors and self.value_in_use(token):
            errors["token"] = [_(IN_USE_MESSAGE)]
        if errors:
            raise ValidationError(errors)
        plaintext = token or token_generate(InstanceSettings.current().personal_access_token_prefix)
        with transaction.atomic(using=self.db):
            record = self.insert(
                user=user,
                name=name,
                scopes=scopes,
                expires_at=expires_at,
                description=description,
                value=plaintext,
            )
            audit_event_record(
                action=audit_action,
                actor=actor,
                target=record,
                ip_address=ip_address,
                details={
                    "scopes": record.scopes,
                    "expires_at": str(expires_at or ""),
                    "predetermined": token is not None,
                    **(audit_details or {}),
                },
            )
        return record, plaintext

    def create(self, **kwargs) -> "PersonalAccessToken":
        """The seed's console recipe, `user.personal_access_tokens.create(name=...,
        scopes=[...])` followed by set_token() and save(): the rules apply and the creation is
        audited. The value made here is not returned; set one with set_token(), or use
        create_token() to get it."""
        token, _ = self.create_token(**kwargs)
        return token


class PersonalAccessToken(TokenRecord):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="personal_access_tokens"
    )
    scopes = ScopesField(max_length=255)

    objects = PersonalAccessTokenQuerySet.as_manager()

    class Meta(TokenRecord.Meta):
        verbose_name = gettext_lazy("personal access token")

    def __str__(self) -> str:
        return f"personal access token '{self.name}' of {self.user.get_username()}"

    def clean(self) -> None:
        """A new token meets the rules of every other way to make one: known scopes, sudo only
        for administrators, an expiry date within the instance's maximum lifetime."""
        if not self._state.adding:
            return
        errors = personal_token_validate(
            user=self.user,
            name=self.name,
            scopes=self.scopes or [],
            expires_at=self.expires_at,
            description=self.description,
        )
        if errors:
            raise ValidationError(errors)

    def save(self, *args, **kwargs) -> None:
        """Refuses to insert a token that breaks the rules (see clean()) or has no value."""
        if self._state.adding:
            self.clean()
            if not self.token_digest:
                raise ValidationError(
                    {
                        "token": "A new token needs a value: create it with "
                        "PersonalAccessToken.objects.create_token(...)."
                    }
                )
        super().save(*args, **kwargs)

    @sensitive_variables("plaintext")
    def set_token(self, plaintext: str) -> None:
        """Give this token a predetermined value (at least 20 characters, not in use). Only its
        digest is kept; call save() afterwards."""
        validate_predetermined_value(plaintext)
        if PersonalAccessToken.objects.value_in_use(plaintext):
            raise ValidationError(_(IN_USE_MESSAGE))
        self.token_digest = token_digest(plaintext)

    def revoke(self, *, actor=None, ip_address: str | None = None) -> None:
        """Revoke it, with its audit event (once: see TokenRecord.revoke_once)."""
        with transaction.atomic():
            if not self.revoke_once():
                raise ValidationError(
                    _("The personal access token '%(name)s' was already revoked.")
                    % {"name": self.name}
                )
            audit_event_record(
                action=AuditAction.PERSONAL_TOKEN_REVOKE,
                actor=actor,
                target=self,
                ip_address=ip_address,
            )
