"""Creating and revoking deploy tokens: rules, storage, audit."""

import hashlib
import hmac
from datetime import timedelta

import pytest
from django.contrib import messages
from django.contrib.messages.storage.cookie import CookieStorage
from django.contrib.sessions.backends.db import SessionStore
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse
from django.test import RequestFactory, override_settings

from deploy_tokens.models import DeployToken
from deploy_tokens.services import deploy_token_create, deploy_token_revoke
from tests.factories import (
    GroupFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    make_deploy_token,
)
from tests.leaks import database_cache_tables, sent_besides_the_body, tables_holding
from tokens_site.models import DESCRIPTION_TOO_LONG, AccessLevel, AuditAction, AuditEvent
from tokens_site.tokens import (
    token_decrypt,
    token_digest,
    token_is_well_formed,
    utc_today,
)

pytestmark = pytest.mark.django_db


def test_token_has_the_prefix_a_random_body_and_a_checksum():
    _token, plaintext = make_deploy_token(ProjectFactory())
    assert plaintext.startswith("gldt-") and len(plaintext) >= len("gldt-") + 20
    assert token_is_well_formed(plaintext, "gldt-")
    assert not token_is_well_formed(
        plaintext[:-1] + ("A" if plaintext[-1] != "A" else "B"), "gldt-"
    )
    _, other = make_deploy_token(ProjectFactory())
    assert other != plaintext


def test_default_username_uses_the_token_id():
    token, _ = make_deploy_token(ProjectFactory())
    assert token.username == f"gitlab+deploy-token-{token.pk}"
    token.refresh_from_db()
    assert token.username == f"gitlab+deploy-token-{token.pk}"


@pytest.mark.parametrize("username", ["deployer", "ci.bot+1", "A_b-c", "x" * 255])
def test_custom_usernames_with_allowed_characters(username):
    token, _ = make_deploy_token(ProjectFactory(), username=username)
    assert token.username == username


@pytest.mark.parametrize(
    ("username", "message"),
    [
        ("with space", "may contain only letters"),
        ("semi;colon", "may contain only letters"),
        ("ünïcode", "may contain only letters"),
        ("x" * 256, "at most 255 characters"),
    ],
)
def test_bad_usernames_are_refused_and_nothing_is_created(username, message):
    with pytest.raises(ValidationError) as raised:
        make_deploy_token(ProjectFactory(), username=username)
    assert message in raised.value.message_dict["username"][0]
    assert not DeployToken.objects.exists()


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"name": ""}, "name", "This field cannot be blank."),
        ({"name": "x" * 256}, "name", "at most 255 characters"),
        ({"description": "d" * 256}, "description", DESCRIPTION_TOO_LONG),
        ({"scopes": []}, "scopes", "Select at least one scope."),
        ({"scopes": ["api"]}, "scopes", "Unknown scopes: api."),
        ({"expires_at": utc_today()}, "expires_at", "Choose a date after today"),
        (
            {"expires_at": utc_today() - timedelta(days=3)},
            "expires_at",
            "Choose a date after today",
        ),
    ],
)
def test_bad_input_is_refused_and_nothing_is_created(kwargs, field, message):
    with pytest.raises(ValidationError) as raised:
        make_deploy_token(ProjectFactory(), **kwargs)
    assert message in " ".join(raised.value.message_dict[field])
    assert not DeployToken.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditAction.DEPLOY_TOKEN_CREATE).exists()


def test_a_description_is_optional_and_kept_up_to_255_characters():
    project = ProjectFactory()
    plain, _ = make_deploy_token(project, name="plain")
    described, _ = make_deploy_token(project, name="ci", description=" Pulls images for k8s ")
    longest, _ = make_deploy_token(project, name="long", description="d" * 255)
    assert DeployToken.objects.get(pk=plain.pk).description == ""
    assert DeployToken.objects.get(pk=described.pk).description == "Pulls images for k8s"
    assert DeployToken.objects.get(pk=longest.pk).description == "d" * 255


