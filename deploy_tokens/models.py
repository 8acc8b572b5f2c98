"""Deploy tokens: a (username, token) pair that lets a machine clone a project's repository and
use its registries, without a user account. A project token reaches that project; a group token
reaches every project of the group and of all its subgroups."""

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tokens_site.models import Group, Project, TokenQuerySet, TokenRecord
from tokens_site.tokens import DEPLOY_TOKEN_PREFIX

PREFIX = DEPLOY_TOKEN_PREFIX
DEFAULT_USERNAME_FORMAT = "gitlab+deploy-token-{n}"
# The name that exposes a token to the project's CI jobs as CI_DEPLOY_USER / CI_DEPLOY_PASSWORD.
GITLAB_DEPLOY_TOKEN_NAME = "gitlab-deploy-token"

validate_username = RegexValidator(
    r"\A[A-Za-z0-9_.+-]+\Z",
    gettext_lazy("A username may contain only letters, digits, '_', '-', '+' and '.'."),
)


class Scope(models.TextChoices):
    READ_REPOSITORY = "read_repository", gettext_lazy("Allows read-only access to the repository.")
    READ_REGISTRY = "read_registry", gettext_lazy("Allows read-only access to registry images.")
    # A registry (docker distribution) lets only a pull-and-push token push: say so here.
    WRITE_REGISTRY = (
        "write_registry",
        gettext_lazy("Allows write access to registry images. Pushing also needs read_registry."),
    )
    READ_PACKAGE_REGISTRY = (
        "read_package_registry",
        gettext_lazy("Allows read-only access to the package registry."),
    )
    WRITE_PACKAGE_REGISTRY = (
        "write_package_registry",
        gettext_lazy("Allows write access to the package registry."),
    )


# The scopes in their order, once (Scope.values builds its list anew at every use).
SCOPES = tuple(Scope.values)


class DeployTokenQuerySet(TokenQuerySet):
    def reaching(self, project: Project) -> "DeployTokenQuerySet":
        """Tokens of the project and of its group and every ancestor group."""
        return self.filter(Q(project=project) | Q(group_id__in=project.group.ancestor_ids))


class DeployToken(TokenRecord):
    username = models.CharField(max_length=255, validators=[validate_username])
    project = models.ForeignKey(
        Project, null=True, blank=True, on_delete=models.CASCADE, related_name="deploy_tokens"
    )
    group = models.ForeignKey(
        Group, null=True, blank=True, on_delete=models.CASCADE, related_name="deploy_tokens"
    )
    read_repository = models.BooleanField(default=False)
    read_registry = models.BooleanField(default=False)
    write_registry = models.BooleanField(default=False)
    read_package_registry = models.BooleanField(default=False)
    write_package_registry = models.BooleanField(default=False)
    # Only for the `gitlab-deploy-token`, which CI jobs must be given in plaintext.
    token_encrypted = models.TextField(blank=True, editable=False)
    # Recorded for the audit trail only; never used to authorize anything.
    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    objects = DeployTokenQuerySet.as_manager()

    class Meta(TokenRecord.Meta):
        constraints = [
            models.CheckConstraint(
                condition=Q(group__isnull=False, project__isnull=True)
                | Q(group__isnull=True, project__isnull=False),
                name="deploy_token_group_xor_project",
                violation_error_message=gettext_lazy(
                    "A deploy token belongs to either a project or a group."
                ),
            ),
        ]

    def __str__(self) -> str:
        return f"deploy token '{self.name}' ({self.username}) of {self.owner_label}"

    def clean(self) -> None:
        if not self.scopes:
            raise ValidationError({"scopes": _("Select at least one scope.")})

    @property
    def scopes(self) -> list[str]:
        return [scope for scope in SCOPES if getattr(self, scope)]

    @scopes.setter
    def scopes(self, values: list[str]) -> None:
        for scope in Scope.values:
            setattr(self, scope, scope in values)

    @property
    def owner(self) -> Group | Project:
        return self.project or self.group

    @property
    def owner_label(self) -> str:
        kind = "project" if self.project_id else "group"
        return f"{kind} {self.owner.full_path}"

    def reaches(self, project: Project) -> bool:
        """Does this token work for `project`? Its own project, or any project below its group
        (the project's group traversal lists every group above it: no query)."""
        if self.project_id is not None:
            return self.project_id == project.pk
        return self.group_id in project.group.ancestor_ids
