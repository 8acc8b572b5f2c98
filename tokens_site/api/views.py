"""REST API v4: the subset python-gitlab needs for users, groups, projects, members, deploy
tokens and personal access tokens. Every write goes through the same services as the web pages;
every read through the same permission-aware querysets."""

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.utils.text import slugify
from django.views.decorators.debug import sensitive_variables

from deploy_tokens.models import DeployToken
from deploy_tokens.services import deploy_token_access, deploy_token_create, deploy_token_revoke
from personal_tokens.models import PersonalAccessToken
from personal_tokens.services import (
    personal_token_create,
    personal_token_revoke,
    personal_token_rotate,
)
from tokens_site import services
from tokens_site.access.abilities import Ability
from tokens_site.access.lookups import find
from tokens_site.access.policy import Denied, is_administrator, require_administrator
from tokens_site.api import serializers
from tokens_site.api.framework import (
    api_view,
    bad_request,
    body,
    boolean,
    date_value,
    first_by_id,
    integer,
    json_response,
    no_content,
    not_found,
    paginate,
    string_list,
    text,
    unauthorized,
)
from tokens_site.audit import client_ip
from tokens_site.models import AccessLevel, Group, Membership, Project, Visibility

User = get_user_model()


# --- Users ------------------------------------------------------------------------------------


@api_view(read=Ability.READ_USER)
def current_user(request):
    account = request.user
    # The token lookup loads only the columns authentication needs; load the rest in one
    # query, not one per field the full shape reads.
    if deferred := account.get_deferred_fields():
        account.refresh_from_db(fields=sorted(deferred))
    return json_response(serializers.user(account, full=True))


@api_view(read=Ability.READ_USER, methods=("GET", "POST"))
def users(request):
    if request.method == "POST":
        return create_user(request)
    accounts = User.objects.order_by("id")
    if username := request.GET.get("username"):
        accounts = accounts.filter(username__iexact=username)
    full = is_administrator(request.user)
    if search := request.GET.get("search"):
        matches = (
            Q(username__icontains=search)
            | Q(first_name__icontains=search)
            | Q(last_name__icontains=search)
        )
        if full:  # others never see an address, so they may not search by one either
            matches |= Q(email__icontains=search)
        accounts = accounts.filter(matches)
    if boolean(request.GET, "active"):
        accounts = accounts.filter(is_active=True)
    if boolean(request.GET, "blocked"):
        accounts = accounts.filter(is_active=False)
    return paginate(
        request, accounts, lambda page: [serializers.user(item, full=full) for item in page]
    )


@sensitive_variables()
def create_user(request):
    data = body(request)
    password = data.get("password")
    if (
        password is None
        and not boolean(data, "reset_password")
        and not boolean(data, "force_random_password")
    ):
        raise bad_request("password is missing")
    account = services.user_create(
        actor=request.user,
        username=text(data, "username", required=True),
        email=text(data, "email", required=True),
        name=text(data, "name", required=True),
        password=text(data, "password") if password is not None else None,
        is_admin=boolean(data, "admin"),
    )
    return json_response(serializers.user(account, full=True), status=201)


def _user(user_id: str):
    account = first_by_id(User.objects, user_id)
    if account is None:
        raise not_found("User")
    return account


@api_view(read=Ability.READ_USER)
def user_detail(request, user_id):
    account = _user(user_id)
    full = is_administrator(request.user) or request.user.pk == account.pk
    return json_response(serializers.user(account, full=full))


@api_view(methods=("POST",))
@sensitive_variables()
def user_personal_access_tokens(request, user_id):
    require_administrator(request.user, "Only administrators can create tokens for other users")
    data = body(request)
    token, plaintext = personal_token_create(
        actor=request.user,
        user=_user(user_id),
        name=text(data, "name", required=True),
        scopes=string_list(data, "scopes", required=True),
        expires_at=date_value(data, "expires_at"),
        ip_address=client_ip(request),
    )
    return json_response(serializers.personal_token(token, plaintext=plaintext), status=201)


# --- Groups and projects ----------------------------------------------------------------------


def _min_access_level(request) -> int | None:
    """The role a group or project list is limited to: `min_access_level`, or Owner for
    `owned=true` (GitLab's two filters); roles inherited from groups count."""
    level = integer(request.GET, "min_access_level")
    if level is None and boolean(request.GET, "owned"):
        level = AccessLevel.OWNER
    return level


def _by_id_or_path(queryset, ref: str, what: str):
    """The site's one lookup: an id, else a full path ignoring case, as on GitLab
    (`Tanuki%2FBackend` names tanuki/backend)."""
    found = find(queryset, ref)
    if found is None:
        raise not_found(what)
    return found


def _group(request, ref: str) -> Group:
    return _by_id_or_path(Group.objects.visible_to(request.user), ref, "Group")


def _project(request, ref: str) -> Project:
    return _by_id_or_path(
        Project.objects.visible_to(request.user).select_related("group"), ref, "Project"
    )


