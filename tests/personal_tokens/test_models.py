"""The model holds the rules too: however a token is made in `manage.py shell` (the seed's
console recipe included), it meets them and its creation is audited."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from personal_tokens.models import PersonalAccessToken
from tests.factories import AdminFactory, UserFactory
from tokens_site.models import AuditAction, AuditEvent, InstanceSettings
from tokens_site.tokens import token_digest, utc_today

pytestmark = pytest.mark.django_db


def set_max_lifetime(days):
    instance = InstanceSettings.current()
    instance.personal_access_token_max_lifetime_days = days
    instance.save()


@pytest.mark.parametrize(
    ("scopes", "expires_in_days", "max_days", "field", "message"),
    [
        (["sudo", "bogus"], None, None, "scopes", "Unknown scopes: bogus."),
        (["read_user", "sudo"], None, None, "scopes", "Only administrators can have the sudo"),
        ([], None, None, "scopes", "Select at least one scope."),
        (["api"], None, 30, "expires_at", "this instance allows tokens for at most 30 days"),
        (["api"], 31, 30, "expires_at", "Choose a date no later than"),
        (["api"], 0, None, "expires_at", "Choose a date after today"),
    ],
    ids=["unknown-scope", "sudo-for-a-user", "no-scope", "no-date-under-max", "past-max", "past"],
)
def test_the_seeds_console_recipe_keeps_the_rules(
    scopes, expires_in_days, max_days, field, message, no_required_expiry
):
    """`user.personal_access_tokens.create(...)`, as the seed's Rails console recipe reads."""
    user = UserFactory(username="automation-bot")
    if max_days:
        set_max_lifetime(max_days)
    expires_at = None if expires_in_days is None else utc_today() + timedelta(expires_in_days)
    with pytest.raises(ValidationError) as raised:
        user.personal_access_tokens.create(
            name="Automation token", scopes=scopes, expires_at=expires_at
        )
    assert message in " ".join(raised.value.message_dict[field])
    assert not PersonalAccessToken.objects.exists()
    assert not AuditEvent.objects.exists()


def test_the_seeds_console_recipe_works_and_is_audited():
    user = UserFactory(username="automation-bot")
    token = user.personal_access_tokens.create(
        scopes=["read_user", "read_repository"], name="Automation token"
    )
    token.set_token("token-string-here123")
    token.save()
    found = PersonalAccessToken.objects.find_by_token("token-string-here123")
    assert found == token and found.scopes == ["read_user", "read_repository"]
    found.revoke()
    assert PersonalAccessToken.objects.get(pk=token.pk).revoked
    assert list(AuditEvent.objects.order_by("id").values_list("action", "target_id")) == [
        (AuditAction.PERSONAL_TOKEN_CREATE, str(token.pk)),
        (AuditAction.PERSONAL_TOKEN_REVOKE, str(token.pk)),
    ]


def test_an_administrator_may_have_sudo_through_the_recipe():
    token = AdminFactory().personal_access_tokens.create(name="admin", scopes=["api", "sudo"])
    assert PersonalAccessToken.objects.get(pk=token.pk).scopes == ["api", "sudo"]


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"scopes": ["sudo"]}, "scopes", "Only administrators can have the sudo scope."),
        ({"scopes": ["api", "everything"]}, "scopes", "Unknown scopes: everything."),
        (
            {"scopes": ["api"], "expires_at": utc_today() + timedelta(days=400)},
            "expires_at",
            "Choose a date no later than",
        ),
        ({"scopes": ["api"], "token_digest": ""}, "token", "A new token needs a value"),
    ],
    ids=["sudo-for-a-user", "unknown-scope", "past-max", "no-value"],
)
def test_saving_a_new_token_that_breaks_the_rules_is_refused(fields, field, message):
    set_max_lifetime(365)
    token = PersonalAccessToken(
        user=UserFactory(),
        name="by hand",
        token_digest=token_digest("token-string-here123"),
        expires_at=utc_today() + timedelta(days=30),
    )
    for name, value in fields.items():
        setattr(token, name, value)
    with pytest.raises(ValidationError) as raised:
        token.save()
    assert message in " ".join(raised.value.message_dict[field])
    assert not PersonalAccessToken.objects.exists()


def test_an_existing_token_can_still_be_saved_after_the_rules_tighten():
    """The rules are those of a new token: a later maximum lifetime does not lock old rows."""
    token = UserFactory().personal_access_tokens.create(name="old", scopes=["api"])
    set_max_lifetime(30)
    token.set_token("token-string-here123")
    token.save()
    assert PersonalAccessToken.objects.find_by_token("token-string-here123") == token
