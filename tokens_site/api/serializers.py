"""GitLab's JSON shapes, out (records) and in (parameters). Lists are serialized in one pass
with what a page needs fetched once: the group names along every path on it."""

import copy
from importlib.metadata import version as package_version

from django.conf import settings
from django.urls import reverse
from rest_framework import serializers

from tokens_site.api.fields import (
    DateText,
    ExpiryDate,
    Midnight,
    Moment,
    StringList,
    Timestamp,
    whole_number,
)
from tokens_site.models import AccessLevel, Group, Visibility
from tokens_site.models.instance import (
    MAX_ROTATION_OVERLAP_HOURS,
    TWO_FACTOR_GRACE_PERIOD_MAX_HOURS,
)
from tokens_site.token_inventory import describe


def _url(path: str) -> str:
    return settings.EXTERNAL_URL + path


# --- Out --------------------------------------------------------------------------------------


class Shape(serializers.Serializer):
    """An answer's shape. Its fields are copied shallowly for each use: DRF deep-copies them,
    which costs the API's busiest answers (`/user`) a third of their time, and read-only
    fields hold nothing a use could change but their binding."""

    def get_fields(self):
        return {name: copy.copy(field) for name, field in self._declared_fields.items()}


class UserSerializer(Shape):
    id = serializers.IntegerField(source="pk")
    username = serializers.CharField()
    name = serializers.SerializerMethodField()
    state = serializers.SerializerMethodField()
    locked = serializers.SerializerMethodField()
    avatar_url = serializers.SerializerMethodField()
    web_url = serializers.SerializerMethodField()

    def get_name(self, account) -> str:
        return account.get_full_name() or account.username

    def get_state(self, account) -> str:
        return "active" if account.is_active else "blocked"

    def get_locked(self, account) -> bool:
        return False

    def get_avatar_url(self, account) -> str | None:
        return None

    def get_web_url(self, account) -> str:
        return _url(f"/{account.username}")


class FullUserSerializer(UserSerializer):
    """What an administrator, or the user themself, sees."""

    created_at = Timestamp(source="date_joined")
    email = serializers.EmailField()
    is_admin = serializers.BooleanField(source="is_superuser")
    last_sign_in_at = Timestamp(source="last_login")


def group_names(groups) -> dict[int, str]:
    """Group id → "Top / Sub / Group" for these groups and their ancestors, in one query."""
    ids = {ancestor for group in groups for ancestor in group.ancestor_ids}
    names = dict(Group.objects.filter(pk__in=ids).values_list("pk", "name"))
    return {
        group.pk: " / ".join(names.get(ancestor, "?") for ancestor in group.ancestor_ids)
        for group in groups
    }


class NamedList(serializers.ListSerializer):
    """Fetches the full names of every group on the page once, for its items."""

    def to_representation(self, data):
        items = list(data)
        self.child.names = group_names([self.child.named_group(item) for item in items])
        return [self.child.to_representation(item) for item in items]


class NamespaceShape(Shape):
    """What a group's answers share (GitLab's groups are namespaces)."""

    id = serializers.IntegerField(source="pk")
    name = serializers.CharField()
    path = serializers.CharField()
    full_path = serializers.CharField()
    parent_id = serializers.IntegerField()
    web_url = serializers.SerializerMethodField()
    avatar_url = serializers.SerializerMethodField()

    def get_web_url(self, item) -> str:
        return _url(reverse("group", args=[item.full_path]))

    def get_avatar_url(self, item) -> str | None:
        return None


class GroupSerializer(NamespaceShape):
    description = serializers.CharField()
    visibility = serializers.CharField()
    require_two_factor_authentication = serializers.BooleanField()
    two_factor_grace_period = serializers.IntegerField()
    full_name = serializers.SerializerMethodField()
    created_at = Timestamp()

    class Meta:
        list_serializer_class = NamedList

    names: dict[int, str] | None = None

    @staticmethod
    def named_group(item: Group) -> Group:
        return item

    def get_full_name(self, item) -> str:
        names = self.names if self.names is not None else group_names([item])
        return names[item.pk]


