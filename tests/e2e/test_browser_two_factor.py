"""Two-factor authentication in a real browser: enrol the authenticator app from the key the
page shows (codes computed with pyotp), sign out and in with a code, refuse the same code
again, sign in with a recovery code; register a security key and sign in with it through
Chromium's virtual authenticator (CDP WebAuthn); the admin's sign-in asks for the second
step."""

import base64
import re
import time

import pyotp
import pytest

from tests.e2e.conftest import sign_in, start_server, stop_server
from tests.factories import PASSWORD, AdminFactory, UserFactory, make_two_factor, totp_code
from two_factor.models import SecurityKey

pytestmark = pytest.mark.e2e

SETTINGS = "/-/user_settings/two_factor_auth"


def sign_out(page) -> None:
    page.locator("#user-menu summary").click()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_load_state()


def password_step(page, server, username: str) -> None:
    page.goto(f"{server.url}/users/sign_in")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server.url}/users/sign_in/two_factor")


def give_code(page, code: str) -> None:
    page.get_by_label("Two-factor code or recovery code").fill(code)
    page.get_by_role("button", name="Verify code").click()
    page.wait_for_load_state()


def test_enrol_the_app_then_sign_in_with_a_code_and_a_recovery_code(site_server, page):
    UserFactory(username="ada")
    sign_in(page, site_server, "ada", PASSWORD)
    page.goto(f"{site_server.url}{SETTINGS}")
    assert page.locator("figure.qr-code svg").is_visible()
    key = page.locator("#manual-key").inner_text().replace(" ", "")
    totp = pyotp.TOTP(key)
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("Code from your authenticator app").fill(totp.now())
    page.get_by_role("button", name="Register with two-factor app").click()
    codes = page.locator("ul.recovery-codes code").all_inner_texts()
    assert len(codes) == 10 and all(re.fullmatch(r"[0-9a-f]{16}", code) for code in codes)
    page.get_by_role("link", name="I have saved my recovery codes").click()
    status = page.locator("#two-factor-status").inner_text()
    assert status.startswith("Two-factor authentication is enabled")
    sign_out(page)

    # The enrolment used this 30-second step's code; the next step's is within the drift.
    code = totp.at(time.time() + 30)
    password_step(page, site_server, "ada")
    give_code(page, code)
    assert page.url == f"{site_server.url}/"
    sign_out(page)

    password_step(page, site_server, "ada")
    give_code(page, code)
    assert "Invalid two-factor code." in page.locator(".errorlist").first.inner_text()
    give_code(page, codes[0])
    assert page.url == f"{site_server.url}/"
    sign_out(page)

    password_step(page, site_server, "ada")
    give_code(page, codes[0])  # used up
    assert "Invalid two-factor code." in page.locator(".errorlist").first.inner_text()


@pytest.fixture
def localhost_server(transactional_db, tmp_path):
    """The site at http://localhost:<port>: browsers allow WebAuthn at a host name only."""
    server = start_server(tmp_path, host="localhost")
    yield server
    stop_server(server)


def test_register_a_security_key_and_sign_in_with_it(localhost_server, page):
    server = localhost_server
    UserFactory(username="kim")
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    authenticator = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "usb",
                "hasResidentKey": False,
                "hasUserVerification": False,
                "automaticPresenceSimulation": True,
            }
        },
    )["authenticatorId"]

    sign_in(page, server, "kim", PASSWORD)
    page.goto(f"{server.url}{SETTINGS}")
    page.get_by_label("Name of the key").fill("Virtual key")
    page.locator("#id_key-password").fill(PASSWORD)
    page.get_by_role("button", name="Register security key").click()
    page.wait_for_url(f"{server.url}{SETTINGS}/security_keys")
    assert page.locator("ul.recovery-codes code").count() == 10  # the first method
    stored = SecurityKey.objects.get(user__username="kim")
    assert stored.name == "Virtual key"
    credentials = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator})
    ids = [c["credentialId"] for c in credentials["credentials"]]
    assert [base64.urlsafe_b64encode(base64.b64decode(i)).decode().rstrip("=") for i in ids] == [
        stored.credential_id
    ]
    page.goto(f"{server.url}{SETTINGS}")
    assert page.locator("#security-key-list").get_by_role("cell", name="Virtual key").is_visible()
    sign_out(page)

    password_step(page, server, "kim")
    page.get_by_role("button", name="Use security key").click()
    page.wait_for_url(f"{server.url}/")
    stored.refresh_from_db()
    assert stored.last_used_at is not None and stored.sign_count >= 1

    # With keys only, disabling takes the password and a touch of the key.
    page.goto(f"{server.url}{SETTINGS}")
    page.locator("#id_disable-password").fill(PASSWORD)
    with page.expect_navigation():  # after the key's answer, the form is submitted
        page.get_by_role("button", name="Disable two-factor authentication").click()
    status = page.locator("#two-factor-status").inner_text()
    assert status.startswith("Two-factor authentication is not enabled")
    assert not SecurityKey.objects.exists()


def test_the_admin_sign_in_asks_for_the_second_step(site_server, page):
    admin = AdminFactory(username="root")
    device, _ = make_two_factor(admin)
    page.goto(f"{site_server.url}/admin/")
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{site_server.url}/users/sign_in/two_factor")
    page.goto(f"{site_server.url}/admin/")  # not signed in yet
    assert "/admin/login/" in page.url
    page.goto(f"{site_server.url}/users/sign_in/two_factor")
    give_code(page, totp_code(device))
    page.wait_for_url(f"{site_server.url}/admin/")
    assert page.get_by_role("link", name="Users").first.is_visible()
