"""factory-boy factories. Groups and projects are made through the services, so every test
object is what the site itself would make (a project always has its repository on disk)."""

import factory
from django.contrib.auth import get_user_model

from tokens_site import services
from tokens_site.models import AccessLevel, Group, Membership, Project

PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password(PASSWORD)


class AdminFactory(UserFactory):
    username = factory.Sequence(lambda n: f"admin{n}")
    is_staff = True
    is_superuser = True


class GroupFactory(factory.django.DjangoModelFactory):
    """A top-level group is created by `owner` (a new user unless given), who becomes its
    Owner. A subgroup (`parent=`) is created by an Owner of its top-level group; `owner`, if
    given, is added as an Owner of the subgroup."""

    class Meta:
        model = Group

    name = factory.Sequence(lambda n: f"Group {n:05d}")  # sorts in creation order
    path = factory.Sequence(lambda n: f"group-{n}")
    parent = None

    @classmethod
    def _create(cls, model_class, *, owner=None, parent=None, **kwargs) -> Group:
        if parent is None:
            return services.group_create(actor=owner or UserFactory(), **kwargs)
        parent_owner = (
            Membership.objects.filter(
                group_id__in=parent.ancestor_ids, access_level=AccessLevel.OWNER
            )
            .select_related("user")
            .first()
        )
        actor = parent_owner.user if parent_owner else AdminFactory()
        group = services.group_create(actor=actor, parent=parent, **kwargs)
        if owner is not None:
            Membership.objects.create(user=owner, group=group, access_level=AccessLevel.OWNER)
        return group


class ProjectFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Project

    name = factory.Sequence(lambda n: f"Project {n:05d}")  # sorts in creation order
    path = factory.Sequence(lambda n: f"project-{n}")
    group = factory.SubFactory(GroupFactory)

    @classmethod
    def _create(cls, model_class, *, group, **kwargs) -> Project:
        return services.project_create(actor=AdminFactory(), group=group, **kwargs)


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    access_level = AccessLevel.DEVELOPER


def make_deploy_token(owner, *, scopes=("read_repository",), creator=None, **kwargs):
    """A deploy token made through the service: returns (token, plaintext)."""
    from deploy_tokens.services import deploy_token_create

    kwargs.setdefault("name", "deploy")
    return deploy_token_create(
        actor=creator or AdminFactory(), owner=owner, scopes=list(scopes), **kwargs
    )


def make_access_token(source, actor, *, scopes=("api",), **kwargs):
    """A project or group access token made by `actor` through the service (Maintainer role,
    30 days, unless told): returns (token, plaintext)."""
    from datetime import timedelta

    from access_tokens.services import access_token_create
    from tokens_site.tokens import utc_today

    kwargs.setdefault("name", "ci")
    kwargs.setdefault("expires_at", utc_today() + timedelta(days=30))
    return access_token_create(actor=actor, source=source, scopes=list(scopes), **kwargs)


def make_personal_token(user=None, *, scopes=("api",), **kwargs):
    """A personal access token made through the service: returns (token, plaintext)."""
    from personal_tokens.services import personal_token_create

    kwargs.setdefault("name", "token")
    return personal_token_create(user=user or UserFactory(), scopes=list(scopes), **kwargs)


def totp_code(device, *, at=None) -> str:
    """The code an authenticator app shows for `device` now (or at the time `at`)."""
    import base64

    import pyotp

    totp = pyotp.TOTP(base64.b32encode(device.bin_key).decode())
    return totp.now() if at is None else totp.at(at)


def make_two_factor(user):
    """Two-factor authentication enabled through the services: returns (device, codes)."""
    from two_factor.services import totp_device_pending, two_factor_enable

    device = totp_device_pending(user=user)
    codes = two_factor_enable(user=user, device=device)
    device.refresh_from_db()
    return device, codes


def basic_header(username: str, secret: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode()


def through_pipeline(family, *, address: str = "127.0.0.1", **meta):
    """Authenticate a request from `address` with these META entries (e.g.
    HTTP_AUTHORIZATION=basic_header(...)) through the one pipeline: its Principal; Denied
    raised as the pipeline raises it."""
    from django.test import RequestFactory

    from tokens_site.auth.pipeline import authenticate

    return authenticate(RequestFactory().get("/", REMOTE_ADDR=address, **meta), family)


def once_key(client, url: str) -> str:
    """The single-use form key the page at `url` holds (tokens_site.once), as a browser
    would post it back."""
    import re

    from tokens_site.once import FIELD_NAME

    page = client.get(url).content.decode()
    return re.search(rf'name="{FIELD_NAME}" value="([^"]+)"', page).group(1)
