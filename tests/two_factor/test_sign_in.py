"""The sign-in's second step: after the password, a user with two-factor authentication is
not signed in until a code or a recovery code; wrong codes count toward the lockout and the
address's ban; the admin's sign-in asks for the same step."""

import time

import pytest
import time_machine

from tests.factories import PASSWORD, AdminFactory, UserFactory, make_two_factor, totp_code
from tokens_site.auth.bans import is_banned
from tokens_site.auth.lockout import LOCKOUT_ATTEMPTS, account_is_locked
from tokens_site.models import AccountLockout, AuditAction, AuditEvent, InstanceSettings
from two_factor.forms import INVALID_SECOND_STEP
from two_factor.models import RecoveryCode
from two_factor.sign_in import PENDING_SECONDS, PENDING_USER

pytestmark = pytest.mark.django_db

SIGN_IN = "/users/sign_in"
SECOND_STEP = "/users/sign_in/two_factor"
PROFILE = "/-/user_settings/profile"


@pytest.fixture
def user():
    return UserFactory(username="otto")


@pytest.fixture
def enrolled(user):
    return make_two_factor(user)


def password_step(client, username="otto", url=SIGN_IN, **data):
    return client.post(url, {"username": username, "password": PASSWORD, **data})


def second_step(client, code):
    return client.post(SECOND_STEP, {"code": code})


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def wrong_code(device) -> str:
    return f"{(int(totp_code(device)) + 500_000) % 1_000_000:06d}"


def test_without_two_factor_the_password_signs_in(client, user):
    response = password_step(client)
    assert response.status_code == 302 and signed_in(client)


def test_password_alone_does_not_sign_in(client, user, enrolled):
    response = password_step(client, next=PROFILE)
    assert response.status_code == 302 and response["Location"] == SECOND_STEP
    assert not signed_in(client)
    assert client.session[PENDING_USER] == user.pk
    assert client.get(PROFILE).status_code == 302  # still signed out everywhere
    assert client.get(SECOND_STEP).status_code == 200


def test_current_code_signs_in_and_goes_on(client, user, enrolled):
    device, _ = enrolled
    password_step(client, next=PROFILE)
    response = second_step(client, totp_code(device))
    assert response.status_code == 302 and response["Location"] == PROFILE
    assert signed_in(client) and PENDING_USER not in client.session
    assert client.get(PROFILE).status_code == 200


def test_previous_step_code_is_accepted_within_the_drift_window(client, user, enrolled):
    device, _ = enrolled
    password_step(client)
    assert second_step(client, totp_code(device, at=time.time() - 30)).status_code == 302


def test_code_two_steps_old_is_refused(client, user, enrolled):
    device, _ = enrolled
    password_step(client)
    response = second_step(client, totp_code(device, at=time.time() - 60))
    assert response.status_code == 400 and not signed_in(client)


def test_the_window_does_not_move_with_the_apps_drift(client, user, enrolled):
    """A code one step late is accepted, and the next sign-in's window is still one step
    either way of the clock (django-otp's drift sync is off)."""
    device, _ = enrolled
    password_step(client)
    assert second_step(client, totp_code(device, at=time.time() - 30)).status_code == 302
    client.logout()
    password_step(client)
    response = second_step(client, totp_code(device, at=time.time() - 60))
    assert response.status_code == 400 and not signed_in(client)


def test_of_two_requests_with_one_code_only_one_passes(user, enrolled):
    """Both read the device before either writes (as on SQLite, which has no row locks):
    the step is claimed by a conditional UPDATE, so the second is refused."""
    from two_factor.models import AuthenticatorApp

    device, _ = enrolled
    first, second = (AuthenticatorApp.objects.get(pk=device.pk) for _ in range(2))
    code = totp_code(device)
    assert first.verify_token(code) is True
    assert second.verify_token(code) is False


def test_a_foreign_next_url_is_not_followed(client, user, enrolled):
    device, _ = enrolled
    password_step(client, next="https://evil.example/")
    response = second_step(client, totp_code(device))
    assert response.status_code == 302 and response["Location"] == "/"


def test_the_same_code_is_refused_the_second_time(client, user, enrolled):
    device, _ = enrolled
    code = totp_code(device)
    password_step(client)
    assert second_step(client, code).status_code == 302
    client.logout()
    password_step(client)
    response = second_step(client, code)
    assert response.status_code == 400
    assert response.context["form"].errors["code"] == [INVALID_SECOND_STEP]
    assert not signed_in(client)


