"""User settings > Account > Two-factor authentication: enrolment, recovery codes (shown
once, stored hashed, downloadable), regeneration and disabling, and their bad input."""

import re

import pytest

from tests.factories import PASSWORD, UserFactory, make_two_factor, totp_code
from tokens_site.models import AuditAction, AuditEvent
from tokens_site.tokens import token_digest
from two_factor.forms import MALFORMED_TOTP, WRONG_PASSWORD, WRONG_TOTP
from two_factor.models import AuthenticatorApp, RecoveryCode
from two_factor.selectors import two_factor_enabled

pytestmark = pytest.mark.django_db

SETTINGS = "/-/user_settings/two_factor_auth"
REGENERATE = "/-/user_settings/two_factor_auth/codes"
DOWNLOAD = "/-/user_settings/two_factor_auth/codes.txt"
DISABLE = "/-/user_settings/two_factor_auth/disable"


@pytest.fixture
def user(client):
    user = UserFactory(username="tess")
    client.force_login(user)
    return user


def pending_device(user) -> AuthenticatorApp:
    return AuthenticatorApp.objects.get(user=user, confirmed=False)


def enrol(client, user, *, code=None, password=PASSWORD):
    client.get(SETTINGS)
    code = totp_code(pending_device(user)) if code is None else code
    return client.post(SETTINGS, {"password": password, "code": code})


def nothing_changed(user) -> bool:
    return (
        not two_factor_enabled(user)
        and not RecoveryCode.objects.filter(user=user).exists()
        and not AuditEvent.objects.filter(action__startswith="two_factor.").exists()
    )


class TestEnrol:
    def test_page_shows_a_qr_code_and_the_key_for_manual_entry(self, client, user):
        response = client.get(SETTINGS)
        page = response.content.decode()
        device = pending_device(user)
        assert response.status_code == 200
        assert '<svg width="' in page and 'class="segno"' in page
        key = response.context["manual_key"].replace(" ", "")
        assert key == re.sub(r"=+$", "", key) and len(key) == 32
        assert "issuer=Tokens" in device.config_url
        assert "no-store" in response["Cache-Control"]
        # Reloading keeps the key the app may already have scanned.
        assert client.get(SETTINGS).context["manual_key"] == response.context["manual_key"]

    def test_page_loads_nothing_from_elsewhere_and_has_no_inline_style(self, client, user):
        page = client.get(SETTINGS).content.decode()
        assert "style=" not in page and "<script>" not in page
        assert "http://" not in page.split("<svg", 1)[1].split("</svg>", 1)[0].replace(
            "http://www.w3.org", ""
        )

    def test_code_from_the_key_and_password_enable_it_and_show_ten_codes_once(self, client, user):
        response = enrol(client, user)
        assert response.status_code == 200
        codes = response.context["codes"]
        assert len(codes) == 10 and len(set(codes)) == 10
        assert all(re.fullmatch(r"[0-9a-f]{16}", code) for code in codes)
        assert two_factor_enabled(user)
        stored = set(RecoveryCode.objects.filter(user=user).values_list("digest", flat=True))
        assert stored == {token_digest(code) for code in codes}
        assert not any(code in stored for code in codes)
        assert "no-store" in response["Cache-Control"]
        assert AuditEvent.objects.filter(action=AuditAction.TWO_FACTOR_ENABLE).count() == 1
        page = client.get(SETTINGS).content.decode()
        assert not any(code in page for code in codes)

    def test_wrong_password_changes_nothing(self, client, user):
        response = enrol(client, user, password="not-it")
        assert response.status_code == 400
        assert response.context["form"].errors["password"] == [WRONG_PASSWORD]
        assert nothing_changed(user)

    def test_wrong_code_changes_nothing(self, client, user):
        client.get(SETTINGS)
        right = totp_code(pending_device(user))
        wrong = f"{(int(right) + 1) % 1_000_000:06d}"
        response = enrol(client, user, code=wrong)
        assert response.status_code == 400
        assert response.context["form"].errors["code"] == [WRONG_TOTP]
        assert nothing_changed(user)

    @pytest.mark.parametrize("code", ["abcdef", "12345", "1234567", "1" * 10_240, "", "12 34 5x"])
    def test_malformed_codes_are_form_errors(self, client, user, code):
        response = enrol(client, user, code=code)
        assert response.status_code == 400
        assert response.context["form"].errors["code"]
        assert nothing_changed(user)

    def test_malformed_code_message(self, client, user):
        response = enrol(client, user, code="12345")
        assert response.context["form"].errors["code"] == [MALFORMED_TOTP]

    def test_enrolling_twice_is_refused(self, client, user):
        device, _ = make_two_factor(user)
        response = client.post(SETTINGS, {"password": PASSWORD, "code": totp_code(device)})
        assert response.status_code == 302
        assert AuthenticatorApp.objects.filter(user=user).count() == 1
        assert AuditEvent.objects.filter(action=AuditAction.TWO_FACTOR_ENABLE).count() == 1

    def test_signed_out_visitors_are_sent_to_sign_in(self, client):
        response = client.get(SETTINGS)
        assert response.status_code == 302 and "/users/sign_in" in response["Location"]