class NamespaceSerializer(NamespaceShape):
    """A namespace: here always a group (this site has no personal namespaces)."""

    kind = serializers.SerializerMethodField()

    def get_kind(self, item) -> str:
        return "group"


class UserMembershipSerializer(Shape):
    """One of a user's own memberships, as `/users/:id/memberships` lists them."""

    source_id = serializers.SerializerMethodField()
    source_name = serializers.SerializerMethodField()
    source_type = serializers.SerializerMethodField()
    access_level = serializers.IntegerField()

    def get_source_id(self, membership) -> int:
        return membership.group_id or membership.project_id

    def get_source_name(self, membership) -> str:
        return membership.source.name

    def get_source_type(self, membership) -> str:
        return "Namespace" if membership.group_id else "Project"


class ProjectSerializer(Shape):
    id = serializers.IntegerField(source="pk")
    name = serializers.CharField()
    path = serializers.CharField()
    description = serializers.CharField()
    visibility = serializers.CharField()
    name_with_namespace = serializers.SerializerMethodField()
    path_with_namespace = serializers.CharField(source="full_path")
    created_at = Timestamp()
    default_branch = serializers.SerializerMethodField()
    web_url = serializers.SerializerMethodField()
    http_url_to_repo = serializers.SerializerMethodField()
    namespace = NamespaceSerializer(source="group")

    class Meta:
        list_serializer_class = NamedList

    names: dict[int, str] | None = None

    @staticmethod
    def named_group(item) -> Group:
        return item.group

    def get_name_with_namespace(self, item) -> str:
        names = self.names if self.names is not None else group_names([item.group])
        return f"{names[item.group_id]} / {item.name}"

    def get_default_branch(self, item) -> str:
        return "main"

    def get_web_url(self, item) -> str:
        return _url(reverse("project", args=[item.full_path]))

    def get_http_url_to_repo(self, item) -> str:
        return _url(f"/{item.full_path}.git")


class MemberSerializer(Shape):
    access_level = serializers.IntegerField()
    created_at = Timestamp()
    expires_at = serializers.SerializerMethodField()
    membership_state = serializers.SerializerMethodField()

    def to_representation(self, membership):
        return {**UserSerializer(membership.user).data, **super().to_representation(membership)}

    def get_expires_at(self, membership) -> str | None:
        return None

    def get_membership_state(self, membership) -> str:
        return "active"


class DeployTokenSerializer(Shape):
    id = serializers.IntegerField(source="pk")
    name = serializers.CharField()
    username = serializers.CharField()
    expires_at = Midnight()
    scopes = serializers.ListField(child=serializers.CharField())
    revoked = serializers.BooleanField()
    expired = serializers.BooleanField(source="is_expired")
    description = serializers.CharField()
    # Not in GitLab's deploy tokens: when and from where the token was last used, and its
    # rotation (as on personal access tokens).
    last_used_at = Timestamp()
    last_used_ips = serializers.ListField(child=serializers.CharField())
    active = serializers.BooleanField(source="is_active")
    rotated_at = Timestamp()
    previous_expires_at = Timestamp()
    works_until = Timestamp()


class PersonalTokenSerializer(Shape):
    id = serializers.IntegerField(source="pk")
    name = serializers.CharField()
    revoked = serializers.BooleanField()
    created_at = Timestamp()
    description = serializers.CharField()
    scopes = serializers.ListField(child=serializers.CharField())
    user_id = serializers.IntegerField()
    last_used_at = Timestamp()
    last_used_ips = serializers.ListField(child=serializers.CharField())
    active = serializers.BooleanField(source="is_active")
    expires_at = DateText()
    # Not in GitLab (tokens_site.rotation): on a token made by a rotation, when it was made and
    # until when the old value works (the overlap); on a rotated token, until when it works.
    rotated_at = Timestamp()
    previous_expires_at = Timestamp()
    works_until = Timestamp()


