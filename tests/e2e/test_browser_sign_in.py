"""Sign-in protection in a real browser: the account lockout (with its email and an
administrator's unlock in the admin) and the per-address ban (lifted with `manage.py bans`)."""

import time
from email import message_from_bytes

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import start_server, stop_server
from tests.factories import PASSWORD, AdminFactory, UserFactory
from tests.processes import manage
from tokens_site.auth.forms import BANNED_SIGN_IN, INVALID_SIGN_IN
from tokens_site.auth.lockout import LOCKOUT_ATTEMPTS
from tokens_site.models import AccountLockout, InstanceSettings

pytestmark = pytest.mark.e2e


def attempt(page, server, username: str, password: str, path: str = "/users/sign_in"):
    page.goto(f"{server.url}{path}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").or_(
        page.get_by_role("button", name="Log in")
    ).click()
    page.wait_for_load_state()


def alert(page) -> str:
    return page.locator(".errorlist.nonfield, .errornote").first.inner_text().strip()


@pytest.fixture
def mail_server(transactional_db, tmp_path):
    """The site with its mail written to files, to read what it sent."""
    outbox = tmp_path / "outbox"
    # filemail:// and an absolute path: django-environ drops one slash of four.
    server = start_server(tmp_path, extra_env={"EMAIL_URL": f"filemail:///{outbox}"})
    yield server, outbox
    stop_server(server)


def test_an_account_locks_after_ten_failures_and_an_administrator_unlocks_it(
    mail_server, page, chromium_browser
):
    server, outbox = mail_server
    instance = InstanceSettings.current()
    instance.failed_auth_ban_enabled = False  # the account's own rule, alone
    instance.save()
    UserFactory(username="ann", email="ann@example.com")
    AdminFactory(username="boss")

    for _ in range(LOCKOUT_ATTEMPTS):
        attempt(page, server, "ann", "not my password")
        assert alert(page) == INVALID_SIGN_IN
    attempt(page, server, "ann", PASSWORD)  # the right one, now refused alike
    assert alert(page) == INVALID_SIGN_IN
    assert page.url == f"{server.url}/users/sign_in"
    assert AccountLockout.objects.get(user__username="ann").is_locked

    deadline = time.monotonic() + 10  # the email is sent from a thread of its own
    while not list(outbox.glob("*.log")) and time.monotonic() < deadline:
        time.sleep(0.05)
    sent = [message_from_bytes(path.read_bytes()) for path in sorted(outbox.glob("*.log"))]
    assert [(message["To"], message["Subject"]) for message in sent] == [
        ("ann@example.com", "Your account has been locked")
    ]

    # An administrator unlocks the account in the admin's user list.
    admin_context = chromium_browser.new_context()
    admin = admin_context.new_page()
    attempt(admin, server, "boss", PASSWORD, path="/admin/login/")
    admin.goto(f"{server.url}/admin/auth/user/?q=ann")
    admin.locator("tr", has_text="ann@example.com").locator("input.action-select").check()
    admin.get_by_role("combobox", name="Action").select_option("unlock_selected")
    admin.get_by_role("button", name="Go").click()
    # The answer is the same URL: wait for its message, not for a navigation.
    expect(admin.locator(".messagelist")).to_contain_text("Unlocked 1 account.")
    admin_context.close()

    attempt(page, server, "ann", PASSWORD)
    assert page.url == f"{server.url}/"


def test_an_address_is_banned_from_signing_in_until_the_ban_is_lifted(site_server, page):
    instance = InstanceSettings.current()
    instance.failed_auth_ban_limit = 5
    instance.save()
    UserFactory(username="ann")
    AdminFactory(username="boss")

    for number in range(5):  # five accounts guessed once each: no account locks
        attempt(page, site_server, f"guess-{number}", "password")
        assert alert(page) == INVALID_SIGN_IN
    attempt(page, site_server, "ann", PASSWORD)
    assert alert(page) == BANNED_SIGN_IN
    attempt(page, site_server, "boss", PASSWORD, path="/admin/login/")
    assert BANNED_SIGN_IN in alert(page)

    listed = manage("bans")
    assert listed.returncode == 0 and listed.stdout.startswith("127.0.0.1  banned ")
    lifted = manage("bans", "--lift", "127.0.0.1")
    assert lifted.stdout == "Lifted the ban of 127.0.0.1.\n", lifted.stderr

    attempt(page, site_server, "ann", PASSWORD)
    assert page.url == f"{site_server.url}/"
