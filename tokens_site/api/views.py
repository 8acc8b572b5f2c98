"""REST API v4: the subset python-gitlab needs for users, groups, projects, members, deploy
tokens and personal access tokens, on Django REST framework (base.py). Every write goes through
the same services as the web pages; every read through the same permission-aware querysets."""

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import HttpResponse
from django.utils.text import slugify
from django.views.decorators.debug import sensitive_variables
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_view
from drf_spectacular.views import SpectacularJSONAPIView
from rest_framework.response import Response

from access_tokens.services import (
    access_token_access,
    access_token_create,
    access_token_require,
    access_token_revoke,
    access_token_rotate,
    tokens_of,
)
from deploy_tokens.models import DeployToken
from deploy_tokens.services import (
    deploy_token_access,
    deploy_token_create,
    deploy_token_revoke,
    deploy_token_rotate,
)
from personal_tokens.models import PersonalAccessToken
from personal_tokens.services import (
    personal_token_create,
    personal_token_revoke,
    personal_token_rotate,
)
from tokens_site import services
from tokens_site.access.abilities import Ability
from tokens_site.access.lookups import find, first_by_id
from tokens_site.access.policy import (
    Denied,
    group_access,
    is_administrator,
    is_self_or_administrator,
    project_access,
    require_administrator,
)
from tokens_site.api import ordering as orders
from tokens_site.api import serializers as shapes
from tokens_site.api.base import ApiView
from tokens_site.api.pagination import PageQuery
from tokens_site.dependency_proxy.upstream import purge as purge_dependency_proxy
from tokens_site.models import AccessLevel, Group, Membership, Project, is_bot
from tokens_site.packages.models import Package
from tokens_site.packages.services import package_destroy
from tokens_site.token_inventory import lookup as token_lookup
from tokens_site.token_inventory import record_find, revoke_found

User = get_user_model()


def _created(data) -> Response:
    return Response(data, status=201)


def _no_content() -> Response:
    return Response(status=204)


# --- Users ------------------------------------------------------------------------------------


def _user(user_id: str):
    account = first_by_id(User.objects, user_id)
    if account is None:
        raise Denied.not_found("User")
    return account


class CurrentUser(ApiView):
    read_ability = Ability.READ_USER

    @extend_schema(responses=shapes.FullUserSerializer)
    def get(self, request):
        account = request.user
        # The token lookup loads only the columns authentication needs; load the rest in one
        # query, not one per field the full shape reads.
        if deferred := account.get_deferred_fields():
            account.refresh_from_db(fields=sorted(deferred))
        return Response(shapes.FullUserSerializer(account).data)


class Users(ApiView):
    read_ability = Ability.READ_USER
    ordering = orders.USERS

    @extend_schema(
        parameters=[shapes.UserList, ordering.query, PageQuery],
        responses=shapes.UserSerializer(many=True),
    )
    def get(self, request):
        query = self.query(shapes.UserList)
        accounts = User.objects.all()
        full = is_administrator(request.user)
        if not full:  # access tokens' bots are no one to pick
            accounts = accounts.filter(bot__isnull=True)
        if username := query.get("username"):
            accounts = accounts.filter(username__iexact=username)
        if search := query.get("search"):
            matches = (
                Q(username__icontains=search)
                | Q(first_name__icontains=search)
                | Q(last_name__icontains=search)
            )
            if full:  # others never see an address, so they may not search by one either
                matches |= Q(email__icontains=search)
            accounts = accounts.filter(matches)
        if query["active"]:
            accounts = accounts.filter(is_active=True)
        if query["blocked"]:
            accounts = accounts.filter(is_active=False)
        return self.listed(accounts, shapes.FullUserSerializer if full else shapes.UserSerializer)

    @extend_schema(request=shapes.UserCreate, responses={201: shapes.FullUserSerializer})
    @sensitive_variables()
    def post(self, request):
        data = self.parameters(shapes.UserCreate)
        account = services.user_create(
            actor=request.user,
            username=data["username"],
            email=data["email"],
            name=data["name"],
            password=data.get("password"),
            is_admin=data["admin"],
        )
        return _created(shapes.FullUserSerializer(account).data)


