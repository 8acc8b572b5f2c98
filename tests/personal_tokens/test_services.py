"""Personal access tokens as the service creates, revokes and touches them."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command

from personal_tokens.models import PersonalAccessToken
from personal_tokens.services import (
    personal_token_create,
    personal_token_revoke,
    personal_token_rotate,
)
from tests.factories import AdminFactory, UserFactory, make_personal_token, once_key
from tests.leaks import tables_holding
from tokens_site.models import DESCRIPTION_TOO_LONG, AuditAction, AuditEvent, InstanceSettings
from tokens_site.once import FIELD_NAME
from tokens_site.tokens import token_digest, token_generate, token_is_well_formed, utc_today

pytestmark = pytest.mark.django_db
PAGE = "/-/user_settings/personal_access_tokens"
ADMIN_LIST = "/admin/personal_tokens/personalaccesstoken/"


def set_max_lifetime(days):
    instance = InstanceSettings.current()
    instance.personal_access_token_max_lifetime_days = days
    instance.save()


def test_token_has_the_instance_prefix_and_a_checksum():
    _, plaintext = make_personal_token()
    assert plaintext.startswith("glpat-") and token_is_well_formed(plaintext, "glpat-")
    instance = InstanceSettings.current()
    instance.personal_access_token_prefix = "acme-"
    instance.save()
    _, custom = make_personal_token()
    assert custom.startswith("acme-") and token_is_well_formed(custom, "acme-")


@pytest.mark.parametrize(
    ("scopes", "message"),
    [
        ([], "Select at least one scope."),
        (["api", "write_everything"], "Unknown scopes: write_everything."),
        (["read_user", "sudo"], "Only administrators can have the sudo scope."),
    ],
)
def test_scope_validation(scopes, message):
    with pytest.raises(ValidationError) as raised:
        make_personal_token(scopes=scopes)
    assert raised.value.message_dict["scopes"] == [message]
    assert not PersonalAccessToken.objects.exists()


def test_administrators_may_have_sudo():
    token, _ = make_personal_token(AdminFactory(), scopes=["api", "sudo"])
    assert token.scopes == ["api", "sudo"]


def test_scopes_are_stored_in_a_stable_order_and_read_back_as_a_list():
    token, _ = make_personal_token(scopes=["read_user", "api", "self_rotate"])
    assert PersonalAccessToken.objects.get(pk=token.pk).scopes == [
        "api",
        "read_user",
        "self_rotate",
    ]


@pytest.mark.parametrize("name", ["", "   ", "x" * 256])
def test_bad_names_are_refused(name):
    with pytest.raises(ValidationError) as raised:
        make_personal_token(name=name)
    assert "name" in raised.value.message_dict
    assert not PersonalAccessToken.objects.exists()


def test_a_description_is_optional_and_kept_as_given():
    plain, _ = make_personal_token()
    described, _ = make_personal_token(description="  For the backup job on nas-01.\n ")
    assert PersonalAccessToken.objects.get(pk=plain.pk).description == ""
    assert PersonalAccessToken.objects.get(pk=described.pk).description == (
        "For the backup job on nas-01."
    )


def test_a_description_of_255_characters_is_the_longest_allowed():
    token, _ = make_personal_token(description="d" * 255)
    assert PersonalAccessToken.objects.get(pk=token.pk).description == "d" * 255
    with pytest.raises(ValidationError) as raised:
        make_personal_token(description="d" * 256)
    assert raised.value.message_dict == {"description": [DESCRIPTION_TOO_LONG]}
    assert DESCRIPTION_TOO_LONG == "Description is too long: use at most 255 characters."
    assert PersonalAccessToken.objects.count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.PERSONAL_TOKEN_CREATE).count() == 1


def test_the_console_recipe_refuses_a_long_description_too():
    with pytest.raises(ValidationError) as raised:
        UserFactory().personal_access_tokens.create(name="t", scopes=["api"], description="d" * 256)
    assert raised.value.message_dict["description"] == [DESCRIPTION_TOO_LONG]
    assert not PersonalAccessToken.objects.exists()


def test_rotation_gives_the_successor_the_description():
    user = UserFactory()
    token, _ = make_personal_token(user, name="ci", description="Nightly deploys")
    successor, plaintext = personal_token_rotate(actor=user, token=token)
    assert successor.pk != token.pk and PersonalAccessToken.objects.get(pk=token.pk).revoked
    stored = PersonalAccessToken.objects.get(pk=successor.pk)
    assert (stored.name, stored.description) == ("ci", "Nightly deploys")
    assert stored.token_digest == token_digest(plaintext)


class TestMaximumLifetime:
    def test_no_limit_allows_no_date(self, no_required_expiry):
        token, _ = make_personal_token()
        assert token.expires_at is None

    def test_required_expiry_gives_no_date_the_longest_lifetime(self):
        """Issue 16, as GitLab 16+: on by default, a token without a date lasts the longest
        allowed: 365 days, or the instance's maximum."""
        token, _ = make_personal_token()
        assert token.expires_at == utc_today() + timedelta(days=365)
        set_max_lifetime(30)
        token, _ = make_personal_token(name="second")
        assert token.expires_at == utc_today() + timedelta(days=30)

    def test_limit_requires_a_date(self, no_required_expiry):
        set_max_lifetime(30)
        with pytest.raises(ValidationError) as raised:
            make_personal_token()
        assert "at most 30 days" in raised.value.message_dict["expires_at"][0]

    def test_limit_refuses_a_later_date_and_accepts_the_last_day(self):
        set_max_lifetime(30)
        with pytest.raises(ValidationError, match="no later than"):
            make_personal_token(expires_at=utc_today() + timedelta(days=31))
        token, _ = make_personal_token(expires_at=utc_today() + timedelta(days=30))
        assert token.expires_at == utc_today() + timedelta(days=30)

    def test_past_dates_are_refused(self):
        with pytest.raises(ValidationError, match="Choose a date after today"):
            make_personal_token(expires_at=utc_today())


