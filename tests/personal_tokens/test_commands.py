"""The create/revoke commands and the same steps through the ORM (the seed's console recipes)."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from personal_tokens.models import PersonalAccessToken
from tests.factories import UserFactory
from tests.processes import manage
from tokens_site.models import AuditAction, AuditEvent, InstanceSettings
from tokens_site.tokens import token_digest, utc_today

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def bot():
    return UserFactory(username="automation-bot")


def test_create_prints_a_new_token(bot):
    out = run(
        "create_personal_access_token",
        "--username",
        "automation-bot",
        "--name",
        "Automation token",
        "--scopes",
        "read_user,read_repository",
    )
    plaintext = out.strip()
    token = PersonalAccessToken.objects.get(user=bot)
    assert plaintext.startswith("glpat-") and token.token_digest == token_digest(plaintext)
    assert (token.name, token.scopes) == ("Automation token", ["read_user", "read_repository"])
    assert AuditEvent.objects.filter(action=AuditAction.PERSONAL_TOKEN_CREATE).count() == 1


def test_create_with_a_predetermined_token_and_expiry(bot):
    expires = utc_today() + timedelta(days=5)
    out = run(
        "create_personal_access_token",
        "--username",
        "automation-bot",
        "--name",
        "t",
        "--scopes",
        "api",
        "--expires-at",
        str(expires),
        "--token",
        "token-string-here123",
    )
    assert out.strip() == "token-string-here123"
    assert PersonalAccessToken.objects.find_by_token("token-string-here123").expires_at == expires


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--username", "nobody"], "There is no user with the username 'nobody'."),
        (["--scopes", "bogus"], "--scopes Unknown scopes: bogus."),
        (["--scopes", "sudo"], "--scopes Only administrators can have the sudo scope."),
        (["--token", "short"], "--token A predetermined token must be at least 20 characters"),
        (["--expires-at", "2020-01-01"], "--expires-at Choose a date after today"),
        (["--expires-at", "01/01/2031"], "--expires-at must be a date as YYYY-MM-DD"),
        (["--name", ""], "--name Enter a name for the token."),
        (
            ["--description", "d" * 256],
            "--description Description is too long: use at most 255 characters.",
        ),
    ],
)
def test_create_refuses_bad_input_with_a_clear_message(bot, args, message):
    base = {"--username": "automation-bot", "--name": "t", "--scopes": "api"}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    with pytest.raises(CommandError) as raised:
        run("create_personal_access_token", *[part for item in base.items() for part in item])
    assert message in str(raised.value)
    assert not PersonalAccessToken.objects.exists()


def test_create_with_a_description(bot):
    run(
        "create_personal_access_token",
        "--username",
        "automation-bot",
        "--name",
        "t",
        "--scopes",
        "api",
        "--description",
        "Runs the nightly export",
    )
    assert PersonalAccessToken.objects.get(user=bot).description == "Runs the nightly export"


def test_create_respects_the_maximum_lifetime(bot, no_required_expiry):
    instance = InstanceSettings.current()
    instance.personal_access_token_max_lifetime_days = 7
    instance.save()
    with pytest.raises(CommandError, match="at most 7 days"):
        run(
            "create_personal_access_token",
            "--username",
            "automation-bot",
            "--name",
            "t",
            "--scopes",
            "api",
        )


def test_create_refuses_a_token_already_in_use(bot):
    args = [
        "create_personal_access_token",
        "--username",
        "automation-bot",
        "--name",
        "t",
        "--scopes",
        "api",
        "--token",
        "token-string-here123",
    ]
    run(*args)
    with pytest.raises(CommandError, match="already in use"):
        run(*args)
    assert PersonalAccessToken.objects.count() == 1


def test_revoke_command(bot):
    run(
        "create_personal_access_token",
        "--username",
        "automation-bot",
        "--name",
        "t",
        "--scopes",
        "api",
        "--token",
        "token-string-here123",
    )
    out = run("revoke_personal_access_token", "token-string-here123")
    assert "Revoked personal access token 't' of automation-bot." in out
    assert PersonalAccessToken.objects.get().revoked
    with pytest.raises(CommandError, match="already revoked"):
        run("revoke_personal_access_token", "token-string-here123")


def test_revoke_command_with_an_unknown_token_fails_clearly():
    with pytest.raises(CommandError, match="No personal access token has that value"):
        run("revoke_personal_access_token", "no-such-token-value-0000")


def test_commands_exit_non_zero_from_the_shell(bot):
    """The commands as a user runs them: message on stderr, exit status 1."""
    result = manage("revoke_personal_access_token", "no-such-token-value-0000")
    assert result.returncode == 1
    assert "No personal access token has that value" in result.stderr
    assert "Traceback" not in result.stderr


def test_orm_recipe_from_the_shell(bot):
    """README's `manage.py shell` steps: create, set a predetermined value, find it, revoke."""
    token, _ = PersonalAccessToken.objects.create_token(
        user=bot, name="Automation token", scopes=["read_user", "read_repository"]
    )
    token.set_token("token-string-here123")
    token.save()
    found = PersonalAccessToken.objects.find_by_token("token-string-here123")
    assert found == token
    found.revoke()
    assert PersonalAccessToken.objects.get(pk=token.pk).revoked
    assert list(AuditEvent.objects.order_by("id").values_list("action", flat=True)) == [
        AuditAction.PERSONAL_TOKEN_CREATE,
        AuditAction.PERSONAL_TOKEN_REVOKE,
    ]


def test_set_token_validates_the_value(bot):
    token, _ = PersonalAccessToken.objects.create_token(user=bot, name="t", scopes=["api"])
    with pytest.raises(ValidationError, match="at least 20 characters"):
        token.set_token("short")