class UserDetail(ApiView):
    read_ability = Ability.READ_USER

    @extend_schema(responses=shapes.UserSerializer)
    def get(self, request, user_id):
        account = _user(user_id)
        full = is_self_or_administrator(request.user, account.pk)
        shape = shapes.FullUserSerializer if full else shapes.UserSerializer
        return Response(shape(account).data)

    @extend_schema(request=shapes.UserUpdate, responses=shapes.FullUserSerializer)
    @sensitive_variables()
    def put(self, request, user_id):
        account = _user(user_id)
        data = self.parameters(shapes.UserUpdate)
        services.user_update(
            actor=request.user,
            user=account,
            username=data.get("username"),
            email=data.get("email"),
            name=data.get("name"),
            is_admin=data.get("admin"),
            password=data.get("password"),
            ip_address=self.ip_address,
        )
        return Response(shapes.FullUserSerializer(account).data)


class UserBlock(ApiView):
    """`POST /users/:id/block` and `/unblock` (administrators): a blocked user's every
    credential stops at once (sessions, personal access tokens, Git passwords)."""

    block = True

    @extend_schema(request=None, responses={201: OpenApiTypes.BOOL})
    def post(self, request, user_id):
        account = _user(user_id)
        change = services.user_block if self.block else services.user_unblock
        if change(actor=request.user, user=account, ip_address=self.ip_address):
            return _created(True)
        if self.block:  # already blocked: GitLab answers `null` (DRF would send no body)
            return HttpResponse(b"null", status=201, content_type="application/json")
        return _created(False)  # already active


class UserUnblock(UserBlock):
    block = False


class UserProjects(ApiView):
    """`/users/:id/projects`: this site has no personal namespaces, so a user's projects are
    the ones they are a member of (directly or through a group) that the caller may see."""

    anonymous_reads = True
    ordering = orders.PROJECTS

    @extend_schema(
        parameters=[shapes.ProjectList, ordering.query, PageQuery],
        responses=shapes.ProjectSerializer(many=True),
    )
    def get(self, request, user_id):
        account = _user(user_id)
        listed = Project.objects.visible_to(request.user) & Project.objects.member_of(account)
        # Its filters (owned, min_access_level, membership) are the caller's, as on GitLab.
        return self.listed(
            _filter_projects(listed, self.query(shapes.ProjectList), request.user),
            shapes.ProjectSerializer,
        )


class UserMemberships(ApiView):
    """`/users/:id/memberships` (administrators): the user's own memberships."""

    read_ability = Ability.READ_USER

    @extend_schema(
        parameters=[shapes.UserMembershipList, PageQuery],
        responses=shapes.UserMembershipSerializer(many=True),
    )
    def get(self, request, user_id):
        require_administrator(
            request.user, "Only administrators can list the memberships of a user."
        )
        account = _user(user_id)
        memberships = account.memberships.select_related("group", "project").order_by("id")
        kind = self.query(shapes.UserMembershipList).get("type")
        if kind == "Project":
            memberships = memberships.filter(project__isnull=False)
        elif kind == "Namespace":
            memberships = memberships.filter(group__isnull=False)
        return self.listed(memberships, shapes.UserMembershipSerializer)


class UserPersonalAccessTokens(ApiView):
    @extend_schema(request=shapes.TokenCreate, responses={201: shapes.PersonalTokenWithSecret})
    @sensitive_variables()
    def post(self, request, user_id):
        require_administrator(request.user, "Only administrators can create tokens for other users")
        data = self.parameters(shapes.TokenCreate)
        token, plaintext = personal_token_create(
            actor=request.user,
            user=_user(user_id),
            name=data["name"],
            scopes=data["scopes"],
            expires_at=data["expires_at"],
            description=data["description"],
            ip_address=self.ip_address,
        )
        return _created(
            shapes.PersonalTokenWithSecret(token, context={"plaintext": plaintext}).data
        )


# --- Groups and projects ----------------------------------------------------------------------


def _min_access_level(query: dict) -> int | None:
    """The role a group or project list is limited to: `min_access_level`, or Owner for
    `owned=true` (GitLab's two filters); roles inherited from groups count."""
    level = query.get("min_access_level")
    if level is None and query["owned"]:
        level = AccessLevel.OWNER
    return level


def _named(listed, query: dict):
    """GitLab's `search` on groups and projects: a part of the name or of the path."""
    if search := query.get("search"):
        listed = listed.filter(Q(name__icontains=search) | Q(path__icontains=search))
    return listed


def _filter_groups(listed, query: dict, user):
    """GitLab's filters of a group list, for `user`'s roles."""
    listed = _named(listed, query)
    if query["top_level_only"]:
        listed = listed.filter(parent=None)
    if (level := _min_access_level(query)) is not None:
        listed = listed & Group.objects.with_level(user, level)
    return listed


