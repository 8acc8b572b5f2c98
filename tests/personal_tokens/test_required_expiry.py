"""Issue 16's expiry by default: the instance setting "require expiration dates" (on, as GitLab
16+) gives a token made without a date the longest allowed lifetime, wherever it is made (the
page, the API, the command, the ORM), and says so; off, "never" stays possible. Every token
form prefills 30 days. Existing tokens keep their dates."""

from datetime import date, timedelta
from io import StringIO

import pytest
from django.core.management import call_command

from deploy_tokens.forms import DeployTokenForm
from personal_tokens.forms import PersonalAccessTokenForm
from personal_tokens.models import PersonalAccessToken
from tests.factories import AdminFactory, UserFactory, make_personal_token, once_key
from tokens_site.models import InstanceSettings
from tokens_site.once import FIELD_NAME
from tokens_site.tokens import utc_today

pytestmark = pytest.mark.django_db

PAGE = "/-/user_settings/personal_access_tokens"


def a_year() -> date:
    """Worked out when asked: a run that crosses midnight (UTC) stays right."""
    return utc_today() + timedelta(days=365)


def test_it_is_on_by_default():
    assert InstanceSettings.current().require_token_expiry is True


def test_the_forms_prefill_thirty_days():
    expected = utc_today() + timedelta(days=30)
    assert PersonalAccessTokenForm(user=UserFactory())["expires_at"].initial == expected
    assert DeployTokenForm()["expires_at"].initial == expected


def test_the_page_says_what_an_empty_date_gave(client):
    user = UserFactory()
    client.force_login(user)
    key = once_key(client, PAGE)
    data = {"name": "t", "scopes": ["api"], "expires_at": "", FIELD_NAME: key}
    answer = client.post(PAGE, data).content.decode()
    assert f"No expiration date was given: the token expires on {a_year()}" in answer
    assert PersonalAccessToken.objects.get(user=user).expires_at == a_year()


def test_the_api_answer_has_the_date(client):
    admin = AdminFactory()
    _, value = make_personal_token(admin, scopes=["api"], expires_at=a_year())
    response = client.post(
        f"/api/v4/users/{UserFactory().pk}/personal_access_tokens",
        {"name": "ci", "scopes": ["read_api"]},
        content_type="application/json",
        HTTP_PRIVATE_TOKEN=value,
    )
    assert response.status_code == 201 and response.json()["expires_at"] == str(a_year())


def test_the_command_says_so_on_stderr(client):
    UserFactory(username="robot")
    out, err = StringIO(), StringIO()
    call_command(
        "create_personal_access_token",
        *["--username", "robot", "--name", "t", "--scopes", "api"],
        stdout=out,
        stderr=err,
    )
    assert out.getvalue().strip().startswith("glpat-")  # stdout stays the token alone
    assert f"the token expires on {a_year()}" in err.getvalue()


def test_the_orm_too():
    user = UserFactory()
    token, _ = PersonalAccessToken.objects.create_token(user=user, name="t", scopes=["api"])
    assert token.expires_at == a_year()


def test_off_never_stays_possible(no_required_expiry):
    token, _ = make_personal_token(UserFactory())
    assert token.expires_at is None
    assert "does not expire" in PersonalAccessTokenForm(user=UserFactory())["expires_at"].help_text


def test_existing_tokens_keep_their_dates(no_required_expiry):
    token, _ = make_personal_token(UserFactory())
    instance = InstanceSettings.current()
    instance.require_token_expiry = True
    instance.save()
    token.save()  # a later save of an existing row changes nothing
    token.refresh_from_db()
    assert token.expires_at is None