class TestRecoveryCodes:
    def test_download_is_a_text_attachment_never_cached(self, client, user):
        codes = enrol(client, user).context["codes"]
        response = client.post(DOWNLOAD, {"code": codes})
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain")
        assert response["Content-Disposition"].startswith("attachment;")
        assert ".txt" in response["Content-Disposition"]
        assert "no-store" in response["Cache-Control"]
        assert response.content.decode().split() == codes

    def test_download_echoes_only_the_users_current_codes(self, client, user):
        codes = enrol(client, user).context["codes"]
        assert client.post(DOWNLOAD, {"code": [*codes[:9], "0" * 16]}).status_code == 400
        assert client.post(DOWNLOAD, {"code": ["<script>"]}).status_code == 400
        assert client.get(DOWNLOAD).status_code == 405

    def test_regenerate_with_password_and_code_replaces_them(self, client, user):
        device, old = make_two_factor(user)
        response = client.post(
            REGENERATE, {"regenerate-password": PASSWORD, "regenerate-code": totp_code(device)}
        )
        assert response.status_code == 200
        new = response.context["codes"]
        assert len(new) == 10 and not set(new) & set(old)
        assert RecoveryCode.objects.filter(user=user).count() == 10
        assert not RecoveryCode.objects.filter(digest=token_digest(old[0])).exists()
        assert AuditEvent.objects.filter(action=AuditAction.RECOVERY_CODES_REGENERATE).exists()

    def test_regenerate_refused_without_the_right_password_or_code(self, client, user):
        device, old = make_two_factor(user)
        for password, code in [("nope", totp_code(device)), (PASSWORD, "000000x")]:
            response = client.post(
                REGENERATE, {"regenerate-password": password, "regenerate-code": code}
            )
            assert response.status_code == 400
            assert response.context["regenerate_form"].errors
        assert RecoveryCode.objects.filter(digest=token_digest(old[0])).exists()
        assert not AuditEvent.objects.filter(action=AuditAction.RECOVERY_CODES_REGENERATE).exists()


class TestDisable:
    def test_password_and_code_disable_it(self, client, user):
        device, _ = make_two_factor(user)
        response = client.post(
            DISABLE, {"disable-password": PASSWORD, "disable-code": totp_code(device)}
        )
        assert response.status_code == 302
        assert not two_factor_enabled(user)
        assert not RecoveryCode.objects.filter(user=user).exists()
        assert AuditEvent.objects.filter(action=AuditAction.TWO_FACTOR_DISABLE).count() == 1

    @pytest.mark.parametrize("password", ["wrong", ""])
    def test_wrong_password_keeps_it(self, client, user, password):
        device, _ = make_two_factor(user)
        response = client.post(
            DISABLE, {"disable-password": password, "disable-code": totp_code(device)}
        )
        assert response.status_code == 400
        assert response.context["disable_form"].errors["password"]
        assert two_factor_enabled(user)

    def test_a_recovery_code_does_not_disable_it(self, client, user):
        _, codes = make_two_factor(user)
        response = client.post(DISABLE, {"disable-password": PASSWORD, "disable-code": codes[0]})
        assert response.status_code == 400
        assert two_factor_enabled(user)


