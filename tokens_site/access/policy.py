"""The one place that answers "may this principal do that here".

A user's effective role on a group or project is the highest of their direct membership and
every membership inherited from an ancestor group; administrators act everywhere as an Owner.
`Access` applies the tables of tokens_site.access.abilities to that role and to the thing's
visibility (what pages and services ask); `authorize()` does the same for any principal the
authentication pipeline produces (a token with its scopes, a password, anonymous), answering
with the refusal a client should get. The permission-aware querysets (`visible_to`,
`with_level` on groups and projects) are these rules in SQL.
"""

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.db.models import Max, Q
from django.utils.translation import gettext, gettext_lazy, gettext_noop

from tokens_site.access.abilities import (
    DEPLOY_SCOPES,
    DESCRIPTIONS,
    OPEN_ABILITIES,
    PERSONAL_SCOPES,
    Ability,
    required_level,
)
from tokens_site.access.roles import (
    NO_ACCESS,
    AccessLevel,
    Visibility,
    is_administrator,
    is_blocked,
    is_open,
    role_name,
    visibility_allowed_within,
)
from tokens_site.auth.principal import Kind, Principal
from tokens_site.auth.reasons import alternatives, interpolate, together
from tokens_site.models import Group, InstanceSettings, Membership, Project, is_bot

# What a refusal says was not found, by its subject (others: the API's, read in English only).
NOT_FOUND = {
    "Project": gettext_lazy("The project was not found."),
    "Group": gettext_lazy("The group was not found."),
}


