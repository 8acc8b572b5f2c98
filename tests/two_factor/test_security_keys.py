"""Security keys (WebAuthn): registered on the settings page with a name and the password,
several per user; the sign-in's second step with a key; removal; and the bad answers (another
user's key, a bad signature, a replay, malformed JSON), each refused with a message and
nothing changed. The answers come from a software authenticator (tests/two_factor/
authenticator.py) that signs for real; the browser test uses Chromium's own."""

import json

import pytest
from django.core import mail

from tests.factories import (
    PASSWORD,
    GroupFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    make_two_factor,
)
from tests.two_factor.authenticator import SoftwareKey, b64url
from tests.two_factor.test_git import CLONE, basic
from tokens_site.models import AccessLevel, AccountLockout, AuditAction, AuditEvent
from two_factor import security_keys
from two_factor.forms import NO_KEY_ANSWER, WRONG_PASSWORD
from two_factor.models import RecoveryCode, SecurityKey
from two_factor.selectors import two_factor_enabled
from two_factor.services import two_factor_reset

pytestmark = pytest.mark.django_db

SETTINGS = "/-/user_settings/two_factor_auth"
ADD = "/-/user_settings/two_factor_auth/security_keys"
SIGN_IN = "/users/sign_in"
SECOND_STEP = "/users/sign_in/two_factor"


@pytest.fixture(autouse=True)
def site_at_a_host_name(settings):
    settings.EXTERNAL_URL = "http://localhost:8000"


@pytest.fixture
def user():
    return UserFactory(username="kiki")


@pytest.fixture
def key():
    return SoftwareKey()


def registration_options(client) -> dict:
    return client.get(SETTINGS).context["key_options"]


def add_key(client, key, *, name="YubiKey", password=PASSWORD, answer=None):
    options = registration_options(client)
    answer = key.register(options) if answer is None else answer
    return client.post(ADD, key_form(name, password, answer))


def key_form(name, password, answer) -> dict:
    return {"key-name": name, "key-password": password, "key-credential": answer}


def remove_url(security_key) -> str:
    return f"/-/user_settings/two_factor_auth/security_keys/{security_key.pk}/remove"


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def password_step(client, username="kiki"):
    return client.post(SIGN_IN, {"username": username, "password": PASSWORD})


def sign_in_options(client) -> dict:
    return client.get(SECOND_STEP).context["key_options"]


def key_step(client, answer: str):
    return client.post(SECOND_STEP, {"assertion": answer})


def registered(user, key) -> SecurityKey:
    return SecurityKey.objects.get(user=user, credential_id=key_id(key))


def key_id(key) -> str:
    return b64url(key.credential_id)


def with_key(client, user, key, name="YubiKey") -> SecurityKey:
    client.force_login(user)
    # 200: the recovery codes (the first method); 302: back to the page
    assert add_key(client, key, name=name).status_code in (200, 302)
    client.logout()
    return registered(user, key)