def _filter_projects(listed, query: dict, user):
    """GitLab's filters of a project list, for `user`'s roles."""
    listed = _named(listed, query).select_related("group")
    if (level := _min_access_level(query)) is not None:
        listed = listed & Project.objects.with_level(user, level)
    if query["membership"]:
        listed = listed & Project.objects.member_of(user)
    if visibility := query.get("visibility"):
        listed = listed.filter(visibility=visibility)
    return listed


def _by_id_or_path(queryset, ref: str, what: str):
    """The site's one lookup: an id, else a full path ignoring case, as on GitLab
    (`Tanuki%2FBackend` names tanuki/backend)."""
    found = find(queryset, ref)
    if found is None:
        raise Denied.not_found(what)
    return found


def _group(request, ref: str) -> Group:
    return _by_id_or_path(Group.objects.visible_to(request.user), ref, "Group")


def _project(request, ref: str) -> Project:
    return _by_id_or_path(
        Project.objects.visible_to(request.user).select_related("group"), ref, "Project"
    )


class Groups(ApiView):
    anonymous_reads = True
    ordering = orders.GROUPS

    @extend_schema(
        parameters=[shapes.GroupList, ordering.query, PageQuery],
        responses=shapes.GroupSerializer(many=True),
    )
    def get(self, request):
        listed = Group.objects.visible_to(request.user)
        query = self.query(shapes.GroupList)
        return self.listed(_filter_groups(listed, query, request.user), shapes.GroupSerializer)

    @extend_schema(request=shapes.GroupCreate, responses={201: shapes.GroupSerializer})
    def post(self, request):
        data = self.parameters(shapes.GroupCreate)
        parent_id = data.get("parent_id")
        group = services.group_create(
            actor=request.user,
            name=data["name"],
            path=data["path"],
            parent=_group(request, str(parent_id)) if parent_id is not None else None,
            visibility=data["visibility"],
            description=data["description"],
            ip_address=self.ip_address,
        )
        return _created(shapes.GroupSerializer(group).data)


class PlaceDetail(ApiView):
    """A group or a project: read it, change its settings, delete it (the services decide
    who may)."""

    anonymous_reads = True
    kind: str  # "group" or "project": the URL's `<kind>_ref` and the services' keyword
    find = shape = update = remove = None
    changes = shapes.PlaceUpdate  # the settings a PUT may change

    def record(self, request, kwargs):
        return type(self).find(request, kwargs[f"{self.kind}_ref"])

    def get(self, request, **kwargs):
        return Response(self.shape(self.record(request, kwargs)).data)

    def put(self, request, **kwargs):
        record = self.record(request, kwargs)
        changes = self.parameters(self.changes)
        type(self).update(
            actor=request.user,
            ip_address=self.ip_address,
            **{self.kind: record},
            **changes,  # only what is given changes
        )
        return Response(self.shape(record).data)

    def delete(self, request, **kwargs):
        record = self.record(request, kwargs)
        type(self).remove(actor=request.user, ip_address=self.ip_address, **{self.kind: record})
        # GitLab answers 202: it deletes in the background; here it is done already.
        return Response({"message": "202 Accepted"}, status=202)


def place_schema(shape, changes=shapes.PlaceUpdate):
    return extend_schema_view(
        get=extend_schema(responses=shape),
        put=extend_schema(request=changes, responses=shape),
        delete=extend_schema(responses={202: None}),
    )


@place_schema(shapes.GroupSerializer, shapes.GroupUpdate)
class GroupDetail(PlaceDetail):
    kind, find, shape = "group", _group, shapes.GroupSerializer
    changes = shapes.GroupUpdate
    update, remove = services.group_update, services.group_delete


class GroupSubgroups(ApiView):
    """The groups right below this one that the caller may see."""

    anonymous_reads = True
    ordering = orders.GROUPS

    def below(self, groups, group: Group):
        return groups.filter(parent=group)

    @extend_schema(
        parameters=[shapes.GroupList, ordering.query, PageQuery],
        responses=shapes.GroupSerializer(many=True),
    )
    def get(self, request, group_ref):
        listed = self.below(Group.objects.visible_to(request.user), _group(request, group_ref))
        query = self.query(shapes.GroupList)
        return self.listed(_filter_groups(listed, query, request.user), shapes.GroupSerializer)


class GroupDescendants(GroupSubgroups):
    """Every group below this one, at any depth, that the caller may see."""

    def below(self, groups, group: Group):
        return (groups & group.descendants()).exclude(pk=group.pk)


