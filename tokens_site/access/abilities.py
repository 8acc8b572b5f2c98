"""What can be asked of a group or project, and what each ask needs: a role (on a group or a
project), a token scope (personal and deploy tokens), and whether visibility alone opens it.

These tables are the rules; `tokens_site.access.policy` applies them.
"""

from enum import StrEnum

from django.utils.translation import pgettext_lazy

from tokens_site.access.roles import AccessLevel


class Ability(StrEnum):
    # What clients ask of a project through the downstream endpoints.
    READ_REPOSITORY = "read_repository"
    WRITE_REPOSITORY = "write_repository"
    READ_REGISTRY = "read_registry"
    WRITE_REGISTRY = "write_registry"
    READ_PACKAGES = "read_package_registry"
    WRITE_PACKAGES = "write_package_registry"
    READ_API = "read_api"
    WRITE_API = "write_api"
    READ_USER = "read_user"
    ROTATE_SELF = "rotate_self"
    SUDO = "sudo"  # act as another user (the API's `Sudo`)
    # What people do on a group or project (pages, and the API's writes).
    VIEW = "view"
    CREATE_WITHIN = "create_within"
    MANAGE_MEMBERS = "manage_members"
    MANAGE_SETTINGS = "manage_settings"
    MANAGE_DEPLOY_TOKENS = "manage_deploy_tokens"
    MANAGE_ACCESS_TOKENS = "manage_access_tokens"
    OWN = "own"


# Granted by visibility alone: anyone may do these on a public project, any signed-in user on
# an internal one.
OPEN_ABILITIES = frozenset(
    {
        Ability.VIEW,
        Ability.READ_REPOSITORY,
        Ability.READ_REGISTRY,
        Ability.READ_PACKAGES,
        Ability.READ_API,
    }
)

# The role each ability needs on a project, and where it differs, on a group.
PROJECT_LEVEL = {
    Ability.VIEW: AccessLevel.GUEST,
    Ability.READ_API: AccessLevel.GUEST,
    Ability.READ_REPOSITORY: AccessLevel.REPORTER,
    Ability.READ_REGISTRY: AccessLevel.REPORTER,
    Ability.READ_PACKAGES: AccessLevel.REPORTER,
    Ability.WRITE_REPOSITORY: AccessLevel.DEVELOPER,
    Ability.WRITE_REGISTRY: AccessLevel.DEVELOPER,
    Ability.WRITE_PACKAGES: AccessLevel.DEVELOPER,
    Ability.WRITE_API: AccessLevel.DEVELOPER,
    Ability.CREATE_WITHIN: AccessLevel.MAINTAINER,
    Ability.MANAGE_MEMBERS: AccessLevel.MAINTAINER,
    Ability.MANAGE_SETTINGS: AccessLevel.MAINTAINER,
    Ability.MANAGE_DEPLOY_TOKENS: AccessLevel.MAINTAINER,
    Ability.MANAGE_ACCESS_TOKENS: AccessLevel.MAINTAINER,
    Ability.OWN: AccessLevel.OWNER,
}
GROUP_LEVEL = {
    **PROJECT_LEVEL,
    # A group's deploy tokens reach every project below it: only its Owners manage them.
    Ability.MANAGE_DEPLOY_TOKENS: AccessLevel.OWNER,
    Ability.MANAGE_ACCESS_TOKENS: AccessLevel.OWNER,
    Ability.MANAGE_SETTINGS: AccessLevel.OWNER,
}

# Personal access token scopes that grant each ability (the user's role is checked as well).
PERSONAL_SCOPES = {
    Ability.READ_REPOSITORY: frozenset({"read_repository", "write_repository", "api"}),
    Ability.WRITE_REPOSITORY: frozenset({"write_repository", "api"}),
    Ability.READ_REGISTRY: frozenset({"read_registry", "read_api", "api"}),
    Ability.WRITE_REGISTRY: frozenset({"write_registry", "api"}),
    Ability.READ_PACKAGES: frozenset({"read_api", "api"}),
    Ability.WRITE_PACKAGES: frozenset({"api"}),
    Ability.READ_API: frozenset({"read_api", "api"}),
    Ability.WRITE_API: frozenset({"api"}),
    Ability.READ_USER: frozenset({"read_user", "read_api", "api"}),
    Ability.ROTATE_SELF: frozenset({"self_rotate", "api"}),
    Ability.SUDO: frozenset({"sudo"}),
}

# The one deploy token scope that grants each ability; deploy tokens never push code and
# never use the API.
DEPLOY_SCOPES = {
    Ability.READ_REPOSITORY: "read_repository",
    Ability.READ_REGISTRY: "read_registry",
    Ability.WRITE_REGISTRY: "write_registry",
    Ability.READ_PACKAGES: "read_package_registry",
    Ability.WRITE_PACKAGES: "write_package_registry",
}

# "You need at least the Developer role in this project to <what>" (policy.REFUSALS): each is
# the end of that sentence (its %(action)s), translated to fit there.
DESCRIPTIONS = {
    Ability.VIEW: pgettext_lazy("to do, when a role is needed", "see it"),
    Ability.READ_REPOSITORY: pgettext_lazy("to do, when a role is needed", "read its code"),
    Ability.WRITE_REPOSITORY: pgettext_lazy("to do, when a role is needed", "push code"),
    Ability.READ_REGISTRY: pgettext_lazy("to do, when a role is needed", "pull images"),
    Ability.WRITE_REGISTRY: pgettext_lazy("to do, when a role is needed", "push images"),
    Ability.READ_PACKAGES: pgettext_lazy("to do, when a role is needed", "download packages"),
    Ability.WRITE_PACKAGES: pgettext_lazy("to do, when a role is needed", "upload packages"),
    Ability.READ_API: pgettext_lazy("to do, when a role is needed", "read it"),
    Ability.WRITE_API: pgettext_lazy("to do, when a role is needed", "change it"),
    Ability.READ_USER: pgettext_lazy("to do, when a role is needed", "read users"),
    Ability.ROTATE_SELF: pgettext_lazy("to do, when a role is needed", "rotate this token"),
    Ability.SUDO: pgettext_lazy("to do, when a role is needed", "act as another user"),
    Ability.CREATE_WITHIN: pgettext_lazy(
        "to do, when a role is needed", "create projects and subgroups in it"
    ),
    Ability.MANAGE_MEMBERS: pgettext_lazy("to do, when a role is needed", "manage its members"),
    Ability.MANAGE_SETTINGS: pgettext_lazy("to do, when a role is needed", "change its settings"),
    Ability.MANAGE_DEPLOY_TOKENS: pgettext_lazy(
        "to do, when a role is needed", "manage its deploy tokens"
    ),
    Ability.MANAGE_ACCESS_TOKENS: pgettext_lazy(
        "to do, when a role is needed", "manage its access tokens"
    ),
    Ability.OWN: pgettext_lazy("to do, when a role is needed", "do that"),
}


def required_level(ability: Ability, *, on_group: bool) -> AccessLevel:
    return (GROUP_LEVEL if on_group else PROJECT_LEVEL)[ability]