def _on_the_page(client, user, expires_at: date | None) -> str:
    client.force_login(user)
    key = once_key(client, PAGE)
    data = {"name": "t", "scopes": ["api"], "expires_at": str(expires_at or ""), FIELD_NAME: key}
    return client.post(PAGE, data).content.decode()


def _in_the_admin(client, user, expires_at: date | None) -> str:
    client.force_login(AdminFactory())
    key = once_key(client, f"{ADMIN_LIST}add/")
    data = {"user": user.pk, "name": "t", "scopes": ["api"], "expires_at": str(expires_at or "")}
    return client.post(f"{ADMIN_LIST}add/", {**data, FIELD_NAME: key}).content.decode()


def _with_the_command(client, user, expires_at: date | None) -> str:
    args = ["--username", user.username, "--name", "t", "--scopes", "api"]
    if expires_at:
        args += ["--expires-at", str(expires_at)]
    with pytest.raises(CommandError) as raised:
        call_command("create_personal_access_token", *args)
    return str(raised.value)


def _through_the_orm(client, user, expires_at: date | None) -> str:
    with pytest.raises(ValidationError) as raised:
        PersonalAccessToken.objects.create_token(
            user=user, name="t", scopes=["api"], expires_at=expires_at
        )
    return " ".join(raised.value.messages)


CHANNELS = {
    "page": _on_the_page,
    "admin": _in_the_admin,
    "command": _with_the_command,
    "orm": _through_the_orm,
}


@pytest.mark.parametrize("case", ["no-date", "one-day-past-the-maximum"])
@pytest.mark.parametrize("channel", CHANNELS)
def test_the_maximum_lifetime_holds_everywhere(client, channel, case, no_required_expiry):
    """With a 10-day maximum (and expiration dates not required, which would give "no date"
    the maximum), neither "no date" nor today + 11 days creates anything, whether on the
    settings page, in the admin, with the command or through the ORM."""
    set_max_lifetime(10)
    latest = utc_today() + timedelta(days=10)
    if case == "no-date":
        expires_at = None
        expected = "Enter an expiration date: this instance allows tokens for at most 10 days"
    else:
        expires_at = latest + timedelta(days=1)
        expected = f"Choose a date no later than {latest}"
    assert expected in CHANNELS[channel](client, UserFactory(), expires_at)
    assert not PersonalAccessToken.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditAction.PERSONAL_TOKEN_CREATE).exists()