class TestRegister:
    def test_first_key_turns_two_factor_on_and_shows_the_recovery_codes(self, client, user, key):
        client.force_login(user)
        response = add_key(client, key, name="YubiKey on my keyring")
        assert response.status_code == 200
        assert len(response.context["codes"]) == 10
        assert two_factor_enabled(user)
        stored = registered(user, key)
        assert stored.name == "YubiKey on my keyring" and bytes(stored.public_key)
        actions = list(AuditEvent.objects.values_list("action", flat=True).order_by("id"))
        assert actions == [AuditAction.SECURITY_KEY_ADD, AuditAction.TWO_FACTOR_ENABLE]

    def test_several_keys_each_named_and_the_codes_stay(self, client, user, key):
        client.force_login(user)
        add_key(client, key, name="first")
        codes = set(RecoveryCode.objects.filter(user=user).values_list("digest", flat=True))
        response = add_key(client, SoftwareKey(), name="second")
        assert response.status_code == 302
        assert set(RecoveryCode.objects.values_list("digest", flat=True)) == codes
        page = client.get(SETTINGS).content.decode()
        assert "first" in page and "second" in page
        assert SecurityKey.objects.filter(user=user).count() == 2

    def test_the_page_excludes_registered_keys(self, client, user, key):
        client.force_login(user)
        add_key(client, key)
        excluded = registration_options(client)["excludeCredentials"]
        assert [item["id"] for item in excluded] == [key_id(key)]

    def test_the_same_key_twice_is_refused(self, client, user, key):
        client.force_login(user)
        add_key(client, key)
        response = add_key(client, key, name="again")
        assert response.status_code == 302
        assert SecurityKey.objects.count() == 1

    def test_wrong_password_registers_nothing(self, client, user, key):
        client.force_login(user)
        response = add_key(client, key, password="wrong")
        assert response.status_code == 400
        assert response.context["key_form"].errors["password"] == [WRONG_PASSWORD]
        assert not SecurityKey.objects.exists() and not two_factor_enabled(user)

    def test_no_name_is_a_form_error(self, client, user, key):
        client.force_login(user)
        response = add_key(client, key, name="")
        assert response.status_code == 400 and response.context["key_form"].errors["name"]
        assert not SecurityKey.objects.exists()

    def test_no_answer_says_the_browser_sent_none(self, client, user, key):
        client.force_login(user)
        response = add_key(client, key, answer="")
        assert response.status_code == 400
        assert response.context["key_form"].non_field_errors() == [NO_KEY_ANSWER]

    @pytest.mark.parametrize(
        "answer",
        [
            "x",
            "{}",
            "[]",
            '{"id": 1}',
            "null",
            json.dumps({"response": "a" * 10_000}),
            "[" * 1000 + "]" * 1000,
            '{"response": ' + "[" * 5000 + "]" * 5000 + "}",
        ],
    )
    def test_malformed_answers_are_refused(self, client, user, key, answer):
        client.force_login(user)
        response = add_key(client, key, answer=answer)
        assert response.status_code == 400
        assert response.context["key_form"].non_field_errors() == [security_keys.REFUSED]
        assert not SecurityKey.objects.exists() and not AuditEvent.objects.exists()

    def test_forty_kilobytes_are_refused_unread(self, client, user, key):
        client.force_login(user)
        response = add_key(client, key, answer="{" + "a" * 40_000 + "}")
        assert response.status_code == 400 and not SecurityKey.objects.exists()

    def test_an_answer_for_another_origin_is_refused(self, client, user, key):
        client.force_login(user)
        answer = key.register(registration_options(client), origin="http://evil.example")
        response = client.post(ADD, key_form("k", PASSWORD, answer))
        assert response.status_code == 400 and not SecurityKey.objects.exists()

    def test_an_answer_is_used_once(self, client, user, key):
        client.force_login(user)
        answer = key.register(registration_options(client))
        data = key_form("k", PASSWORD, answer)
        assert client.post(ADD, data).status_code == 200
        SecurityKey.objects.all().delete()
        response = client.post(ADD, data)  # the challenge was used: a replay
        assert response.status_code == 400 and not SecurityKey.objects.exists()

    def test_at_an_ip_address_the_page_says_why_keys_are_unavailable(self, client, user, settings):
        settings.EXTERNAL_URL = "http://127.0.0.1:8000"
        client.force_login(user)
        response = client.get(SETTINGS)
        assert security_keys.UNAVAILABLE in response.content.decode()
        assert "key_options" not in response.context