class Denied(Exception):
    """A refusal with its HTTP status (401, 403 or 404) and a reason a person can act on.
    `subject` names what was not found (GitLab's API says `404 Project Not Found`); `scopes`,
    the token scopes that would have been enough (GitLab's API says `insufficient_scope`).

    The reason is lazy (tokens_site.auth.reasons): the answer makes it in the client's
    language, the log line and the REST API in English."""

    def __init__(
        self,
        status: int,
        reason: str,
        *,
        subject: str = "",
        scopes: frozenset[str] = frozenset(),
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.subject = subject
        self.scopes = scopes

    @classmethod
    def not_found(cls, subject: str) -> "Denied":
        reason = NOT_FOUND.get(subject) or f"The {subject.lower()} was not found."
        return cls(404, reason, subject=subject)

    @classmethod
    def insufficient_scope(cls, scopes: frozenset[str], *, kind: str = "token") -> "Denied":
        """`kind`: "token", or "deploy token"."""
        message = (
            gettext_lazy("Insufficient scope: this deploy token needs %(scopes)s.")
            if kind == "deploy token"
            else gettext_lazy("Insufficient scope: this token needs %(scopes)s.")
        )
        needs = alternatives(sorted(scopes))
        return cls(403, interpolate(message, scopes=needs), scopes=scopes)


def membership_level(user, *, group_ids: list[int], project_id: int | None = None) -> int:
    """The highest role `user`'s memberships give among these groups (and project): what a
    member holds, whoever they are (an administrator's own memberships included)."""
    where = Q(group_id__in=group_ids)
    if project_id is not None:
        where |= Q(project_id=project_id)
    found = Membership.objects.filter(where, user=user).aggregate(level=Max("access_level"))
    return found["level"] or NO_ACCESS


def effective_level(user, *, group_ids: list[int], project_id: int | None = None) -> int:
    """What `user` may do among these groups (and project): their highest membership, Owner
    for an administrator, nothing for an anonymous or blocked user."""
    if user is None or not user.is_authenticated or is_blocked(user):
        return NO_ACCESS
    if is_administrator(user):
        return AccessLevel.OWNER
    return membership_level(user, group_ids=group_ids, project_id=project_id)


def inherited_level(user, source) -> int:
    """The role `user` holds on `source` (a group or project) through the groups above it:
    a member may not be given less there."""
    return membership_level(user, group_ids=source.inherited_group_ids)


class _Abilities:
    """`access.may.manage_members` in templates: the abilities by name."""

    def __init__(self, access: "Access") -> None:
        self._access = access

    def __getitem__(self, name: str) -> bool:
        return self._access.can(Ability(name))


# "You need at least the Developer role in this project to push code (you have Reporter).", by
# (the role needed is Owner, on a group).
REFUSALS = {
    (False, False): gettext_lazy(
        # Translators: %(role)s and %(current)s are role names (Developer, Reporter, "no
        # role"); %(action)s is what the role allows ("push code", "download packages"...).
        "You need at least the %(role)s role in this project to %(action)s (you have %(current)s)."
    ),
    (True, False): gettext_lazy(
        "You need the %(role)s role in this project to %(action)s (you have %(current)s)."
    ),
    (False, True): gettext_lazy(
        "You need at least the %(role)s role in this group to %(action)s (you have %(current)s)."
    ),
    (True, True): gettext_lazy(
        "You need the %(role)s role in this group to %(action)s (you have %(current)s)."
    ),
}


@dataclass(frozen=True)
class Access:
    """What one user may do on one group or project. (Who may see a group is
    `Group.objects.visible_to`: also the members of something inside it, to find their way
    down to it.)"""

    level: int
    visibility: str
    signed_in: bool
    on_group: bool

    @property
    def role(self) -> str:
        return AccessLevel(self.level).label if self.level else gettext("No access")

    @property
    def is_open(self) -> bool:
        """Readable without any membership (public, or internal for a signed-in user)."""
        return is_open(self.visibility, signed_in=self.signed_in)

    def can(self, ability: Ability) -> bool:
        if ability in OPEN_ABILITIES and self.is_open:
            return True
        return self.level >= required_level(ability, on_group=self.on_group)

    @property
    def may(self) -> _Abilities:
        return _Abilities(self)

    def refusal(self, ability: Ability) -> str:
        """Why `ability` is refused here, in a sentence a person can act on (lazy: made in the
        language of whoever reads it)."""
        needed = required_level(ability, on_group=self.on_group)
        owner = needed == AccessLevel.OWNER
        message = REFUSALS[(owner, self.on_group)]
        return interpolate(
            message,
            role=needed.label,
            action=DESCRIPTIONS[ability],
            current=role_name(self.level),
        )

    def require(self, ability: Ability, reason: str | None = None) -> None:
        if not self.can(ability):
            raise PermissionDenied(reason or self.refusal(ability))

    def grantable_levels(self) -> list[AccessLevel]:
        """Levels this user may give a member: Maintainers up to Maintainer, Owners any."""
        if not self.can(Ability.MANAGE_MEMBERS):
            return []
        return [
            level for level in AccessLevel if level < AccessLevel.OWNER or self.can(Ability.OWN)
        ]

    def may_grant(self, level: int) -> bool:
        """Whether this user may give `level` (to a member, to an access token's bot) or act
        on what holds it: at most their own role, Owner only from an Owner."""
        return level in self.grantable_levels()

    def can_manage_member(self, member_level: int) -> bool:
        """Maintainers manage members below Owner; only Owners touch Owners."""
        return self.can(Ability.MANAGE_MEMBERS) and (
            member_level < AccessLevel.OWNER or self.can(Ability.OWN)
        )


def group_access(user, group: Group) -> Access:
    return Access(
        level=effective_level(user, group_ids=group.ancestor_ids),
        visibility=group.visibility,
        signed_in=user is not None and user.is_authenticated,
        on_group=True,
    )


def project_access(user, project: Project) -> Access:
    return Access(
        level=effective_level(user, group_ids=project.group.ancestor_ids, project_id=project.pk),
        visibility=project.visibility,
        signed_in=user is not None and user.is_authenticated,
        on_group=False,
    )


def access_on(user, source: Group | Project) -> Access:
    return group_access(user, source) if isinstance(source, Group) else project_access(user, source)


def has_scope(principal: Principal, ability: Ability) -> bool:
    """Whether the principal's scopes allow `ability` (a password or anonymous has no
    scopes to limit it: its role decides)."""
    if principal.kind is Kind.DEPLOY_TOKEN:
        return DEPLOY_SCOPES.get(ability) in principal.scopes
    if principal.kind is Kind.PERSONAL_TOKEN:
        return bool(PERSONAL_SCOPES[ability] & principal.scopes)
    return True


EXTERNAL_AUTHORIZATION_REFUSAL = gettext_noop(
    "Deploy tokens cannot be used while external authorization is on."
)


def check_instance_policy(principal: Principal) -> None:
    """Raise Denied (403) when the instance settings refuse this kind of credential on every
    endpoint, whatever it asks for: deploy tokens while external authorization is on."""
    if (
        principal.kind is Kind.DEPLOY_TOKEN
        and InstanceSettings.current().external_authorization_enabled
    ):
        raise Denied(403, gettext_lazy(EXTERNAL_AUTHORIZATION_REFUSAL))


def authorize(
    principal: Principal, project: Project, ability: Ability, *, access: Access | None = None
) -> None:
    """Raise Denied unless `principal` may exercise `ability` on `project`: 404 for what it
    may not see, 401 for anonymous requests that need a credential, 403 with the reason
    otherwise. `access`: the principal's user's on `project`, when already known."""
    if principal.kind is Kind.DEPLOY_TOKEN:
        if not principal.token.reaches(project):
            raise Denied.not_found("Project")
        scope = DEPLOY_SCOPES.get(ability)
        if scope is None:
            raise Denied(
                403,
                gettext_lazy("Deploy tokens cannot push code: they only read the repository.")
                if ability is Ability.WRITE_REPOSITORY
                else gettext_lazy(
                    "Deploy tokens cannot use the API: they only read the repository."
                ),
            )
        if not has_scope(principal, ability):
            raise Denied.insufficient_scope(frozenset({scope}), kind="deploy token")
        return
    access = access or project_access(principal.user, project)
    if principal.is_anonymous:
        if access.can(ability):
            return
        raise Denied(401, "Authentication required.")
    if not access.can(Ability.VIEW):
        raise Denied.not_found("Project")
    # After the 404: a token's scopes must not tell whether a private project exists.
    if not has_scope(principal, ability):
        raise Denied.insufficient_scope(PERSONAL_SCOPES[ability])
    if not access.can(ability):
        raise Denied(403, access.refusal(ability))


def projects_allowed(principal: Principal, projects, ability: Ability) -> list[Project]:
    """The projects among `projects` (in their order) where `principal` may exercise `ability`:
    what a feed over several projects serves (a group's NuGet feed, npm's instance level)."""
    allowed = []
    for project in projects:
        try:
            authorize(principal, project, ability)
        except Denied:
            continue
        allowed.append(project)
    return allowed


# The dependency proxy (per top-level group): what a token needs to pull through it, as GitLab.
DEPENDENCY_PROXY_SCOPES = frozenset({"read_registry", "write_registry"})


def may_pull_through_proxy(principal: Principal, group: Group | None) -> bool:
    """Whether `principal` may pull through `group`'s dependency proxy: the group's own deploy
    tokens with read_registry and write_registry, and its members (Guest and up) with a token
    that has both (or api). A credential that could never pull anywhere is refused (Denied),
    judged before the group, so the refusal says nothing about which groups exist."""
    if principal.is_anonymous:
        raise Denied(401, "")
    missing = DEPENDENCY_PROXY_SCOPES - principal.scopes
    if principal.kind is Kind.DEPLOY_TOKEN and missing:
        message = gettext_lazy(
            "This deploy token needs read_registry and write_registry for the dependency "
            "proxy; it lacks %(missing)s."
        )
        raise Denied(403, interpolate(message, missing=together(sorted(missing))))
    if principal.kind is Kind.PERSONAL_TOKEN and missing and "api" not in principal.scopes:
        message = gettext_lazy(
            "This token needs read_registry and write_registry (or api) for the dependency "
            "proxy; it lacks %(missing)s."
        )
        raise Denied(403, interpolate(message, missing=together(sorted(missing))))
    if group is None:
        return False
    if principal.kind is Kind.DEPLOY_TOKEN:
        return principal.token.group_id == group.pk
    return principal.user is not None and group_access(principal.user, group).level >= (
        AccessLevel.GUEST
    )


def allowed_abilities(principal: Principal, project: Project, abilities) -> set[Ability]:
    """Which of `abilities` `principal` may exercise on `project` (its role read once)."""
    access = (
        None if principal.kind is Kind.DEPLOY_TOKEN else project_access(principal.user, project)
    )
    granted = set()
    for ability in abilities:
        try:
            authorize(principal, project, ability, access=access)
        except Denied:
            continue
        granted.add(ability)
    return granted


def may_read_registry_catalog(principal: Principal) -> bool:
    """The registry's catalog (every repository's name) is for administrators only."""
    return is_administrator(principal.user)


def token_acts_on_itself(principal: Principal, token_id: str, ability: Ability | None) -> bool:
    """Whether the call is the authenticating token acting on itself (`token_id` is "self"
    or its own id) with what that needs: any token may see and revoke itself, whatever its
    scopes (`ability` None); rotating itself needs `ability` (self_rotate)."""
    if principal.token is None or token_id not in ("self", str(principal.token.pk)):
        return False
    return ability is None or has_scope(principal, ability)


def members_who_may(ability: Ability, source: Group | Project) -> list:
    """The members (people, never bots; active, with an email address) who may do `ability`
    on `source`, by a role there or on a group above: whom notices about it go to."""
    level = required_level(ability, on_group=isinstance(source, Group))
    people = Membership.objects.filter(user__is_active=True, user__bot__isnull=True).exclude(
        user__email=""
    )
    return [m.user for m in people.effective_on(source) if m.access_level >= level]


def require_administrator(user, reason: str | None = None) -> None:
    if not is_administrator(user):
        raise PermissionDenied(reason or gettext("Only administrators can do that."))


def require_sudo(principal: Principal) -> None:
    """GitLab's `Sudo`: only an administrator's token with the `sudo` scope may act as
    another user (asked before the user is looked up: no one else learns who exists)."""
    if not has_scope(principal, Ability.SUDO):
        raise Denied.insufficient_scope(PERSONAL_SCOPES[Ability.SUDO])
    if not is_administrator(principal.user):  # the REST API's only: GitLab's words, in English
        raise Denied(403, "Must be admin to use sudo")


def require_impersonable(user) -> None:
    """No one acts as a blocked user, with Sudo either. (The REST API's only: in English.)"""
    if is_blocked(user):
        raise Denied(403, "The user you are trying to impersonate is blocked")


def is_self_or_administrator(actor, user_id: int) -> bool:
    """What is a user's own (their account's details, their personal tokens) is theirs and
    the administrators'. (`PersonalAccessToken.objects.visible_to` is this rule as a
    queryset.)"""
    return actor.pk == user_id or is_administrator(actor)


# require_self_or_administrator's refusal, by the verb its callers give.
OWN_TOKENS_ONLY = {
    "create": gettext_lazy("You can create only your own personal access tokens."),
    "revoke": gettext_lazy("You can revoke only your own personal access tokens."),
    "rotate": gettext_lazy("You can rotate only your own personal access tokens."),
}


def require_self_or_administrator(actor, user, verb: str) -> None:
    """A user manages their own personal tokens; administrators anyone's; `actor=None` is
    the console (manage.py)."""
    if actor is not None and not is_self_or_administrator(actor, user.pk):
        reason = OWN_TOKENS_ONLY.get(verb)
        raise PermissionDenied(
            str(reason) if reason else f"You can {verb} only your own personal access tokens."
        )


def require_person(actor, what: str = "tokens") -> None:
    """Bots (the users of project and group access tokens) make no tokens of any kind: a
    leaked token must not breed others."""
    if is_bot(actor):
        raise PermissionDenied(
            gettext(
                "Project and group access tokens cannot create %(what)s: use a person's account."
            )
            % {"what": what}
        )


def visibility_choices_within(parent: Group | None) -> list[tuple[str, str]]:
    """Visibilities allowed under `parent`: never more open than the parent group."""
    parent_visibility = parent.visibility if parent is not None else None
    return [
        (value, label)
        for value, label in Visibility.choices
        if visibility_allowed_within(value, parent_visibility)
    ]