class AccessTokenSerializer(PersonalTokenSerializer):
    """A project or group access token: a personal token of its bot, with the bot's role."""

    access_level = serializers.IntegerField()


class WithSecret(Shape):
    """A created or rotated token's answer: its shape and, this once, its value (given as
    the `plaintext` of the serializer's context)."""

    token = serializers.SerializerMethodField()

    def get_token(self, record) -> str:
        return self.context["plaintext"]


class PersonalTokenWithSecret(PersonalTokenSerializer, WithSecret):
    pass


class DeployTokenWithSecret(DeployTokenSerializer, WithSecret):
    pass


class AccessTokenWithSecret(AccessTokenSerializer, WithSecret):
    pass


# The GitLab release whose REST API v4 this site answers as, and this site's own version.
GITLAB_VERSION = "17.6.0"
METADATA = {
    "version": GITLAB_VERSION,
    "revision": f"tokens-{package_version('tokens-site')}",
    "kas": {"enabled": False, "externalUrl": None, "externalK8sProxyUrl": None, "version": None},
    "enterprise": False,
}


class KasSerializer(Shape):
    """GitLab's names, in camel case."""

    enabled = serializers.BooleanField()
    externalUrl = serializers.CharField(allow_null=True)
    externalK8sProxyUrl = serializers.CharField(allow_null=True)
    version = serializers.CharField(allow_null=True)


class MetadataSerializer(Shape):
    version = serializers.CharField()
    revision = serializers.CharField()
    kas = KasSerializer()
    enterprise = serializers.BooleanField()


# --- In ---------------------------------------------------------------------------------------


class Parameters(serializers.Serializer):
    """Parameters of one call (validated, never saved). Unknown ones are ignored, as GitLab
    does."""


def text(**kwargs) -> serializers.CharField:
    return serializers.CharField(trim_whitespace=False, **kwargs)


def optional_text() -> serializers.CharField:
    return text(required=False, allow_blank=True, default="")


def flag(default=False) -> serializers.BooleanField:
    return serializers.BooleanField(required=False, default=default, allow_null=default is None)


class UserCreate(Parameters):
    username = text()
    email = text()
    name = text()
    password = text(required=False)
    reset_password = flag()
    force_random_password = flag()
    admin = flag()

    def validate(self, data):
        if "password" not in data and not (data["reset_password"] or data["force_random_password"]):
            raise serializers.ValidationError({"password": ["is missing"]}, code="required")
        return data


class UserList(Parameters):
    username = text(required=False)
    search = text(required=False)
    active = flag()
    blocked = flag()


class UserUpdate(Parameters):
    """Only what is given changes."""

    username = text(required=False)
    email = text(required=False)
    name = text(required=False)
    admin = serializers.BooleanField(required=False)
    password = text(required=False)


class UserMembershipList(Parameters):
    type = serializers.ChoiceField(["Project", "Namespace"], required=False)


def visibility(**kwargs) -> serializers.ChoiceField:
    return serializers.ChoiceField(Visibility.values, **kwargs)


def access_level(**kwargs) -> serializers.ChoiceField:
    """One of GitLab's role numbers (10, 20, 30, 40, 50); anything else is a 400."""
    return serializers.ChoiceField(AccessLevel.values, **kwargs)


class GroupCreate(Parameters):
    name = text()
    path = text()
    parent_id = whole_number(required=False, allow_null=True)
    visibility = visibility(default=Visibility.PRIVATE)
    description = optional_text()


class ProjectCreate(Parameters):
    name = optional_text()
    path = optional_text()  # else made from the name
    namespace_id = whole_number()
    visibility = visibility(default=Visibility.PRIVATE)
    description = optional_text()

    def validate(self, data):
        if not data["name"] and not data["path"]:
            raise serializers.ValidationError({"name": ["is missing"]}, code="required")
        return data


class PlaceUpdate(Parameters):
    """A group's or project's settings: only what is given changes."""

    name = text(required=False)
    path = text(required=False)
    visibility = visibility(required=False)
    description = text(required=False, allow_blank=True)


