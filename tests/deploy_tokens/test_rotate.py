"""Issue 16: deploy tokens rotate (GitLab cannot): the successor keeps the owner, name,
username, description and scopes, and has a new value shown once; the old value stops at
once; the lifetime carries over. On the page (Rotate, with the show-once panel) and in the API
(`POST /projects/:id/deploy_tokens/:token_id/rotate`, the group one too). Bad input: a revoked
or expired token, someone else's, an expiry before today, two rotations at once."""

import base64
from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError

from deploy_tokens.models import DeployToken
from deploy_tokens.services import deploy_token_rotate
from tests.factories import make_deploy_token, make_personal_token, once_key
from tests.roles import ROLES
from tokens_site.models import AuditAction, AuditEvent, InstanceSettings
from tokens_site.once import FIELD_NAME
from tokens_site.rotation import ALREADY_ROTATED, NOT_ACTIVE
from tokens_site.tokens import utc_today

pytestmark = pytest.mark.django_db

PROJECT_SETTINGS = "/tanuki/backend/api/-/settings/repository"
WHO_MAY = ["sign_in", 404, 403, 403, 403, 200, 200, 200]  # as ROLES: Maintainers and up


def whoami(client, username, value):
    auth = "Basic " + base64.b64encode(f"{username}:{value}".encode()).decode()
    return client.get("/-/whoami", HTTP_AUTHORIZATION=auth)


@pytest.fixture
def old(world):
    token, value = make_deploy_token(
        world["project"],
        name="ci",
        username="ci-bot",
        description="for the runners",
        scopes=["read_repository", "read_package_registry"],
        expires_at=utc_today() + timedelta(days=30),
    )
    return token, value


class TestService:
    def test_the_successor_keeps_all_but_the_value(self, client, world, old):
        token, value = old
        successor, new_value = deploy_token_rotate(actor=world["users"]["owner"], token=token)
        assert (successor.name, successor.username, successor.description) == (
            "ci",
            "ci-bot",
            "for the runners",
        )
        assert successor.scopes == ["read_repository", "read_package_registry"]
        assert successor.project == world["project"] and successor.expires_at == token.expires_at
        assert whoami(client, "ci-bot", new_value).status_code == 200
        assert whoami(client, "ci-bot", value).status_code == 401
        event = AuditEvent.objects.get(action=AuditAction.DEPLOY_TOKEN_ROTATE)
        assert event.details["rotated_from"] == token.pk

    def test_the_lifetime_carries_over_within_the_maximum(self, world, old):
        token, _ = old
        with time_machine.travel(utc_today() + timedelta(days=10)):
            assert token.rotated_expiry() == utc_today() + timedelta(days=30)
            instance = InstanceSettings.current()
            instance.personal_access_token_max_lifetime_days = 7
            instance.save()
            assert token.rotated_expiry() == utc_today() + timedelta(days=7)

    def test_without_a_maximum_a_year_at_most(self, world):
        token, _ = make_deploy_token(world["project"], expires_at=utc_today() + timedelta(days=700))
        successor, _ = deploy_token_rotate(actor=world["users"]["owner"], token=token)
        assert successor.expires_at == utc_today() + timedelta(days=365)

    def test_a_token_without_expiry_gets_the_required_one_and_the_audit_says_so(
        self, world, no_required_expiry
    ):
        token, _ = make_deploy_token(world["project"])  # made when none was required
        instance = InstanceSettings.current()
        instance.require_token_expiry = True
        instance.save()
        successor, _ = deploy_token_rotate(actor=world["users"]["owner"], token=token)
        assert successor.expires_at == utc_today() + timedelta(days=365)
        event = AuditEvent.objects.get(action=AuditAction.DEPLOY_TOKEN_ROTATE)
        assert event.details["expires_at"] == str(successor.expires_at)

    def test_a_token_without_expiry_gets_none_where_none_is_required(
        self, world, no_required_expiry
    ):
        token, _ = make_deploy_token(world["project"])
        successor, _ = deploy_token_rotate(actor=world["users"]["owner"], token=token)
        assert successor.expires_at is None

    def test_a_given_date_is_taken_and_a_past_one_refused(self, world, old):
        token, _ = old
        with pytest.raises(ValidationError):
            deploy_token_rotate(actor=world["users"]["owner"], token=token, expires_at=utc_today())
        assert DeployToken.objects.count() == 1 and not DeployToken.objects.get().revoked
        later = utc_today() + timedelta(days=90)
        successor, _ = deploy_token_rotate(
            actor=world["users"]["owner"], token=token, expires_at=later
        )
        assert successor.expires_at == later

    def test_two_rotations_at_once_one_wins(self, world, old):
        token, _ = old
        stale = DeployToken.objects.get(pk=token.pk)  # loaded before the first rotation
        deploy_token_rotate(actor=world["users"]["owner"], token=token)
        with pytest.raises(ValidationError) as refused:
            deploy_token_rotate(actor=world["users"]["owner"], token=stale)
        assert refused.value.messages == [ALREADY_ROTATED]
        assert DeployToken.objects.count() == 2
        assert AuditEvent.objects.filter(action=AuditAction.DEPLOY_TOKEN_ROTATE).count() == 1

    def test_revoked_and_expired_tokens_are_refused(self, world, old):
        token, _ = old
        token.revoke_once()
        with pytest.raises(ValidationError):
            deploy_token_rotate(actor=world["users"]["owner"], token=token)
        expired, _ = make_deploy_token(world["project"], expires_at=utc_today() + timedelta(1))
        with (
            time_machine.travel(utc_today() + timedelta(days=2)),
            pytest.raises(ValidationError),
        ):
            deploy_token_rotate(actor=world["users"]["owner"], token=expired)

    def test_developers_may_not(self, world, old):
        token, _ = old
        with pytest.raises(PermissionDenied):
            deploy_token_rotate(actor=world["users"]["developer"], token=token)
        assert DeployToken.objects.count() == 1

    def test_the_ci_token_stays_readable_for_jobs(self, world):
        from deploy_tokens.selectors import ci_deploy_token_for
        from tokens_site.tokens import token_decrypt

        token, _ = make_deploy_token(world["project"], name="gitlab-deploy-token")
        successor, value = deploy_token_rotate(actor=world["users"]["owner"], token=token)
        assert ci_deploy_token_for(world["project"]) == successor
        assert token_decrypt(successor.token_encrypted) == value