class GroupProjects(ApiView):
    anonymous_reads = True
    ordering = orders.PROJECTS

    @extend_schema(
        parameters=[shapes.GroupProjectList, ordering.query, PageQuery],
        responses=shapes.ProjectSerializer(many=True),
    )
    def get(self, request, group_ref):
        group = _group(request, group_ref)
        query = self.query(shapes.GroupProjectList)
        listed = Project.objects.visible_to(request.user)
        listed = listed.below(group) if query["include_subgroups"] else listed.filter(group=group)
        return self.listed(_filter_projects(listed, query, request.user), shapes.ProjectSerializer)


class Projects(ApiView):
    anonymous_reads = True
    ordering = orders.PROJECTS

    @extend_schema(
        parameters=[shapes.ProjectList, ordering.query, PageQuery],
        responses=shapes.ProjectSerializer(many=True),
    )
    def get(self, request):
        listed = Project.objects.visible_to(request.user)
        query = self.query(shapes.ProjectList)
        return self.listed(_filter_projects(listed, query, request.user), shapes.ProjectSerializer)

    @extend_schema(request=shapes.ProjectCreate, responses={201: shapes.ProjectSerializer})
    def post(self, request):
        data = self.parameters(shapes.ProjectCreate)
        name = data["name"]
        path = data["path"] or slugify(name)
        project = services.project_create(
            actor=request.user,
            group=_group(request, str(data["namespace_id"])),
            name=name or path,
            path=path,
            visibility=data["visibility"],
            description=data["description"],
            ip_address=self.ip_address,
        )
        return _created(shapes.ProjectSerializer(project).data)


@place_schema(shapes.ProjectSerializer)
class ProjectDetail(PlaceDetail):
    kind, find, shape = "project", _project, shapes.ProjectSerializer
    update, remove = services.project_update, services.project_delete


# --- Namespaces -------------------------------------------------------------------------------


class Namespaces(ApiView):
    """GitLab's namespaces are groups and users' personal namespaces; this site has groups
    only. Administrators list every group, others the groups they are members of."""

    ordering = orders.GROUPS

    @extend_schema(
        parameters=[shapes.NamespaceList, ordering.query, PageQuery],
        responses=shapes.NamespaceSerializer(many=True),
    )
    def get(self, request):
        query = self.query(shapes.NamespaceList)
        level = AccessLevel.OWNER if query["owned_only"] else AccessLevel.GUEST
        listed = _named(Group.objects.with_level(request.user, level), query)
        if query["top_level_only"]:
            listed = listed.filter(parent=None)
        return self.listed(listed, shapes.NamespaceSerializer)


class NamespaceDetail(ApiView):
    """One of the caller's namespaces (a group they are a member of, directly or through a
    group above); any for administrators."""

    @extend_schema(responses=shapes.NamespaceSerializer)
    def get(self, request, namespace_ref):
        mine = Group.objects.with_level(request.user, AccessLevel.GUEST)
        namespace = _by_id_or_path(mine, namespace_ref, "Namespace")
        return Response(shapes.NamespaceSerializer(namespace).data)


# --- Members ----------------------------------------------------------------------------------


def _source(request, kind: str, ref: str) -> Group | Project:
    return _group(request, ref) if kind == "groups" else _project(request, ref)


def _members_named(memberships, query: dict):
    """GitLab's `query` on member lists: a part of the username or the name."""
    if words := query.get("query"):
        memberships = memberships.filter(
            Q(user__username__icontains=words)
            | Q(user__first_name__icontains=words)
            | Q(user__last_name__icontains=words)
        )
    return memberships


class Members(ApiView):
    anonymous_reads = True
    keyset_key = "user_id"  # a member's id is its user's

    @extend_schema(
        parameters=[shapes.MemberList, PageQuery], responses=shapes.MemberSerializer(many=True)
    )
    def get(self, request, kind, ref):
        source = _source(request, kind, ref)
        listed = source.memberships.select_related("user").order_by("user__username")
        listed = _members_named(listed, self.query(shapes.MemberList))
        return self.listed(listed, shapes.MemberSerializer)

    @extend_schema(request=shapes.MemberAdd, responses={201: shapes.MemberSerializer})
    def post(self, request, kind, ref):
        source = _source(request, kind, ref)
        data = self.parameters(shapes.MemberAdd)
        if "user_id" in data:
            user = _user(str(data["user_id"]))
        else:
            user = User.objects.filter(username=data["username"]).first()
        if user is None or is_bot(user):  # an access token's bot belongs to its own
            raise Denied.not_found("User")
        membership = services.member_add(
            actor=request.user,
            source=source,
            username=user.username,
            access_level=data["access_level"],
            ip_address=self.ip_address,
        )
        return _created(shapes.MemberSerializer(membership).data)