class TestSignIn:
    def test_password_then_the_key_signs_in(self, client, user, key):
        stored = with_key(client, user, key)
        password_step(client)
        assert not signed_in(client)
        options = sign_in_options(client)
        assert [item["id"] for item in options["allowCredentials"]] == [key_id(key)]
        response = key_step(client, key.sign_in(options))
        assert response.status_code == 302 and signed_in(client)
        stored.refresh_from_db()
        assert stored.sign_count == 1 and stored.last_used_at is not None

    def test_a_key_only_account_has_no_code_to_give_but_recovery_codes(self, client, user, key):
        with_key(client, user, key)
        password_step(client)
        page = client.get(SECOND_STEP).content.decode()
        assert "Use security key" in page and "recovery code" in page

    def test_a_bad_signature_is_refused_and_counts(self, client, user, key):
        with_key(client, user, key)
        password_step(client)
        response = key_step(client, key.sign_in(sign_in_options(client), tamper=True))
        assert response.status_code == 400 and not signed_in(client)
        assert response.context["form"].non_field_errors() == [security_keys.REFUSED]
        assert AccountLockout.objects.get(user=user).failed_attempts == 1

    def test_another_users_key_is_refused(self, client, user, key):
        other = UserFactory(username="jiji")
        other_key = SoftwareKey()
        with_key(client, other, other_key)
        with_key(client, user, key)
        password_step(client)
        response = key_step(client, other_key.sign_in(sign_in_options(client)))
        assert response.status_code == 400 and not signed_in(client)
        assert AccountLockout.objects.get(user=user).failed_attempts == 1

    def test_a_replayed_answer_is_refused(self, client, user, key):
        with_key(client, user, key)
        password_step(client)
        answer = key.sign_in(sign_in_options(client))
        assert key_step(client, answer).status_code == 302
        client.logout()
        password_step(client)
        client.get(SECOND_STEP)
        assert key_step(client, answer).status_code == 400 and not signed_in(client)

    def test_a_counter_that_goes_back_is_refused(self, client, user, key):
        stored = with_key(client, user, key)
        SecurityKey.objects.filter(pk=stored.pk).update(sign_count=50)
        password_step(client)
        response = key_step(client, key.sign_in(sign_in_options(client)))
        assert response.status_code == 400 and not signed_in(client)

    @pytest.mark.parametrize(
        "answer",
        ["x", "{}", '{"rawId": "@@"}', "a" * 40_000, "[" * 1000 + "]" * 1000, "{" * 3000],
    )
    def test_malformed_answers_are_refused(self, client, user, key, answer):
        with_key(client, user, key)
        password_step(client)
        client.get(SECOND_STEP)
        response = key_step(client, answer)
        assert response.status_code == 400 and not signed_in(client)

    def test_an_empty_form_asks_for_a_code_or_the_key(self, client, user, key):
        with_key(client, user, key)
        password_step(client)
        response = client.post(SECOND_STEP, {"code": "", "assertion": ""})
        assert response.status_code == 400 and response.context["form"].errors["code"]
        assert not AccountLockout.objects.filter(user=user, failed_attempts__gt=0).exists()

    def test_git_refuses_the_password_of_a_key_only_account(self, client, user, key):
        project = ProjectFactory(group=GroupFactory(path="tanuki"), path="app")
        MembershipFactory(user=user, project=project, access_level=AccessLevel.DEVELOPER)
        auth = {"HTTP_AUTHORIZATION": basic("kiki", PASSWORD)}
        assert client.get(CLONE, **auth).status_code == 200
        with_key(client, user, key)
        response = client.get(CLONE, **auth)
        assert response.status_code == 401 and b"personal access token" in response.content


class TestRemove:
    def test_with_the_password_a_key_is_removed(self, client, user, key):
        make_two_factor(user)
        stored = with_key(client, user, key)
        client.force_login(user)
        response = client.post(remove_url(stored), {f"remove-{stored.pk}-password": PASSWORD})
        assert response.status_code == 302
        assert not SecurityKey.objects.exists() and two_factor_enabled(user)
        assert AuditEvent.objects.filter(action=AuditAction.SECURITY_KEY_REMOVE).count() == 1

    def test_removing_the_only_method_turns_two_factor_off(self, client, user, key):
        stored = with_key(client, user, key)
        client.force_login(user)
        client.post(remove_url(stored), {f"remove-{stored.pk}-password": PASSWORD})
        assert not two_factor_enabled(user) and not RecoveryCode.objects.exists()
        assert AuditEvent.objects.filter(action=AuditAction.TWO_FACTOR_DISABLE).count() == 1

    def test_wrong_password_keeps_it(self, client, user, key):
        stored = with_key(client, user, key)
        client.force_login(user)
        response = client.post(remove_url(stored), {f"remove-{stored.pk}-password": "nope"})
        assert response.status_code == 400 and SecurityKey.objects.exists()
        assert WRONG_PASSWORD in response.content.decode()

    def test_another_users_key_cannot_be_removed(self, client, user, key):
        other = UserFactory(username="jiji")
        stored = with_key(client, other, key)
        client.force_login(user)
        response = client.post(remove_url(stored), {f"remove-{stored.pk}-password": PASSWORD})
        assert response.status_code == 302 and SecurityKey.objects.filter(pk=stored.pk).exists()


class TestAdminReset:
    def test_reset_removes_every_method_audits_and_emails(
        self, client, admin_client, user, key, django_capture_on_commit_callbacks
    ):
        user.email = "kiki@example.com"
        user.save()
        make_two_factor(user)
        with_key(client, user, key)
        mail.outbox.clear()
        with django_capture_on_commit_callbacks(execute=True):
            response = admin_client.post(
                "/admin/auth/user/",
                {"action": "reset_two_factor", "_selected_action": [user.pk]},
            )
        assert response.status_code == 302
        assert not two_factor_enabled(user) and not RecoveryCode.objects.exists()
        event = AuditEvent.objects.get(action=AuditAction.TWO_FACTOR_RESET)
        assert event.actor_username == "admin" and event.target_id == str(user.pk)
        assert [message.to for message in mail.outbox] == [["kiki@example.com"]]
        assert "reset two-factor authentication" in mail.outbox[0].body
        assert password_step(client)["Location"] != SECOND_STEP and signed_in(client)

    def test_reset_of_a_user_without_it_changes_nothing(self, admin_client, user):
        response = admin_client.post(
            "/admin/auth/user/",
            {"action": "reset_two_factor", "_selected_action": [user.pk]},
            follow=True,
        )
        assert "None of them had two-factor authentication." in response.content.decode()
        assert not AuditEvent.objects.exists()

    def test_only_administrators_reset(self, user):
        from django.core.exceptions import PermissionDenied

        make_two_factor(user)
        with pytest.raises(PermissionDenied):
            two_factor_reset(user=user, actor=UserFactory())
        assert two_factor_enabled(user)

    def test_the_user_list_shows_who_has_it(self, admin_client, user):
        make_two_factor(user)
        UserFactory(username="nobody")
        response = admin_client.get("/admin/auth/user/?two_factor=yes")
        listed = [u.username for u in response.context["cl"].result_list]
        assert listed == ["kiki"]


