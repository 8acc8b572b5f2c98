"""The site-wide domain, one module per concern:

- `namespaces`: groups and projects (and their permission-aware querysets);
- `memberships`: a user's role on a group or project;
- `instance`: the instance settings;
- `audit`: the audit log;
- `tokens`: what every token kind stores;
- `security`: failed-authentication bans and counters, sign-in lockouts, single-use form keys;
- `bots`: the users project and group access tokens act as;
- `notices`: which expiry notices were sent (tokens_site.expiry_notices);
- `lfs`: Git LFS objects and locks;
- `dependency_proxy`: the dependency proxy's cache;
- `preferences`: what a user chose for themselves (their language).

The package registry's models are in their own app (tokens_site.packages).
"""

from tokens_site.access.roles import (
    NO_ACCESS,
    VISIBILITY_HELP,
    VISIBILITY_RANK,
    AccessLevel,
    Visibility,
)
from tokens_site.models.audit import AuditAction, AuditEvent
from tokens_site.models.bots import Bot, is_bot
from tokens_site.models.dependency_proxy import DependencyProxyBlob, DependencyProxyManifest
from tokens_site.models.instance import (
    LIFETIME_RANGE_MESSAGE,
    MAX_TOKEN_LIFETIME_LIMIT_DAYS,
    InstanceSettings,
)
from tokens_site.models.lfs import LfsLock, LfsObject
from tokens_site.models.memberships import Membership, MembershipQuerySet
from tokens_site.models.namespaces import (
    FULL_PATH_MAX_LENGTH,
    MAX_GROUP_DEPTH,
    Group,
    GroupQuerySet,
    PathQuerySet,
    PathRecord,
    Project,
    ProjectQuerySet,
    repository_relative_path,
)
from tokens_site.models.notices import TokenExpiryNotice
from tokens_site.models.preferences import UserPreferences
from tokens_site.models.security import (
    AccountLockout,
    AddressBan,
    FailedAuthCounter,
    FormKeyClaim,
)
from tokens_site.models.tokens import (
    DESCRIPTION_MAX_LENGTH,
    DESCRIPTION_TOO_LONG,
    DESCRIPTION_TOO_LONG_SHOWN,
    TokenQuerySet,
    TokenRecord,
    active_condition,
    expired_condition,
)

__all__ = [
    "DESCRIPTION_MAX_LENGTH",
    "DESCRIPTION_TOO_LONG",
    "DESCRIPTION_TOO_LONG_SHOWN",
    "FULL_PATH_MAX_LENGTH",
    "LIFETIME_RANGE_MESSAGE",
    "MAX_GROUP_DEPTH",
    "MAX_TOKEN_LIFETIME_LIMIT_DAYS",
    "NO_ACCESS",
    "VISIBILITY_HELP",
    "VISIBILITY_RANK",
    "AccessLevel",
    "AccountLockout",
    "AddressBan",
    "AuditAction",
    "AuditEvent",
    "Bot",
    "DependencyProxyBlob",
    "DependencyProxyManifest",
    "FailedAuthCounter",
    "FormKeyClaim",
    "Group",
    "GroupQuerySet",
    "InstanceSettings",
    "LfsLock",
    "LfsObject",
    "Membership",
    "MembershipQuerySet",
    "PathQuerySet",
    "PathRecord",
    "Project",
    "ProjectQuerySet",
    "TokenExpiryNotice",
    "TokenQuerySet",
    "TokenRecord",
    "UserPreferences",
    "Visibility",
    "active_condition",
    "expired_condition",
    "is_bot",
    "repository_relative_path",
]
