"""User settings > Access tokens."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from personal_tokens.models import PersonalAccessToken
from tests.factories import AdminFactory, UserFactory, make_personal_token, once_key
from tests.leaks import assert_shown_by_the_creating_page_only, log_everything
from tokens_site.models import AuditAction, AuditEvent, InstanceSettings
from tokens_site.once import FIELD_NAME
from tokens_site.tokens import utc_today

pytestmark = pytest.mark.django_db
PAGE = "/-/user_settings/personal_access_tokens"


@pytest.fixture
def user_client(client):
    user = UserFactory(username="pat")
    client.force_login(user)
    client.user = user
    return client


def form_data(client, **overrides):
    key = once_key(client, PAGE)
    return {"name": "laptop", "scopes": ["api"], "expires_at": "", FIELD_NAME: key, **overrides}


def test_page_needs_sign_in(client):
    response = client.get(PAGE)
    assert response.status_code == 302 and "/users/sign_in" in response["Location"]


def test_edit_profile_leads_to_access_tokens(user_client):
    page = user_client.get("/-/user_settings/profile").content.decode()
    assert f'href="{PAGE}"' in page and ">Access tokens</a>" in page


def test_old_address_redirects_and_keeps_the_query_string(user_client):
    response = user_client.get(
        "/-/profile/personal_access_tokens?name=Example+Access+token&scopes=api"
    )
    assert response.status_code in (301, 302)
    assert response["Location"] == f"{PAGE}?name=Example+Access+token&scopes=api"


def test_prefill_from_the_url_ignores_unknown_scopes(user_client):
    response = user_client.get(
        f"{PAGE}?name=Example+Access+token&scopes=api,read_user,bogus,read_registry"
    )
    form = response.context["form"]
    assert form.initial == {
        "name": "Example Access token",
        "description": "",
        "scopes": ["api", "read_user", "read_registry"],
    }
    page = response.content.decode()
    assert 'value="Example Access token"' in page
    for scope in ("api", "read_user", "read_registry"):
        assert re.search(
            rf'<input type="checkbox" name="scopes" value="{scope}"[^>]* checked', page
        )
    assert not re.search(r'value="read_api"[^>]* checked', page)


def test_prefill_from_the_url_takes_a_description(user_client):
    page = user_client.get(
        f"{PAGE}?name=ci&description=Deploys+%3Cb%3Eprod%3C%2Fb%3E&scopes=api"
    ).content.decode()
    textarea = re.search(r'<textarea name="description"[^>]*>(.*?)</textarea>', page, re.DOTALL)
    assert textarea.group(1).strip() == "Deploys &lt;b&gt;prod&lt;/b&gt;"
    assert "<b>prod</b>" not in page


def test_sudo_is_offered_only_to_administrators(client):
    client.force_login(UserFactory())
    assert 'value="sudo"' not in client.get(f"{PAGE}?scopes=sudo").content.decode()
    client.force_login(AdminFactory())
    assert 'value="sudo"' in client.get(PAGE).content.decode()


def test_create_shows_the_token_once(user_client):
    data = form_data(user_client, name="laptop", scopes=["read_api", "read_repository"])
    response = user_client.post(PAGE, data)
    page = response.content.decode()
    plaintext = re.search(
        r'id="new-personal-access-token-value" value="(glpat-[^"]+)"', page
    ).group(1)
    assert "Your new personal access token" in page
    assert "Make sure you save it - you won't be able to access it again." in page
    assert "no-store" in response["Cache-Control"]
    token = PersonalAccessToken.objects.get(user=user_client.user)
    assert token.scopes == ["read_api", "read_repository"]
    again = user_client.post(PAGE, data, follow=True).content.decode()
    assert plaintext not in again and "already submitted" in again
    assert PersonalAccessToken.objects.count() == 1
    later = user_client.get(PAGE).content.decode()
    assert plaintext not in later and "Active personal access tokens (1)" in later


def test_the_value_is_in_the_creating_page_only(user_client, caplog, settings):
    """After a create and its reload, the value is in no table (sessions and cache
    included), header, cookie or log line (SQL too) — only in the body of the one answer."""
    log_everything(caplog, settings)
    data = form_data(user_client, name="laptop-of-pat")
    created = user_client.post(PAGE, data)
    plaintext = re.search(
        r'id="new-personal-access-token-value" value="([^"]+)"', created.content.decode()
    ).group(1)
    assert_shown_by_the_creating_page_only(
        plaintext,
        client=user_client,
        created=created,
        reloaded=user_client.post(PAGE, data),
        caplog=caplog,
        logged="laptop-of-pat",
    )


def test_creating_and_revoking_on_the_page_are_audited_with_the_address(user_client):
    user = user_client.user
    user_client.post(PAGE, form_data(user_client), REMOTE_ADDR="198.51.100.7")
    token = PersonalAccessToken.objects.get()
    user_client.post(f"{PAGE}/{token.pk}/revoke", REMOTE_ADDR="2001:db8::9")
    events = AuditEvent.objects.order_by("id")
    assert [
        (event.action, event.actor, event.target_type, event.target_id, event.ip_address)
        for event in events
    ] == [
        (
            AuditAction.PERSONAL_TOKEN_CREATE,
            user,
            "personalaccesstoken",
            str(token.pk),
            "198.51.100.7",
        ),
        (
            AuditAction.PERSONAL_TOKEN_REVOKE,
            user,
            "personalaccesstoken",
            str(token.pk),
            "2001:db8::9",
        ),
    ]


def test_a_missing_or_day_old_form_key_has_expired_not_been_submitted(user_client):
    issued = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)
    with time_machine.travel(issued, tick=False):
        user_client.force_login(user_client.user)  # a session of that day
        data = form_data(user_client)
    with time_machine.travel(issued + timedelta(hours=24, minutes=1), tick=False):
        for sent in (
            data,
            {**data, FIELD_NAME: ""},
            {k: v for k, v in data.items() if k != FIELD_NAME},
        ):
            page = user_client.post(PAGE, sent, follow=True).content.decode()
            assert "This form has expired; reload the page and try again." in page
            assert "already submitted" not in page
    assert not PersonalAccessToken.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"name": ""}, "This field is required."),
        ({"scopes": []}, "Select at least one scope."),
        ({"scopes": ["sudo"]}, "Select a valid choice. sudo is not one of the available choices."),
        ({"expires_at": "2001-01-01"}, "Choose a date after today"),
        ({"expires_at": "tomorrow"}, "Enter a valid date as YYYY-MM-DD"),
        ({"description": "d" * 256}, "Description is too long: use at most 255 characters."),
    ],
)
def test_bad_input_is_a_form_error(user_client, overrides, message):
    response = user_client.post(PAGE, form_data(user_client, **overrides))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not PersonalAccessToken.objects.exists()


def test_maximum_lifetime_on_the_page(user_client):
    instance = InstanceSettings.current()
    instance.personal_access_token_max_lifetime_days = 10
    instance.save()
    latest = utc_today() + timedelta(days=10)
    page = user_client.get(PAGE).content.decode()
    assert f'max="{latest}"' in page and "at most 10 days" in page
    response = user_client.post(PAGE, form_data(user_client))
    assert "Enter an expiration date: this instance allows tokens for at most 10 days" in (
        response.content.decode()
    )
    response = user_client.post(PAGE, form_data(user_client, expires_at=str(latest + timedelta(1))))
    assert "Choose a date no later than" in response.content.decode()
    user_client.post(PAGE, form_data(user_client, expires_at=str(latest)))
    assert PersonalAccessToken.objects.get().expires_at == latest


def test_table_shows_only_own_active_tokens_with_last_used_and_expiry(user_client):
    from django.utils import timezone

    mine, _ = make_personal_token(
        user_client.user, name="mine", expires_at=utc_today() + timedelta(3)
    )
    PersonalAccessToken.objects.filter(pk=mine.pk).update(
        last_used_at=timezone.now() - timedelta(hours=2)
    )
    make_personal_token(user_client.user, name="fresh")
    revoked, _ = make_personal_token(user_client.user, name="old")
    revoked.revoke()
    make_personal_token(UserFactory(), name="someone-elses")
    page = user_client.get(PAGE).content.decode()
    assert "Active personal access tokens (2)" in page
    active = page.split('id="active-personal-access-tokens"')[1].split("</table>")[0]
    rows = dict(re.findall(r'<tr data-token="([^"]+)">(.*?)</tr>', active, re.DOTALL))
    assert set(rows) == {"mine", "fresh"}
    assert "2\xa0hours ago" in rows["mine"] and "(in 3 days)" in rows["mine"]
    assert "Never" in rows["fresh"]


def test_the_form_asks_for_a_description_after_the_name(user_client):
    page = user_client.get(PAGE).content.decode()
    assert re.search(
        r'<label for="id_description">Token description <span class="muted">\(optional\)</span>'
        r"</label>\s*<textarea[^>]*maxlength=\"255\"",
        page,
    )
    assert page.index('name="name"') < page.index('name="description"') < page.index("expires_at")


def test_a_description_made_on_the_page_shows_escaped_under_the_name(user_client):
    description = 'Backups on <script>alert("nas")</script> & more'
    user_client.post(PAGE, form_data(user_client, name="nas", description=description))
    assert PersonalAccessToken.objects.get().description == description
    page = user_client.get(PAGE).content.decode()
    rows = dict(re.findall(r'<tr data-token="([^"]+)">(.*?)</tr>', page, re.DOTALL))
    assert (
        '<div class="token-description">Backups on &lt;script&gt;alert(&quot;nas&quot;)'
        "&lt;/script&gt; &amp; more</div>"
    ) in rows["nas"]
    assert "<script>alert" not in page


def test_a_token_without_a_description_shows_none(user_client):
    make_personal_token(user_client.user, name="plain")
    page = user_client.get(PAGE).content.decode()
    assert 'class="token-description"' not in page


def test_revoke_is_a_post_of_ones_own_token(user_client):
    mine, _ = make_personal_token(user_client.user, name="mine")
    theirs, _ = make_personal_token(UserFactory(), name="theirs")
    url = f"{PAGE}/{theirs.pk}/revoke"
    assert user_client.post(url).status_code == 404
    assert not PersonalAccessToken.objects.get(pk=theirs.pk).revoked
    assert user_client.get(f"{PAGE}/{mine.pk}/revoke").status_code == 405
    response = user_client.post(f"{PAGE}/{mine.pk}/revoke", follow=True)
    assert "Revoked personal access token mine." in response.content.decode()
    assert PersonalAccessToken.objects.get(pk=mine.pk).revoked
    again = user_client.post(f"{PAGE}/{mine.pk}/revoke", follow=True).content.decode()
    assert "was already revoked" in again


def test_the_last_addresses_are_shown_under_last_used(user_client):
    from tests.factories import make_personal_token

    _, value = make_personal_token(user_client.user, scopes=["read_api"])
    user_client.get("/api/v4/user", HTTP_PRIVATE_TOKEN=value, REMOTE_ADDR="198.51.100.9")
    assert "from 198.51.100.9" in user_client.get(PAGE).content.decode()


class TestRotateOnThePage:
    """Issue 16: Rotate on each row: the successor (same name, description, scopes and expiry)
    is shown once; the old value stops; someone else's token is not found."""

    def rotate(self, user_client, token):
        key = once_key(user_client, PAGE)
        return user_client.post(f"{PAGE}/{token.pk}/rotate", {FIELD_NAME: key})

    def test_the_new_value_is_shown_once(self, user_client):
        with time_machine.travel(datetime.now(UTC) - timedelta(days=5)):
            token, old_value = make_personal_token(
                user_client.user, name="ci", expires_at=utc_today() + timedelta(days=9)
            )  # a 9-day token, 4 days left: its successor gets 9 days again
        assert "Rotate ci" in user_client.get(PAGE).content.decode()
        response = self.rotate(user_client, token)
        assert response.status_code == 200
        value = response.context["plaintext"]
        assert value in response.content.decode() and value != old_value
        successor = response.context["new_token"]
        assert (successor.name, successor.expires_at) == ("ci", utc_today() + timedelta(days=9))
        token.refresh_from_db()
        assert token.revoked
        assert value not in user_client.get(PAGE).content.decode()

    def test_someone_elses_token_is_not_found(self, user_client):
        token, _ = make_personal_token(UserFactory(), name="theirs")
        response = user_client.post(f"{PAGE}/{token.pk}/rotate", {FIELD_NAME: "x"})
        assert response.status_code == 404
        token.refresh_from_db()
        assert not token.revoked

    def test_a_revoked_token_is_not_rotated(self, user_client):
        token, _ = make_personal_token(user_client.user, name="gone")
        key = once_key(user_client, PAGE)
        token.revoke()
        response = user_client.post(f"{PAGE}/{token.pk}/rotate", {FIELD_NAME: key}, follow=True)
        assert "Only an active token can be rotated" in response.content.decode()
        assert PersonalAccessToken.objects.filter(user=user_client.user).count() == 1


def test_rotating_a_dateless_token_under_a_maximum_works(user_client, no_required_expiry):
    """The successor gets the longest allowed lifetime (the page has no date field)."""
    token, _ = make_personal_token(user_client.user, name="old")
    instance = InstanceSettings.current()
    instance.personal_access_token_max_lifetime_days = 20
    instance.save()
    key = once_key(user_client, PAGE)
    response = user_client.post(f"{PAGE}/{token.pk}/rotate", {FIELD_NAME: key})
    assert response.status_code == 200
    assert response.context["new_token"].expires_at == utc_today() + timedelta(days=20)
