"""Personal access tokens: a user's own credentials for the API, Git over HTTP and the
registries, limited by scopes. Only a digest of each token is stored."""

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from tokens_site.models import TokenQuerySet, TokenRecord
from tokens_site.tokens import DEPLOY_TOKEN_PREFIX, token_digest, token_is_plausible

PREDETERMINED_MIN_LENGTH = 20
PREDETERMINED_MAX_LENGTH = 255
# Printable ASCII without spaces: usable in HTTP headers, Basic credentials and URLs.
PREDETERMINED_PATTERN = re.compile(r"[\x21-\x7e]+")


class Scope(models.TextChoices):
    API = (
        "api",
        "Grants complete read/write access to the API, including all groups and projects, "
        "the container registry, and the package registry.",
    )
    READ_API = (
        "read_api",
        "Grants read access to the API, including all groups and projects, the container "
        "registry, and the package registry.",
    )
    READ_USER = (
        "read_user",
        "Grants read-only access to your profile through the /user API endpoint, and to the "
        "read-only API endpoints under /users.",
    )
    READ_REPOSITORY = (
        "read_repository",
        "Grants read-only access to repositories on private projects using Git-over-HTTP.",
    )
    WRITE_REPOSITORY = (
        "write_repository",
        "Grants read-write access to repositories on private projects using Git-over-HTTP.",
    )
    READ_REGISTRY = (
        "read_registry",
        "Grants read-only access to container registry images on private projects.",
    )
    WRITE_REGISTRY = (
        "write_registry",
        "Grants write access to container registry images on private projects.",
    )
    SUDO = (
        "sudo",
        "Grants permission to perform API actions as any user in the system, when "
        "authenticated as an administrator.",
    )
    SELF_ROTATE = (
        "self_rotate",
        "Grants permission to rotate this token using the personal access token API.",
    )


ADMIN_ONLY_SCOPES = frozenset({Scope.SUDO})


def scopes_offered_to(user) -> list[Scope]:
    """`sudo` is offered only to administrators."""
    return [scope for scope in Scope if user.is_superuser or scope not in ADMIN_ONLY_SCOPES]


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


def could_be_personal_token(plaintext: str) -> bool:
    """Decided in memory: a deploy token's prefix, or a known prefix or shape with a wrong
    checksum, rules a value out without any lookup."""
    return not plaintext.startswith(DEPLOY_TOKEN_PREFIX) and token_is_plausible(plaintext)


def validate_predetermined_token(plaintext: str) -> None:
    if len(plaintext) < PREDETERMINED_MIN_LENGTH:
        raise ValidationError(
            f"A predetermined token must be at least {PREDETERMINED_MIN_LENGTH} characters long."
        )
    if len(plaintext) > PREDETERMINED_MAX_LENGTH or not PREDETERMINED_PATTERN.fullmatch(plaintext):
        raise ValidationError(
            f"A predetermined token may contain only printable ASCII characters without spaces, "
            f"at most {PREDETERMINED_MAX_LENGTH}."
        )
    if not could_be_personal_token(plaintext):
        raise ValidationError(
            "That value looks like a token this site generates (a known prefix, or '-' followed "
            "by 32 letters and digits) but its checksum does not match; choose another value."
        )
    if PersonalAccessToken.objects.filter(token_digest=token_digest(plaintext)).exists():
        raise ValidationError("That token is already in use; choose another.")


class PersonalAccessTokenQuerySet(TokenQuerySet):
    def find_by_token(self, plaintext: str) -> "PersonalAccessToken | None":
        """The token with this value (revoked and expired ones too), or None."""
        return self.filter(token_digest=token_digest(plaintext)).first()

    def create_token(self, **kwargs) -> tuple["PersonalAccessToken", str]:
        """Create through the service (rules and audit), for `manage.py shell`: returns the
        token and its value. Takes the service's keyword arguments (user, name, scopes, ...)."""
        from personal_tokens.services import personal_token_create

        return personal_token_create(**kwargs)

    def create(self, **kwargs) -> "PersonalAccessToken":
        """The same, for the seed's console recipe `user.personal_access_tokens.create(name=...,
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
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    # When the owner was told the token expires within a week / expired today (once each).
    expiry_warning_sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    expired_notice_sent_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = PersonalAccessTokenQuerySet.as_manager()

    class Meta(TokenRecord.Meta):
        verbose_name = "personal access token"

    def __str__(self) -> str:
        return f"personal access token '{self.name}' of {self.user.get_username()}"

    def clean(self) -> None:
        """A new token meets the rules of every other way to make one: known scopes, sudo only
        for administrators, an expiry date within the instance's maximum lifetime."""
        if not self._state.adding:
            return
        from personal_tokens.services import personal_token_validate

        errors = personal_token_validate(
            user=self.user, name=self.name, scopes=self.scopes or [], expires_at=self.expires_at
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

    def set_token(self, plaintext: str) -> None:
        """Give this token a predetermined value (at least 20 characters, not in use). Only its
        digest is kept; call save() afterwards."""
        validate_predetermined_token(plaintext)
        self.token_digest = token_digest(plaintext)

    def revoke(self, *, actor=None, ip_address: str | None = None) -> None:
        from personal_tokens.services import personal_token_revoke

        personal_token_revoke(actor=actor, token=self, ip_address=ip_address)