def _visibility(data: dict) -> str:
    value = text(data, "visibility", default=Visibility.PRIVATE)
    if value not in Visibility.values:
        raise bad_request("visibility does not have a valid value")
    return value


@api_view(methods=("GET", "POST"), authenticated=False)
def groups(request):
    if request.method == "POST":
        data = body(request)
        parent_id = integer(data, "parent_id")
        parent = _group(request, str(parent_id)) if parent_id is not None else None
        group = services.group_create(
            actor=request.user,
            name=text(data, "name", required=True),
            path=text(data, "path", required=True),
            parent=parent,
            visibility=_visibility(data),
            description=text(data, "description"),
            ip_address=client_ip(request),
        )
        return json_response(serializers.groups([group])[0], status=201)
    listed = Group.objects.visible_to(request.user).order_by("full_path")
    if search := request.GET.get("search"):
        listed = listed.filter(Q(name__icontains=search) | Q(path__icontains=search))
    if boolean(request.GET, "top_level_only"):
        listed = listed.filter(parent=None)
    if (level := _min_access_level(request)) is not None:
        listed = listed & Group.objects.with_level(request.user, level)
    return paginate(request, listed, serializers.groups)


@api_view(authenticated=False)
def group_detail(request, group_ref):
    return json_response(serializers.groups([_group(request, group_ref)])[0])


@api_view(authenticated=False)
def group_subgroups(request, group_ref):
    parent = _group(request, group_ref)
    listed = Group.objects.visible_to(request.user).filter(parent=parent).order_by("path")
    return paginate(request, listed, serializers.groups)


@api_view(authenticated=False)
def group_projects(request, group_ref):
    group = _group(request, group_ref)
    listed = (
        Project.objects.visible_to(request.user)
        .filter(group=group)
        .select_related("group")
        .order_by("path")
    )
    return paginate(request, listed, serializers.projects)


@api_view(methods=("GET", "POST"), authenticated=False)
def projects(request):
    if request.method == "POST":
        data = body(request)
        name = text(data, "name")
        path = text(data, "path") or slugify(name)
        if not name and not path:
            raise bad_request("name is missing")
        namespace_id = integer(data, "namespace_id", required=True)
        project = services.project_create(
            actor=request.user,
            group=_group(request, str(namespace_id)),
            name=name or path,
            path=path,
            visibility=_visibility(data),
            description=text(data, "description"),
            ip_address=client_ip(request),
        )
        return json_response(serializers.projects([project])[0], status=201)
    listed = Project.objects.visible_to(request.user).select_related("group").order_by("id")
    if (level := _min_access_level(request)) is not None:
        listed = listed & Project.objects.with_level(request.user, level)
    if boolean(request.GET, "membership"):
        listed = listed & Project.objects.member_of(request.user)
    if search := request.GET.get("search"):
        listed = listed.filter(Q(name__icontains=search) | Q(path__icontains=search))
    if request.GET.get("visibility"):
        listed = listed.filter(visibility=_visibility(request.GET))
    return paginate(request, listed, serializers.projects)


@api_view(authenticated=False)
def project_detail(request, project_ref):
    return json_response(serializers.projects([_project(request, project_ref)])[0])


# --- Members ----------------------------------------------------------------------------------


def _source(request, kind: str, ref: str) -> Group | Project:
    return _group(request, ref) if kind == "groups" else _project(request, ref)


def _serialize_members(page) -> list[dict]:
    return [serializers.member(membership) for membership in page]


@api_view(methods=("GET", "POST"), authenticated=False)
def members(request, kind, ref):
    source = _source(request, kind, ref)
    if request.method == "POST":
        data = body(request)
        if "user_id" in data:
            user = _user(str(integer(data, "user_id", required=True)))
        else:
            user = User.objects.filter(username=text(data, "username", required=True)).first()
            if user is None:
                raise not_found("User")
        membership = services.member_add(
            actor=request.user,
            source=source,
            username=user.username,
            access_level=integer(data, "access_level", required=True),
            ip_address=client_ip(request),
        )
        return json_response(serializers.member(membership), status=201)
    listed = source.memberships.select_related("user").order_by("user__username")
    return paginate(request, listed, _serialize_members)


@api_view(authenticated=False)
def members_all(request, kind, ref):
    return paginate(
        request, Membership.objects.effective_on(_source(request, kind, ref)), _serialize_members
    )


@api_view(authenticated=False)
def member_all_detail(request, kind, ref, user_id):
    source = _source(request, kind, ref)
    for membership in Membership.objects.effective_on(source):
        if str(membership.user_id) == user_id:
            return json_response(serializers.member(membership))
    raise not_found("Member")


