"""Sign-in protection: the per-account lockout (10 failures, 10 minutes, an email, an
administrator's unlock) and the per-address ban, on the site's sign-in and the admin's, with
one message for every refusal."""

import base64
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail

from tests.factories import (
    PASSWORD,
    AdminFactory,
    GroupFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
)
from tokens_site.auth.bans import is_banned
from tokens_site.auth.forms import BANNED_SIGN_IN, INVALID_SIGN_IN
from tokens_site.auth.lockout import LOCKOUT_ATTEMPTS, account_is_locked
from tokens_site.models import AccessLevel, AccountLockout, AuditAction, AuditEvent

pytestmark = pytest.mark.django_db

SIGN_IN = "/users/sign_in"
ADMIN_SIGN_IN = "/admin/login/"


def sign_in(client, username: str, password: str, url: str = SIGN_IN, **extra):
    return client.post(url, {"username": username, "password": password}, **extra)


def refusal(response) -> str:
    return " ".join(str(error) for error in response.context["form"].non_field_errors())


def signed_in(response) -> bool:
    return response.status_code == 302


def wait_for_mail(count: int) -> None:
    """The lockout email is sent from a thread of its own: wait (a while at most) for it."""
    deadline = time.monotonic() + 10
    while len(mail.outbox) < count and time.monotonic() < deadline:
        time.sleep(0.01)


@pytest.fixture
def no_address_ban():
    """The per-account rules alone (the address ban has its own tests below)."""
    from tokens_site.models import InstanceSettings

    instance = InstanceSettings.current()
    instance.failed_auth_ban_enabled = False
    instance.save()