def test_only_the_digest_is_stored_nowhere_the_plaintext():
    """Scan every column of every table for the plaintext (the CI token is stored encrypted)."""
    project = ProjectFactory()
    _, plaintext = make_deploy_token(project, name="deploy")
    ci_token, ci_plaintext = make_deploy_token(project, name="gitlab-deploy-token")
    assert tables_holding(plaintext, ci_plaintext) == []
    stored = DeployToken.objects.get(name="deploy")
    assert stored.token_digest == token_digest(plaintext) and stored.token_encrypted == ""
    assert token_decrypt(DeployToken.objects.get(pk=ci_token.pk).token_encrypted) == ci_plaintext


def test_the_digest_is_an_hmac_under_the_configured_key(settings):
    token, plaintext = make_deploy_token(ProjectFactory())
    key = settings.TOKEN_DIGEST_KEY.encode()
    assert token.token_digest == hmac.new(key, plaintext.encode(), hashlib.sha256).hexdigest()
    with override_settings(TOKEN_DIGEST_KEY="another-digest-key-0123456789abcdef"):
        other = token_digest(plaintext)
        assert not DeployToken.objects.filter(token_digest=token_digest(plaintext)).exists()
    assert other != token.token_digest
    assert (
        other
        == hmac.new(
            b"another-digest-key-0123456789abcdef", plaintext.encode(), hashlib.sha256
        ).hexdigest()
    )


def test_the_scan_finds_a_value_in_the_session_the_cache_or_a_messages_cookie():
    """The no-leak checks can fail: a value kept encoded in those places is found."""
    secret = "gldt-" + "S3cretValueForTheScan" * 2
    assert tables_holding(secret) == []
    session = SessionStore()
    session["kept"] = secret
    session.save()
    assert tables_holding(secret) == ["django_session"]
    session.delete()
    if database_cache_tables():
        cache.set("kept", {"value": secret})
        assert tables_holding(secret) == sorted(database_cache_tables())
        cache.delete("kept")
    request = RequestFactory().get("/")
    storage = CookieStorage(request)
    storage.add(messages.INFO, f"Your token: {secret}")
    response = HttpResponse()
    storage.update(response)
    assert secret in sent_besides_the_body(response)


def test_project_tokens_need_maintainer_group_tokens_need_owner():
    group = GroupFactory()
    project = ProjectFactory(group=group)
    developer, maintainer, owner = UserFactory(), UserFactory(), UserFactory()
    for user, level in [
        (developer, AccessLevel.DEVELOPER),
        (maintainer, AccessLevel.MAINTAINER),
        (owner, AccessLevel.OWNER),
    ]:
        MembershipFactory(user=user, group=group, access_level=level)
    with pytest.raises(PermissionDenied):
        make_deploy_token(project, creator=developer)
    assert make_deploy_token(project, creator=maintainer)
    with pytest.raises(PermissionDenied, match="Owner role"):
        make_deploy_token(group, creator=maintainer)
    assert make_deploy_token(group, creator=owner)
    assert DeployToken.objects.count() == 2


def test_create_and_revoke_are_audited_with_who_and_where():
    project = ProjectFactory(path="app")
    user = UserFactory()
    MembershipFactory(user=user, project=project, access_level=AccessLevel.MAINTAINER)
    token, _ = deploy_token_create(
        actor=user, owner=project, name="ci", scopes=["read_repository"], ip_address="203.0.113.5"
    )
    deploy_token_revoke(actor=user, token=token, ip_address="203.0.113.6")
    events = list(
        AuditEvent.objects.order_by("id").values_list("action", "actor", "target_id", "ip_address")
    )
    assert events[-2:] == [
        (AuditAction.DEPLOY_TOKEN_CREATE, user.pk, str(token.pk), "203.0.113.5"),
        (AuditAction.DEPLOY_TOKEN_REVOKE, user.pk, str(token.pk), "203.0.113.6"),
    ]
    assert token.creator == user


def test_revoking_twice_says_so_and_changes_nothing():
    token, _ = make_deploy_token(ProjectFactory(), name="ci")
    admin = token.creator
    deploy_token_revoke(actor=admin, token=token)
    with pytest.raises(ValidationError, match="already revoked"):
        deploy_token_revoke(actor=admin, token=DeployToken.objects.get(pk=token.pk))
    assert AuditEvent.objects.filter(action=AuditAction.DEPLOY_TOKEN_REVOKE).count() == 1