@api_view(methods=("GET", "PUT", "DELETE"), authenticated=False)
def member_detail(request, kind, ref, user_id):
    source = _source(request, kind, ref)
    membership = first_by_id(source.memberships.select_related("user"), user_id, "user_id")
    if membership is None:
        raise not_found("Member")
    if request.method == "PUT":
        services.member_update(
            actor=request.user,
            membership=membership,
            access_level=integer(body(request), "access_level", required=True),
            ip_address=client_ip(request),
        )
        return json_response(serializers.member(membership))
    if request.method == "DELETE":
        services.member_remove(
            actor=request.user, membership=membership, ip_address=client_ip(request)
        )
        return no_content()
    return json_response(serializers.member(membership))


# --- Deploy tokens ----------------------------------------------------------------------------


def _deploy_tokens_listed(request, tokens):
    active = request.GET.get("active")
    if active is not None:
        tokens = (
            tokens.active()
            if boolean(request.GET, "active")
            else tokens.exclude(pk__in=DeployToken.objects.active().values("pk"))
        )
    return paginate(
        request, tokens.order_by("id"), lambda page: [serializers.deploy_token(t) for t in page]
    )


@api_view()
def all_deploy_tokens(request):
    require_administrator(request.user, "")
    return _deploy_tokens_listed(request, DeployToken.objects.all())


@api_view(methods=("GET", "POST"))
@sensitive_variables()
def deploy_tokens(request, kind, ref):
    owner = _source(request, kind, ref)
    deploy_token_access(request.user, owner)
    if request.method == "POST":
        data = body(request)
        token, plaintext = deploy_token_create(
            actor=request.user,
            owner=owner,
            name=text(data, "name", required=True),
            scopes=string_list(data, "scopes", required=True),
            expires_at=date_value(data, "expires_at"),
            username=text(data, "username"),
            ip_address=client_ip(request),
        )
        return json_response(serializers.deploy_token(token, plaintext=plaintext), status=201)
    return _deploy_tokens_listed(request, owner.deploy_tokens.all())


@api_view(methods=("GET", "DELETE"))
def deploy_token_detail(request, kind, ref, token_id):
    owner = _source(request, kind, ref)
    deploy_token_access(request.user, owner)
    token = first_by_id(owner.deploy_tokens.all(), token_id)
    if token is None:
        raise not_found("Deploy Token")
    if request.method == "DELETE":
        deploy_token_revoke(actor=request.user, token=token, ip_address=client_ip(request))
        return no_content()
    return json_response(serializers.deploy_token(token))


# --- Personal access tokens -------------------------------------------------------------------


def _personal_tokens_visible(request):
    return PersonalAccessToken.objects.visible_to(request.user)


def _personal_token(request, token_id: str) -> PersonalAccessToken:
    if token_id == "self":
        if request.api_token is None:
            raise not_found("Token")
        return PersonalAccessToken.objects.select_related("user").get(pk=request.api_token.pk)
    token = first_by_id(_personal_tokens_visible(request).select_related("user"), token_id)
    if token is None:
        raise not_found("Token")
    return token


@api_view()
def personal_access_tokens(request):
    tokens = _personal_tokens_visible(request).order_by("id")
    if (user_id := integer(request.GET, "user_id")) is not None:
        if user_id != request.user.pk and not is_administrator(request.user):
            # GitLab's answer when someone asks for another user's tokens.
            raise unauthorized()
        tokens = tokens.filter(user_id=user_id)
    if (state := request.GET.get("state")) is not None:
        if state not in {"active", "inactive"}:
            raise bad_request("state does not have a valid value")
        active = PersonalAccessToken.objects.active().values("pk")
        tokens = (
            tokens.filter(pk__in=active) if state == "active" else tokens.exclude(pk__in=active)
        )
    if request.GET.get("revoked") is not None:
        tokens = tokens.filter(revoked=boolean(request.GET, "revoked"))
    if search := request.GET.get("search"):
        tokens = tokens.filter(name__icontains=search)
    return paginate(request, tokens, lambda page: [serializers.personal_token(t) for t in page])


@api_view(methods=("GET", "DELETE"))
def personal_access_token_detail(request, token_id):
    token = _personal_token(request, token_id)
    if request.method == "DELETE":
        personal_token_revoke(actor=request.user, token=token, ip_address=client_ip(request))
        return no_content()
    return json_response(serializers.personal_token(token))


@sensitive_variables()
def _rotate(request, token: PersonalAccessToken):
    data = body(request)
    successor, plaintext = personal_token_rotate(
        actor=request.user,
        token=token,
        expires_at=date_value(data, "expires_at"),
        ip_address=client_ip(request),
    )
    return json_response(serializers.personal_token(successor, plaintext=plaintext))


@api_view(methods=("POST",))
def personal_access_token_rotate(request, token_id):
    return _rotate(request, _personal_token(request, token_id))


@api_view(methods=("POST",), write=Ability.ROTATE_SELF)
def personal_access_token_rotate_self(request):
    token = _personal_token(request, "self")
    if request.user.pk != token.user_id:
        raise PermissionDenied("Rotate this token without Sudo.")
    return _rotate(request, token)


@api_view(methods=("GET", "POST", "PUT", "DELETE"), authenticated=False)
def unknown(request, rest=""):
    raise Denied(404, "There is no such endpoint.")