class TestLockout:
    def test_ten_failures_lock_the_account_and_the_right_password_is_refused_alike(
        self, client, no_address_ban
    ):
        user = UserFactory(username="ann")
        for _ in range(LOCKOUT_ATTEMPTS - 1):
            assert not signed_in(sign_in(client, "ann", "wrong"))
        assert not account_is_locked(user)
        wrong = sign_in(client, "ann", "wrong")
        assert account_is_locked(user)
        right = sign_in(client, "ann", PASSWORD)
        assert not signed_in(right)
        assert refusal(right) == refusal(wrong) == INVALID_SIGN_IN
        assert right.status_code == wrong.status_code == 200

    def test_an_unknown_account_is_refused_with_the_same_message(self, client, no_address_ban):
        UserFactory(username="ann")
        unknown = sign_in(client, "nobody", "wrong")
        blocked = UserFactory(username="blocked", is_active=False)
        refused = [sign_in(client, name, PASSWORD) for name in ("nobody", blocked.username)]
        assert {refusal(response) for response in [unknown, *refused]} == {INVALID_SIGN_IN}

    def test_the_owner_is_emailed_and_the_lock_is_audited_once(
        self, client, no_address_ban, django_capture_on_commit_callbacks
    ):
        user = UserFactory(username="ann", email="ann@example.com")
        with django_capture_on_commit_callbacks(execute=True):  # the email, once committed
            for _ in range(LOCKOUT_ATTEMPTS + 5):
                sign_in(client, "ann", "wrong", REMOTE_ADDR="198.51.100.4")
        wait_for_mail(1)
        assert [message.to for message in mail.outbox] == [["ann@example.com"]]
        message = mail.outbox[0]
        assert message.subject == "Your account has been locked"
        assert "198.51.100.4" in message.body and "10 minutes" in message.body
        assert "&" not in message.body  # plain text, not escaped HTML
        event = AuditEvent.objects.get(action=AuditAction.ACCOUNT_LOCK)
        assert event.target_label == "ann" and event.ip_address == "198.51.100.4"
        lockout = AccountLockout.objects.get(user=user)
        assert lockout.failed_attempts == LOCKOUT_ATTEMPTS  # not extended while locked

    def test_the_answer_never_waits_for_the_mail_server(
        self, client, no_address_ban, django_capture_on_commit_callbacks, monkeypatch
    ):
        """Else the attempt that locks an account would take longer than any other refused
        attempt, telling that the account exists."""
        release, senders = threading.Event(), []

        def slow_mail_server(*args, **kwargs):
            senders.append(threading.current_thread())
            release.wait(timeout=5)

        monkeypatch.setattr("tokens_site.mail.send_mail", slow_mail_server)
        UserFactory(username="ann", email="ann@example.com")
        with django_capture_on_commit_callbacks(execute=True):
            for _ in range(LOCKOUT_ATTEMPTS):
                sign_in(client, "ann", "wrong")
        # The last answer came back while the mail server still holds the email.
        assert not release.is_set()
        release.set()
        deadline = time.monotonic() + 10
        while not senders and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(senders) == 1 and senders[0] is not threading.main_thread()

    def test_the_lock_ends_after_ten_minutes(self, client, no_address_ban):
        start = datetime(2031, 5, 1, 12, 0, tzinfo=UTC)
        with time_machine.travel(start, tick=False):
            UserFactory(username="ann")
            for _ in range(LOCKOUT_ATTEMPTS):
                sign_in(client, "ann", "wrong")
        with time_machine.travel(start + timedelta(minutes=9, seconds=59), tick=False):
            assert not signed_in(sign_in(client, "ann", PASSWORD))
        with time_machine.travel(start + timedelta(minutes=10, seconds=1), tick=False):
            assert signed_in(sign_in(client, "ann", PASSWORD))

    def test_a_successful_sign_in_forgets_earlier_failures(self, client, no_address_ban):
        user = UserFactory(username="ann")
        for _ in range(LOCKOUT_ATTEMPTS - 1):
            sign_in(client, "ann", "wrong")
        assert signed_in(sign_in(client, "ann", PASSWORD))
        client.logout()
        for _ in range(LOCKOUT_ATTEMPTS - 1):
            sign_in(client, "ann", "wrong")
        assert not account_is_locked(user)

    def test_git_passwords_count_and_are_refused_while_locked(self, client, no_address_ban):
        user = UserFactory(username="ann")
        project = ProjectFactory(group=GroupFactory(path="tanuki"), path="app")
        MembershipFactory(user=user, project=project, access_level=AccessLevel.DEVELOPER)
        url = "/tanuki/app.git/info/refs?service=git-upload-pack"

        def git(password):
            credentials = base64.b64encode(f"ann:{password}".encode()).decode()
            return client.get(url, HTTP_AUTHORIZATION=f"Basic {credentials}")

        assert git(PASSWORD).status_code == 200
        for _ in range(LOCKOUT_ATTEMPTS):
            assert git("wrong").status_code == 401
        assert git(PASSWORD).status_code == 401
        assert account_is_locked(user)

    def test_the_right_git_password_forgets_earlier_failures(self, client, no_address_ban):
        user = UserFactory(username="ann")
        project = ProjectFactory(group=GroupFactory(path="tanuki"), path="app")
        MembershipFactory(user=user, project=project, access_level=AccessLevel.DEVELOPER)
        url = "/tanuki/app.git/info/refs?service=git-upload-pack"

        def git(password):
            credentials = base64.b64encode(f"ann:{password}".encode()).decode()
            return client.get(url, HTTP_AUTHORIZATION=f"Basic {credentials}")

        for _ in range(LOCKOUT_ATTEMPTS - 1):
            assert git("wrong").status_code == 401
        assert git(PASSWORD).status_code == 200
        for _ in range(LOCKOUT_ATTEMPTS - 1):
            assert git("wrong").status_code == 401
        assert not account_is_locked(user)
        assert git(PASSWORD).status_code == 200

    def test_an_administrator_unlocks_from_the_user_list(self, client, no_address_ban):
        user = UserFactory(username="ann")
        for _ in range(LOCKOUT_ATTEMPTS):
            sign_in(client, "ann", "wrong")
        admin = AdminFactory()
        client.force_login(admin)
        listing = client.get("/admin/auth/user/")
        assert listing.status_code == 200
        response = client.post(
            "/admin/auth/user/",
            {"action": "unlock_selected", "_selected_action": [user.pk]},
            follow=True,
        )
        assert "Unlocked 1 account." in response.content.decode()
        assert not account_is_locked(user)
        event = AuditEvent.objects.get(action=AuditAction.ACCOUNT_UNLOCK)
        assert event.actor == admin and event.target_label == "ann"
        client.logout()
        assert signed_in(sign_in(client, "ann", PASSWORD))

    def test_an_administrator_unlocks_from_the_lockout_list(self, client, no_address_ban):
        user = UserFactory(username="ann")
        for _ in range(LOCKOUT_ATTEMPTS):
            sign_in(client, "ann", "wrong")
        client.force_login(AdminFactory())
        page = client.get("/admin/tokens_site/accountlockout/")
        assert page.status_code == 200 and "ann" in page.content.decode()
        lockout = AccountLockout.objects.get(user=user)
        client.post(
            "/admin/tokens_site/accountlockout/",
            {"action": "unlock_selected", "_selected_action": [lockout.pk]},
        )
        assert not account_is_locked(user)

    def test_the_admin_sign_in_counts_and_locks_too(self, client, no_address_ban):
        admin = AdminFactory(username="boss")
        for _ in range(LOCKOUT_ATTEMPTS):
            response = sign_in(client, "boss", "wrong", url=ADMIN_SIGN_IN)
            assert response.status_code == 200
        assert account_is_locked(admin)
        refused = sign_in(client, "boss", PASSWORD, url=ADMIN_SIGN_IN)
        assert not signed_in(refused)
        assert INVALID_SIGN_IN in refusal(refused)