class TestPage:
    def rotate(self, client, token):
        key = once_key(client, PROJECT_SETTINGS)
        url = f"/tanuki/backend/api/-/deploy_tokens/{token.pk}/rotate"
        return client.post(url, {FIELD_NAME: key})

    def test_rotate_shows_the_new_value_once(self, client, world, old):
        token, _ = old
        client.force_login(world["users"]["maintainer"])
        assert "Rotate ci" in client.get(PROJECT_SETTINGS).content.decode()
        response = self.rotate(client, token)
        assert response.status_code == 200 and response["Cache-Control"].count("no-store")
        value = response.context["plaintext"]
        assert value.startswith("gldt-") and value in response.content.decode()
        assert "ci-bot" in response.content.decode()
        assert value not in client.get(PROJECT_SETTINGS).content.decode()

    @pytest.mark.parametrize(("role", "expected"), list(zip(ROLES, WHO_MAY, strict=True)))
    def test_who_may_rotate(self, client, world, old, role, expected):
        token, _ = old
        if role != "anonymous":
            client.force_login(world["users"][role])
        url = f"/tanuki/backend/api/-/deploy_tokens/{token.pk}/rotate"
        if expected == 200:
            response = self.rotate(client, token)
            assert response.status_code == 200 and response.context["plaintext"]
            return
        response = client.post(url, {FIELD_NAME: "x"})
        if expected == "sign_in":
            assert response.status_code == 302 and "/users/sign_in" in response["Location"]
        else:
            assert response.status_code == expected
        token.refresh_from_db()
        assert not token.revoked and DeployToken.objects.count() == 1

    def test_rotating_a_revoked_token_says_so(self, client, world, old):
        token, _ = old
        client.force_login(world["users"]["owner"])
        key = once_key(client, PROJECT_SETTINGS)
        token.revoke_once()
        url = f"/tanuki/backend/api/-/deploy_tokens/{token.pk}/rotate"
        response = client.post(url, {FIELD_NAME: key}, follow=True)
        assert NOT_ACTIVE in response.content.decode()
        assert DeployToken.objects.count() == 1

    def test_another_projects_token_is_not_found(self, client, world):
        from tests.factories import GroupFactory, ProjectFactory

        elsewhere = ProjectFactory(group=GroupFactory(path="other"), path="app")
        token, _ = make_deploy_token(elsewhere)
        client.force_login(world["users"]["owner"])
        url = f"/tanuki/backend/api/-/deploy_tokens/{token.pk}/rotate"
        assert client.post(url, {FIELD_NAME: "x"}).status_code == 404


class TestApi:
    def post(self, client, world, token_id, user="owner", **data):
        _, api_token = make_personal_token(world["users"][user], scopes=["api"])
        return client.post(
            f"/api/v4/projects/{world['project'].pk}/deploy_tokens/{token_id}/rotate",
            data,
            content_type="application/json",
            HTTP_PRIVATE_TOKEN=api_token,
        )

    def test_the_new_value_in_the_answer(self, client, world, old):
        token, _ = old
        response = self.post(client, world, token.pk)
        assert response.status_code == 200 and response["Cache-Control"].count("no-store")
        body = response.json()
        assert body["token"].startswith("gldt-") and body["username"] == "ci-bot"

    def test_the_group_endpoint(self, client, world):
        token, _ = make_deploy_token(world["group"], name="group-ci")
        _, api_token = make_personal_token(world["users"]["owner"], scopes=["api"])
        response = client.post(
            f"/api/v4/groups/{world['group'].pk}/deploy_tokens/{token.pk}/rotate",
            HTTP_PRIVATE_TOKEN=api_token,
        )
        assert response.status_code == 200 and response.json()["name"] == "group-ci"

    def test_bad_input(self, client, world, old):
        token, _ = old
        past = self.post(client, world, token.pk, expires_at=str(utc_today()))
        assert past.status_code == 400
        assert self.post(client, world, 999_999).status_code == 404
        assert self.post(client, world, token.pk, user="developer").status_code == 403
        assert DeployToken.objects.count() == 1
        assert self.post(client, world, token.pk).status_code == 200
        again = self.post(client, world, token.pk)
        assert again.status_code == 400 and ALREADY_ROTATED in again.json()["message"]