def test_a_challenge_is_used_once_even_by_two_requests_of_one_session(rf, user, key):
    """Two requests that loaded the same session both find the challenge in it: the
    single-use store lets only the first use it."""
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    asking = rf.get(SETTINGS)
    asking.session = session
    options = json.loads(security_keys.registration_options(asking, user))
    answer = key.register(options)
    kept = dict(session)
    results = []
    for _ in range(2):
        request = rf.post(ADD)
        request.session = SessionStore()
        request.session.update(kept)  # each loaded the session before the other used it
        try:
            security_keys.registration_verify(request, answer)
            results.append("accepted")
        except security_keys.KeyRefused:
            results.append("refused")
    assert results == ["accepted", "refused"]


def test_an_old_challenge_is_refused(client, user, key):
    import time

    import time_machine

    client.force_login(user)
    options = registration_options(client)
    later = time.time() + security_keys.CHALLENGE_MAX_AGE_SECONDS + 5
    with time_machine.travel(later, tick=False):
        response = client.post(ADD, key_form("k", PASSWORD, key.register(options)))
    assert response.status_code == 400 and not SecurityKey.objects.exists()


class TestKeyOnlyConfirmations:
    """Without an app, regenerating the codes and disabling take the password and a key."""

    REGENERATE = "/-/user_settings/two_factor_auth/codes"
    DISABLE = "/-/user_settings/two_factor_auth/disable"

    def confirm(self, client, url, prefix, answer, password=PASSWORD):
        data = {f"{prefix}-password": password, f"{prefix}-assertion": answer}
        return client.post(url, data)

    def options(self, client) -> dict:
        return client.get(SETTINGS).context["key_confirm_options"]

    def test_a_key_and_the_password_disable_it(self, client, user, key):
        with_key(client, user, key)
        client.force_login(user)
        answer = key.sign_in(self.options(client))
        response = self.confirm(client, self.DISABLE, "disable", answer)
        assert response.status_code == 302 and not two_factor_enabled(user)

    def test_a_key_and_the_password_regenerate_the_codes(self, client, user, key):
        with_key(client, user, key)
        client.force_login(user)
        before = set(RecoveryCode.objects.values_list("digest", flat=True))
        answer = key.sign_in(self.options(client))
        response = self.confirm(client, self.REGENERATE, "regenerate", answer)
        assert response.status_code == 200 and len(response.context["codes"]) == 10
        assert not before & set(RecoveryCode.objects.values_list("digest", flat=True))

    def test_the_password_alone_is_not_enough(self, client, user, key):
        with_key(client, user, key)
        client.force_login(user)
        self.options(client)
        response = self.confirm(client, self.DISABLE, "disable", "")
        assert response.status_code == 400 and two_factor_enabled(user)
        assert response.context["disable_form"].non_field_errors() == [NO_KEY_ANSWER]

    def test_a_bad_signature_is_refused_and_counts(self, client, user, key):
        with_key(client, user, key)
        client.force_login(user)
        answer = key.sign_in(self.options(client), tamper=True)
        response = self.confirm(client, self.DISABLE, "disable", answer)
        assert response.status_code == 400 and two_factor_enabled(user)
        assert AccountLockout.objects.get(user=user).failed_attempts == 1

    def test_a_wrong_password_uses_no_key_answer(self, client, user, key):
        with_key(client, user, key)
        client.force_login(user)
        answer = key.sign_in(self.options(client))
        response = self.confirm(client, self.DISABLE, "disable", answer, password="nope")
        assert response.status_code == 400 and two_factor_enabled(user)
        assert response.context["disable_form"].errors["password"] == [WRONG_PASSWORD]