class MembersAll(ApiView):
    anonymous_reads = True

    @extend_schema(
        parameters=[shapes.MemberList, PageQuery], responses=shapes.MemberSerializer(many=True)
    )
    def get(self, request, kind, ref):
        source = _source(request, kind, ref)
        memberships = _members_named(Membership.objects.all(), self.query(shapes.MemberList))
        return self.listed(memberships.effective_on(source), shapes.MemberSerializer)


class MemberAllDetail(ApiView):
    anonymous_reads = True

    @extend_schema(responses=shapes.MemberSerializer)
    def get(self, request, kind, ref, user_id):
        source = _source(request, kind, ref)
        for membership in Membership.objects.effective_on(source):
            if str(membership.user_id) == user_id:
                return Response(shapes.MemberSerializer(membership).data)
        raise Denied.not_found("Member")


class MemberDetail(ApiView):
    anonymous_reads = True

    def _membership(self, request, kind, ref, user_id) -> Membership:
        source = _source(request, kind, ref)
        membership = first_by_id(source.memberships.select_related("user"), user_id, "user_id")
        if membership is None:
            raise Denied.not_found("Member")
        return membership

    @extend_schema(responses=shapes.MemberSerializer)
    def get(self, request, kind, ref, user_id):
        membership = self._membership(request, kind, ref, user_id)
        return Response(shapes.MemberSerializer(membership).data)

    @extend_schema(request=shapes.MemberUpdate, responses=shapes.MemberSerializer)
    def put(self, request, kind, ref, user_id):
        membership = self._membership(request, kind, ref, user_id)
        services.member_update(
            actor=request.user,
            membership=membership,
            access_level=self.parameters(shapes.MemberUpdate)["access_level"],
            ip_address=self.ip_address,
        )
        return Response(shapes.MemberSerializer(membership).data)

    @extend_schema(responses={204: None})
    def delete(self, request, kind, ref, user_id):
        membership = self._membership(request, kind, ref, user_id)
        services.member_remove(
            actor=request.user, membership=membership, ip_address=self.ip_address
        )
        return _no_content()


# --- Deploy tokens ----------------------------------------------------------------------------


class DeployTokenListing(ApiView):
    def list_tokens(self, tokens) -> Response:
        query = self.query(shapes.DeployTokenFilters)
        active = query["active"]
        if query.get("state") is not None:
            active = query["state"] == "active"
        if active is True:
            tokens = tokens.active()
        elif active is False:
            tokens = tokens.inactive()
        return self.listed(tokens.order_by("id"), shapes.DeployTokenSerializer)


class AllDeployTokens(DeployTokenListing):
    @extend_schema(
        parameters=[shapes.DeployTokenFilters, PageQuery],
        responses=shapes.DeployTokenSerializer(many=True),
    )
    def get(self, request):
        require_administrator(request.user, "Only administrators can list every deploy token.")
        return self.list_tokens(DeployToken.objects.all())


class AdminToken(ApiView):
    """GitLab's token information API (`POST /admin/token`: what a token is; `DELETE`: revoke
    it), for administrators: any token of this instance, of any kind, found by its value
    (tokens_site.token_scan, tokens_site.token_inventory). Both are audited; a revoked
    token's owner is told."""

    where = "the token information API"

    def _found(self, request):
        require_administrator(request.user, "Only administrators can look up tokens.")
        record = token_lookup(self.parameters(shapes.TokenLookup)["token"])
        if record is None:
            raise Denied.not_found("Token")
        return record

    @extend_schema(request=shapes.TokenLookup, responses=shapes.TokenInformation)
    @sensitive_variables()
    def post(self, request):
        record = self._found(request)
        record_find(record, actor=request.user, where=self.where, ip_address=self.ip_address)
        return Response(shapes.TokenInformation(record).data)

    @extend_schema(request=shapes.TokenLookup, responses={204: None})
    @sensitive_variables()
    def delete(self, request):
        record = self._found(request)
        if not revoke_found(
            record, actor=request.user, where=self.where, ip_address=self.ip_address
        ):
            raise ValidationError("The token is not active: nothing to revoke.")
        return _no_content()


def _token_owner(request, kind: str, ref: str) -> Group | Project:
    owner = _source(request, kind, ref)
    deploy_token_access(request.user, owner)
    return owner