class GroupUpdate(PlaceUpdate):
    require_two_factor_authentication = serializers.BooleanField(required=False)
    two_factor_grace_period = serializers.IntegerField(
        required=False, min_value=0, max_value=TWO_FACTOR_GRACE_PERIOD_MAX_HOURS
    )


class Listing(Parameters):
    search = text(required=False)
    min_access_level = access_level(required=False)
    owned = flag()


class GroupList(Listing):
    top_level_only = flag()


class ProjectList(Listing):
    membership = flag()
    visibility = visibility(required=False)


class GroupProjectList(ProjectList):
    include_subgroups = flag()


class NamespaceList(Parameters):
    search = text(required=False)
    owned_only = flag()
    top_level_only = flag()


class MemberList(Parameters):
    query = text(required=False)


class MemberAdd(Parameters):
    user_id = whole_number(required=False)
    username = text(required=False)
    access_level = access_level()

    def validate(self, data):
        if "user_id" not in data and "username" not in data:
            raise serializers.ValidationError({"user_id": ["is missing"]}, code="required")
        return data


class MemberUpdate(Parameters):
    access_level = access_level()


class TokenCreate(Parameters):
    name = text()
    scopes = StringList()
    expires_at = ExpiryDate()
    description = optional_text()


class AccessTokenCreate(TokenCreate):
    access_level = access_level(default=AccessLevel.MAINTAINER)


class AccessTokenList(Parameters):
    state = serializers.ChoiceField(["active", "inactive"], required=False)


class SelfTokenCreate(TokenCreate):
    """What a user may create for themself through the API: a token that can only rotate
    itself (GitLab limits this call to such scopes)."""

    scopes = StringList(child_choices=["self_rotate"])


class DeployTokenCreate(TokenCreate):
    username = optional_text()


class DeployTokenFilters(Parameters):
    active = flag(default=None)
    # Not in GitLab's deploy tokens: as the other token lists (issue 16).
    state = serializers.ChoiceField(["active", "inactive"], required=False)


class PersonalTokenList(Parameters):
    user_id = whole_number(required=False)
    state = serializers.ChoiceField(["active", "inactive"], required=False)
    revoked = flag(default=None)
    search = text(required=False)
    created_after = Moment()
    created_before = Moment()
    last_used_after = Moment()
    last_used_before = Moment()
    expires_after = ExpiryDate()
    expires_before = ExpiryDate()


class TokenInformation(Shape):
    """A token found by its value (`POST /admin/token`), the same for every kind: GitLab's
    personal token fields, with its kind, owner and state (tokens_site.token_inventory)."""

    id = serializers.IntegerField(source="pk")
    name = serializers.CharField()
    kind = serializers.CharField(read_only=True)
    owner = serializers.CharField(read_only=True)
    state = serializers.CharField(read_only=True)
    scopes = serializers.ListField(child=serializers.CharField())
    revoked = serializers.BooleanField()
    active = serializers.BooleanField(source="is_active")
    created_at = Timestamp()
    expires_at = DateText()
    last_used_at = Timestamp()
    last_used_ips = serializers.ListField(child=serializers.CharField())

    def to_representation(self, record) -> dict:
        details = describe(record)  # once: kind, owner and state
        data = super().to_representation(record)
        data.update(kind=details["kind"], owner=details["owner"], state=details["state"])
        return data


class TokenLookup(Parameters):
    token = serializers.CharField(max_length=1024, trim_whitespace=True)


class Rotate(Parameters):
    expires_at = ExpiryDate()
    # Not in GitLab: how long the old value keeps working (tokens_site.rotation; the
    # instance's cap is the service's to check).
    overlap_hours = serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=MAX_ROTATION_OVERLAP_HOURS
    )


class PackageSerializer(serializers.Serializer):
    """GitLab's package: one version of a package, any format."""

    id = serializers.IntegerField()
    name = serializers.CharField(source="display_name")
    version = serializers.CharField()
    package_type = serializers.CharField(source="kind")
    status = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    def get_status(self, package) -> str:
        return "default"