class TestPredeterminedTokens:
    def test_predetermined_token_is_stored_as_its_digest(self):
        token, plaintext = make_personal_token(token="token-string-here123")
        assert plaintext == "token-string-here123"
        assert token.token_digest == token_digest("token-string-here123")

    @pytest.mark.parametrize(
        ("value", "message"),
        [
            ("too-short-12345", "at least 20 characters"),
            ("has spaces in it 1234", "printable ASCII"),
            ("glpat-not-a-real-generated-token", "checksum does not match"),
            ("anything-" + "a" * 32, "checksum does not match"),
        ],
    )
    def test_bad_predetermined_tokens_are_refused(self, value, message):
        with pytest.raises(ValidationError) as raised:
            make_personal_token(token=value)
        assert message in raised.value.message_dict["token"][0]
        assert not PersonalAccessToken.objects.exists()

    def test_a_token_already_in_use_is_refused(self):
        make_personal_token(token="token-string-here123")
        with pytest.raises(ValidationError, match="already in use"):
            make_personal_token(token="token-string-here123")
        assert PersonalAccessToken.objects.count() == 1

    def test_a_generated_value_may_be_given(self):
        value = token_generate("glpat-")
        _, plaintext = make_personal_token(token=value)
        assert plaintext == value


def test_users_manage_only_their_own_tokens_admins_any():
    owner, other, admin = UserFactory(), UserFactory(), AdminFactory()
    with pytest.raises(PermissionDenied):
        personal_token_create(actor=other, user=owner, name="x", scopes=["api"])
    token, _ = personal_token_create(actor=admin, user=owner, name="x", scopes=["api"])
    with pytest.raises(PermissionDenied):
        personal_token_revoke(actor=other, token=token)
    personal_token_revoke(actor=admin, token=token)
    assert PersonalAccessToken.objects.get(pk=token.pk).revoked


def test_create_and_revoke_are_audited():
    user = UserFactory()
    token, _ = personal_token_create(
        actor=user, user=user, name="laptop", scopes=["api"], ip_address="198.51.100.1"
    )
    personal_token_revoke(actor=user, token=token, ip_address="198.51.100.2")
    events = list(
        AuditEvent.objects.order_by("id").values_list("action", "actor", "target_id", "ip_address")
    )
    assert events == [
        (AuditAction.PERSONAL_TOKEN_CREATE, user.pk, str(token.pk), "198.51.100.1"),
        (AuditAction.PERSONAL_TOKEN_REVOKE, user.pk, str(token.pk), "198.51.100.2"),
    ]


def test_revoking_twice_is_refused_and_audited_once():
    token, _ = make_personal_token()
    personal_token_revoke(actor=None, token=token)
    with pytest.raises(ValidationError, match="already revoked"):
        personal_token_revoke(actor=None, token=token)
    assert AuditEvent.objects.filter(action=AuditAction.PERSONAL_TOKEN_REVOKE).count() == 1


def test_only_the_digest_is_stored():
    token, plaintext = make_personal_token(token="token-string-here123")
    _, generated = make_personal_token()
    assert tables_holding(plaintext, generated) == []
    assert token.token_digest == token_digest(plaintext)


class TestLastUsed:
    def test_racing_writers_write_once(self):
        """Two processes holding the same stale row: the conditional UPDATE lets one write."""
        token, _ = make_personal_token()
        first = PersonalAccessToken.objects.get(pk=token.pk)
        second = PersonalAccessToken.objects.get(pk=token.pk)
        assert first.touch() is True
        assert second.touch() is False