class DeployTokens(DeployTokenListing):
    @extend_schema(
        parameters=[shapes.DeployTokenFilters, PageQuery],
        responses=shapes.DeployTokenSerializer(many=True),
    )
    def get(self, request, kind, ref):
        return self.list_tokens(_token_owner(request, kind, ref).deploy_tokens.all())

    @extend_schema(request=shapes.DeployTokenCreate, responses={201: shapes.DeployTokenWithSecret})
    @sensitive_variables()
    def post(self, request, kind, ref):
        owner = _token_owner(request, kind, ref)
        data = self.parameters(shapes.DeployTokenCreate)
        token, plaintext = deploy_token_create(
            actor=request.user,
            owner=owner,
            name=data["name"],
            scopes=data["scopes"],
            expires_at=data["expires_at"],
            username=data["username"],
            description=data["description"],
            ip_address=self.ip_address,
        )
        return _created(shapes.DeployTokenWithSecret(token, context={"plaintext": plaintext}).data)


class DeployTokenView(ApiView):
    def _token(self, request, kind, ref, token_id) -> DeployToken:
        token = first_by_id(_token_owner(request, kind, ref).deploy_tokens.all(), token_id)
        if token is None:
            raise Denied.not_found("Deploy Token")
        return token


class DeployTokenDetail(DeployTokenView):
    @extend_schema(responses=shapes.DeployTokenSerializer)
    def get(self, request, kind, ref, token_id):
        token = self._token(request, kind, ref, token_id)
        return Response(shapes.DeployTokenSerializer(token).data)

    @extend_schema(responses={204: None})
    def delete(self, request, kind, ref, token_id):
        token = self._token(request, kind, ref, token_id)
        deploy_token_revoke(actor=request.user, token=token, ip_address=self.ip_address)
        return _no_content()


class DeployTokenRotate(DeployTokenView):
    """Not in GitLab, which cannot rotate deploy tokens: the successor keeps the name,
    username and scopes; its value is in this one answer."""

    detects_reuse = True

    @extend_schema(request=shapes.Rotate, responses=shapes.DeployTokenWithSecret)
    @sensitive_variables()
    def post(self, request, kind, ref, token_id):
        token = self._token(request, kind, ref, token_id)
        successor, plaintext = deploy_token_rotate(
            actor=request.user, token=token, ip_address=self.ip_address, **self.rotation()
        )
        return Response(
            shapes.DeployTokenWithSecret(successor, context={"plaintext": plaintext}).data
        )


# --- Personal access tokens -------------------------------------------------------------------


class PersonalTokenView(ApiView):
    def personal_token(self, token_id: str) -> PersonalAccessToken:
        if token_id == "self":
            if self.token is None:
                raise Denied.not_found("Token")
            return PersonalAccessToken.objects.select_related("user").get(pk=self.token.pk)
        visible = PersonalAccessToken.objects.visible_to(self.request.user)
        token = first_by_id(visible.select_related("user"), token_id)
        if token is None:
            raise Denied.not_found("Token")
        return token

    @sensitive_variables()
    def rotate(self, token: PersonalAccessToken) -> Response:
        successor, plaintext = personal_token_rotate(
            actor=self.request.user, token=token, ip_address=self.ip_address, **self.rotation()
        )
        return Response(
            shapes.PersonalTokenWithSecret(successor, context={"plaintext": plaintext}).data
        )


# GitLab's moment filters of a token list: parameter → lookup.
# Inclusive, as GitLab's, but for the expiry date: a token expiring on that day is not
# "before" it.
TOKEN_MOMENTS = {
    "created_after": "created_at__gte",
    "created_before": "created_at__lte",
    "last_used_after": "last_used_at__gte",
    "last_used_before": "last_used_at__lte",
    "expires_after": "expires_at__gte",
    "expires_before": "expires_at__lt",
}


class PersonalAccessTokens(ApiView):
    ordering = orders.PERSONAL_TOKENS

    @extend_schema(
        parameters=[shapes.PersonalTokenList, ordering.query, PageQuery],
        responses=shapes.PersonalTokenSerializer(many=True),
    )
    def get(self, request):
        query = self.query(shapes.PersonalTokenList)
        tokens = PersonalAccessToken.objects.visible_to(request.user)
        for name, lookup in TOKEN_MOMENTS.items():
            if query[name] is not None:
                tokens = tokens.filter(**{lookup: query[name]})
        if (user_id := query.get("user_id")) is not None:
            if not is_self_or_administrator(request.user, user_id):
                # GitLab's answer when someone asks for another user's tokens.
                raise Denied(401, "")
            tokens = tokens.filter(user_id=user_id)
        if (state := query.get("state")) is not None:
            tokens = tokens.active() if state == "active" else tokens.inactive()
        if query["revoked"] is not None:
            tokens = tokens.filter(revoked=query["revoked"])
        if search := query.get("search"):
            tokens = tokens.filter(name__icontains=search)
        return self.listed(tokens, shapes.PersonalTokenSerializer)