class TestAddressBan:
    def test_failed_sign_ins_ban_the_address_for_every_account(self, client):
        for number in range(30):  # 30 accounts, 3 guesses each would never lock one
            sign_in(client, f"user-{number}", "wrong")
        assert is_banned("127.0.0.1")
        UserFactory(username="ann")
        response = sign_in(client, "ann", PASSWORD)
        assert response.status_code == 403
        assert refusal(response) == BANNED_SIGN_IN
        assert "_auth_user_id" not in client.session
        other = sign_in(client, "ann", PASSWORD, REMOTE_ADDR="192.0.2.8")
        assert signed_in(other)

    def test_the_admin_sign_in_is_banned_alike(self, client):
        AdminFactory(username="boss")
        for _ in range(30):
            sign_in(client, "boss", "wrong", url=ADMIN_SIGN_IN, REMOTE_ADDR="192.0.2.9")
        response = sign_in(client, "boss", PASSWORD, url=ADMIN_SIGN_IN, REMOTE_ADDR="192.0.2.9")
        assert response.status_code == 403
        assert BANNED_SIGN_IN in refusal(response)

    def test_machine_failures_and_sign_in_failures_share_the_count(self, client):
        forged = base64.b64encode(b"x:glpat-" + b"C" * 32).decode()
        for _ in range(20):
            client.get("/-/whoami", HTTP_AUTHORIZATION=f"Basic {forged}")
        for _ in range(10):
            sign_in(client, "nobody", "wrong")
        assert is_banned("127.0.0.1")

    def test_a_correct_sign_in_is_not_a_failure(self, client):
        UserFactory(username="ann")
        for _ in range(40):
            assert signed_in(sign_in(client, "ann", PASSWORD))
            client.logout()
        assert not is_banned("127.0.0.1")


class TestWhoMayUnlock:
    @pytest.fixture
    def locked(self, client, no_address_ban):
        user = UserFactory(username="ann")
        for _ in range(LOCKOUT_ATTEMPTS):
            sign_in(client, "ann", "wrong")
        assert account_is_locked(user)
        return user

    def test_a_signed_in_session_outlives_the_lock(self, client, no_address_ban):
        """Whoever guesses cannot throw the owner out, nor keep an administrator from the
        admin's Unlock."""
        admin = AdminFactory(username="boss")
        assert signed_in(sign_in(client, "boss", PASSWORD))
        other = type(client)()
        for _ in range(LOCKOUT_ATTEMPTS):
            sign_in(other, "boss", "wrong")
        assert account_is_locked(admin)
        assert client.get("/admin/").status_code == 200
        assert client.get("/").status_code == 200

    def test_the_console_unlocks(self, locked, capsys):
        from django.core.management import call_command

        call_command("unlock", "ann")
        assert capsys.readouterr().out == "Unlocked ann.\n"
        assert not account_is_locked(locked)
        assert AuditEvent.objects.get(action=AuditAction.ACCOUNT_UNLOCK).actor is None

    def test_the_console_names_an_unknown_user(self, locked):
        from django.core.management import CommandError, call_command

        with pytest.raises(CommandError, match="No such user: nobody"):
            call_command("unlock", "ann", "nobody")
        assert account_is_locked(locked)

    def test_staff_who_may_only_look_cannot_unlock(self, client, locked):
        from django.contrib.auth.models import Permission

        staff = UserFactory(username="staffy", is_staff=True)
        staff.user_permissions.add(Permission.objects.get(codename="view_accountlockout"))
        client.force_login(staff)
        lockout = AccountLockout.objects.get(user=locked)
        response = client.post(
            "/admin/tokens_site/accountlockout/",
            {"action": "unlock_selected", "_selected_action": [lockout.pk]},
            follow=True,
        )
        assert "Only administrators can unlock accounts." in response.content.decode()
        assert account_is_locked(locked)
        assert not AuditEvent.objects.filter(action=AuditAction.ACCOUNT_UNLOCK).exists()