def test_recovery_code_signs_in_once(client, user, enrolled):
    _, codes = enrolled
    password_step(client)
    assert second_step(client, codes[0].upper()).status_code == 302
    assert signed_in(client)
    assert RecoveryCode.objects.filter(user=user, used_at__isnull=False).count() == 1
    assert AuditEvent.objects.filter(action=AuditAction.RECOVERY_CODE_USE).count() == 1
    client.logout()
    password_step(client)
    assert second_step(client, codes[0]).status_code == 400
    assert not signed_in(client)
    assert second_step(client, codes[1]).status_code == 302


@pytest.mark.parametrize("code", ["abcdef", "12345", "1234567", "x" * 64, "g" * 16])
def test_malformed_codes_are_refused(client, user, enrolled, code):
    password_step(client)
    response = second_step(client, code)
    assert response.status_code == 400 and not signed_in(client)


def test_ten_kilobytes_are_a_form_error(client, user, enrolled):
    password_step(client)
    response = second_step(client, "1" * 10_240)
    assert response.status_code == 400 and response.context["form"].errors["code"]
    assert not signed_in(client)


def test_no_pending_sign_in_goes_back_to_the_password(client, user, enrolled):
    device, _ = enrolled
    assert client.get(SECOND_STEP)["Location"] == SIGN_IN
    assert second_step(client, totp_code(device))["Location"] == SIGN_IN
    assert not signed_in(client)


def test_pending_sign_in_expires(client, user, enrolled):
    device, _ = enrolled
    password_step(client)
    with time_machine.travel(time.time() + PENDING_SECONDS + 5, tick=False):
        response = second_step(client, totp_code(device))
    assert response["Location"] == SIGN_IN and not signed_in(client)


class TestLockout:
    @pytest.fixture(autouse=True)
    def no_address_ban(self):
        instance = InstanceSettings.current()
        instance.failed_auth_ban_enabled = False
        instance.save()

    def test_wrong_codes_count_and_lock_the_account(self, client, user, enrolled):
        device, _ = enrolled
        password_step(client)
        for _ in range(LOCKOUT_ATTEMPTS):
            second_step(client, wrong_code(device))
        assert account_is_locked(user)
        response = second_step(client, totp_code(device))
        assert response.status_code == 403 and not signed_in(client)

    def test_the_password_step_does_not_forget_wrong_codes(self, client, user, enrolled):
        device, _ = enrolled
        for _ in range(LOCKOUT_ATTEMPTS):
            password_step(client)  # a right password, again and again
            second_step(client, wrong_code(device))
        assert account_is_locked(user)

    def test_right_code_forgets_the_failures(self, client, user, enrolled):
        device, _ = enrolled
        password_step(client)
        second_step(client, wrong_code(device))
        assert AccountLockout.objects.get(user=user).failed_attempts == 1
        second_step(client, totp_code(device))
        assert signed_in(client)
        assert AccountLockout.objects.get(user=user).failed_attempts == 0


def test_wrong_codes_count_toward_the_address_ban(client, user, enrolled):
    device, _ = enrolled
    instance = InstanceSettings.current()
    instance.failed_auth_ban_limit = 3
    instance.save()
    password_step(client)
    for _ in range(3):
        second_step(client, wrong_code(device))
    assert is_banned("127.0.0.1")
    response = second_step(client, totp_code(device))
    assert response.status_code == 403 and not signed_in(client)


class TestAdmin:
    def test_admin_sign_in_asks_for_the_second_step(self, client):
        admin = AdminFactory(username="root")
        device, _ = make_two_factor(admin)
        response = client.post(
            "/admin/login/?next=/admin/",
            {"username": "root", "password": PASSWORD, "next": "/admin/"},
        )
        assert response.status_code == 302 and response["Location"] == SECOND_STEP
        assert not signed_in(client)
        assert client.get("/admin/").status_code == 302
        response = second_step(client, totp_code(device))
        assert response["Location"] == "/admin/"
        assert client.get("/admin/").status_code == 200

    def test_admin_without_two_factor_signs_in_with_the_password(self, client):
        AdminFactory(username="root")
        response = client.post(
            "/admin/login/", {"username": "root", "password": PASSWORD, "next": "/admin/"}
        )
        assert response.status_code == 302 and signed_in(client)