class CurrentUserPersonalAccessTokens(ApiView):
    """`POST /user/personal_access_tokens`: a user creates a token for themself, limited to
    `self_rotate` as GitLab limits this call (other scopes are made on the web page)."""

    @extend_schema(request=shapes.SelfTokenCreate, responses={201: shapes.PersonalTokenWithSecret})
    @sensitive_variables()
    def post(self, request):
        data = self.parameters(shapes.SelfTokenCreate)
        token, plaintext = personal_token_create(
            actor=request.user,
            user=request.user,
            name=data["name"],
            scopes=data["scopes"],
            expires_at=data["expires_at"],
            description=data["description"],
            ip_address=self.ip_address,
        )
        return _created(
            shapes.PersonalTokenWithSecret(token, context={"plaintext": plaintext}).data
        )


class PersonalAccessTokenDetail(PersonalTokenView):
    """A token by its id, or `self`. Any token may see and revoke itself, whatever its
    scopes: at `/self` and at its own id (python-gitlab's `token.delete()` after
    `get("self")` asks by id)."""

    about_a_token = True

    @extend_schema(responses=shapes.PersonalTokenSerializer)
    def get(self, request, token_id):
        return Response(shapes.PersonalTokenSerializer(self.personal_token(token_id)).data)

    @extend_schema(responses={204: None})
    def delete(self, request, token_id):
        token = self.personal_token(token_id)
        personal_token_revoke(actor=request.user, token=token, ip_address=self.ip_address)
        return _no_content()


class PersonalAccessTokenRotate(PersonalTokenView):
    detects_reuse = True

    @extend_schema(request=shapes.Rotate, responses=shapes.PersonalTokenWithSecret)
    def post(self, request, token_id):
        return self.rotate(self.personal_token(token_id))


class PersonalAccessTokenRotateSelf(PersonalTokenView):
    detects_reuse = True
    write_ability = Ability.ROTATE_SELF

    @extend_schema(request=shapes.Rotate, responses=shapes.PersonalTokenWithSecret)
    def post(self, request):
        token = self.personal_token("self")
        if request.user.pk != token.user_id:
            raise PermissionDenied("Rotate this token without Sudo.")
        return self.rotate(token)


# --- Project and group access tokens (access_tokens) -----------------------------------------


class AccessTokenView(ApiView):
    """One token of a project or group: by its id, or `self` for the token making the call
    (which GitLab lacks, gitlab-org/gitlab#462419). Who may act on it is the services'
    (access_token_require): its managers, and the token itself."""

    about_a_token = True

    def access_token(self, request, kind, ref, token_id):
        """The project or group, and the token."""
        source = _source(request, kind, ref)
        if token_id == "self" and self.token is not None:
            token_id = str(self.token.pk)
        token = first_by_id(tokens_of(source), token_id)
        if token is None:
            access_token_access(request.user, source)  # a non-manager learns nothing
            raise Denied.not_found("Token")
        return source, token


class AccessTokens(ApiView):
    @extend_schema(
        parameters=[shapes.AccessTokenList, PageQuery],
        responses=shapes.AccessTokenSerializer(many=True),
    )
    def get(self, request, kind, ref):
        source = _source(request, kind, ref)
        access_token_access(request.user, source)
        tokens = tokens_of(source)
        state = self.query(shapes.AccessTokenList).get("state")
        if state is not None:
            tokens = tokens.active() if state == "active" else tokens.inactive()
        return self.listed(tokens, shapes.AccessTokenSerializer)

    @extend_schema(request=shapes.AccessTokenCreate, responses={201: shapes.AccessTokenWithSecret})
    @sensitive_variables()
    def post(self, request, kind, ref):
        data = self.parameters(shapes.AccessTokenCreate)
        token, plaintext = access_token_create(
            actor=request.user,
            source=_source(request, kind, ref),
            name=data["name"],
            scopes=data["scopes"],
            access_level=data["access_level"],
            expires_at=data["expires_at"],
            description=data["description"],
            ip_address=self.ip_address,
        )
        return _created(shapes.AccessTokenWithSecret(token, context={"plaintext": plaintext}).data)