def test_enrolment_page_keeps_the_strict_policy(client, user):
    """The QR code is inline SVG: no request elsewhere, no inline style or script."""
    from tests.site.test_content_security_policy import INLINE_CODE, assert_strict_policy

    response = client.get(SETTINGS)
    assert_strict_policy(response)
    assert not INLINE_CODE.search(response.content.decode())


def test_wrong_passwords_on_the_settings_page_count_as_failed_sign_ins(client, user):
    """The password asked again counts toward the account's lockout and the address's ban,
    as at sign-in: a stolen session cannot guess it freely."""
    from tokens_site.auth.bans import is_banned
    from tokens_site.models import AccountLockout, InstanceSettings

    instance = InstanceSettings.current()
    instance.failed_auth_ban_limit = 3
    instance.save()
    enrol(client, user, password="not-it")
    assert AccountLockout.objects.get(user=user).failed_attempts == 1
    enrol(client, user, password="not-it-either")
    enrol(client, user, password="nor-this")
    assert is_banned("127.0.0.1")
    assert nothing_changed(user)


def test_the_apps_key_is_stored_sealed(client, user):
    """The key the page shows is nowhere in the database: the row holds it sealed with
    TOKEN_ENCRYPTION_KEY (django-otp alone would keep it in plain hex)."""
    from binascii import hexlify

    from django_otp.plugins.otp_totp.models import TOTPDevice

    page = client.get(SETTINGS).content.decode()
    shown = re.search(r'id="manual-key">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    row = TOTPDevice.objects.get(user=user)
    device = pending_device(user)
    assert hexlify(device.bin_key).decode() not in row.key and shown not in row.key
    assert len(row.key) == 64
    import base64

    assert base64.b32encode(device.bin_key).decode() == shown


def test_plain_keys_of_earlier_versions_are_sealed_by_the_migration(user):
    """Migration 0003 seals the hex keys django-otp stored, and the codes stay the same."""
    from importlib import import_module

    from django.apps import apps
    from django_otp.plugins.otp_totp.models import TOTPDevice

    migration = import_module("two_factor.migrations.0003_authenticator_app_sealed_keys")
    rfc_key = b"12345678901234567890".hex()  # RFC 6238's test key, as django-otp stores it
    plain = TOTPDevice.objects.create(user=user, name="old", key=rfc_key)
    migration.seal_plain_keys(apps, None)
    sealed = AuthenticatorApp.objects.get(pk=plain.pk)
    assert sealed.key != rfc_key and sealed.bin_key == b"12345678901234567890"
    migration.unseal_keys(apps, None)
    assert TOTPDevice.objects.get(pk=plain.pk).key == rfc_key


@pytest.mark.parametrize("url", [REGENERATE, DISABLE])
def test_wrong_codes_on_the_settings_page_count_toward_the_lockout(client, user, url):
    """Else a stolen session with the password could try every code here."""
    from tokens_site.models import AccountLockout

    device, _ = make_two_factor(user)
    prefix = "regenerate" if url == REGENERATE else "disable"
    wrong = f"{(int(totp_code(device)) + 500_000) % 1_000_000:06d}"
    response = client.post(url, {f"{prefix}-password": PASSWORD, f"{prefix}-code": wrong})
    assert response.status_code == 400
    assert AccountLockout.objects.get(user=user).failed_attempts == 1
    assert two_factor_enabled(user)