class AccessTokenDetail(AccessTokenView):
    @extend_schema(responses=shapes.AccessTokenSerializer)
    def get(self, request, kind, ref, token_id):
        source, token = self.access_token(request, kind, ref, token_id)
        access_token_require(request.user, source, token, itself=self.token)
        return Response(shapes.AccessTokenSerializer(token).data)

    @extend_schema(responses={204: None})
    def delete(self, request, kind, ref, token_id):
        source, token = self.access_token(request, kind, ref, token_id)
        access_token_revoke(
            actor=request.user,
            source=source,
            token=token,
            itself=self.token,
            ip_address=self.ip_address,
        )
        return _no_content()


class AccessTokenRotate(AccessTokenView):
    detects_reuse = True
    itself_ability = Ability.ROTATE_SELF  # as personal tokens rotate themselves

    @extend_schema(request=shapes.Rotate, responses=shapes.AccessTokenWithSecret)
    @sensitive_variables()
    def post(self, request, kind, ref, token_id):
        source, token = self.access_token(request, kind, ref, token_id)
        successor, plaintext = access_token_rotate(
            actor=request.user,
            source=source,
            token=token,
            itself=self.token,
            ip_address=self.ip_address,
            **self.rotation(),
        )
        return Response(
            shapes.AccessTokenWithSecret(successor, context={"plaintext": plaintext}).data
        )


class ProjectPackages(ApiView):
    """GitLab's Packages API, its list: the project's packages (every format)."""

    anonymous_reads = True

    @extend_schema(parameters=[PageQuery], responses=shapes.PackageSerializer(many=True))
    def get(self, request, project_ref):
        project = _project(request, project_ref)
        if not project_access(request.user, project).can(Ability.READ_PACKAGES):
            raise Denied.not_found("Project")
        packages = Package.objects.filter(project=project).order_by("id")
        return self.listed(packages, shapes.PackageSerializer)


class ProjectPackageDetail(ApiView):
    """One package version: read it, or delete it with its files (Maintainers and Owners)."""

    anonymous_reads = True

    def _package(self, request, project_ref, package_id) -> Package:
        project = _project(request, project_ref)
        if not project_access(request.user, project).can(Ability.READ_PACKAGES):
            raise Denied.not_found("Project")
        package = first_by_id(Package.objects.filter(project=project), package_id)
        if package is None:
            raise Denied.not_found("Package")
        return package

    @extend_schema(responses=shapes.PackageSerializer)
    def get(self, request, project_ref, package_id):
        return Response(
            shapes.PackageSerializer(self._package(request, project_ref, package_id)).data
        )

    @extend_schema(responses={204: None})
    def delete(self, request, project_ref, package_id):
        package = self._package(request, project_ref, package_id)
        package_destroy(actor=request.user, package=package, ip_address=self.ip_address)
        return _no_content()


class GroupDependencyProxyCache(ApiView):
    """Empty a top-level group's dependency proxy cache (Owners), as GitLab's purge."""

    @extend_schema(responses={202: None})
    def delete(self, request, group_ref):
        group = _group(request, group_ref)
        if not group_access(request.user, group).can(Ability.MANAGE_SETTINGS):
            raise PermissionDenied(
                "You need the Owner role in this group to purge its dependency proxy cache."
            )
        if group.parent_id is not None:
            raise Denied(
                400, "The dependency proxy belongs to top-level groups: purge the top group's."
            )
        with transaction.atomic():
            purge_dependency_proxy(group)
        return Response({"message": "202 Accepted"}, status=202)


class Metadata(ApiView):
    """`/metadata` and `/version`: the GitLab API version this site answers as (what clients
    such as python-gitlab and Terraform's provider read to pick their calls)."""

    read_ability = Ability.READ_USER  # as GitLab: any token that reads

    @extend_schema(responses=shapes.MetadataSerializer)
    def get(self, request):
        return Response(shapes.METADATA)


class Version(Metadata):
    """`/version`: the same as `/metadata`, as on GitLab."""


class OpenApiDocument(SpectacularJSONAPIView):
    """`/api/v4/openapi.json`, built once per process: the API does not change while the
    server runs, and building the document walks every endpoint."""

    _built: tuple | None = None

    def _get_schema_response(self, request):
        if OpenApiDocument._built is None:
            response = super()._get_schema_response(request)
            OpenApiDocument._built = (response.data, dict(response.headers))
        data, headers = OpenApiDocument._built
        return Response(data, headers=headers)


class Unknown(ApiView):
    schema = None  # not an endpoint
    anonymous_reads = True
    write_ability = None

    def get(self, request, rest=""):
        raise Denied(404, "There is no such endpoint.")

    post = put = delete = get
