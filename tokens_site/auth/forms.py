"""Sign-in forms (the site's and the admin's), protected as GitLab protects sign-in: an address
banned for failed attempts is refused before any password is checked, and every failed
sign-in counts toward that address's ban (the account's own lockout counts it too, see
tokens_site.auth.lockout). The refusal of a wrong password, an unknown user, a blocked or a
locked account is one and the same message."""

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError

from tokens_site.audit import ban_address
from tokens_site.auth.bans import is_banned, record_failure

INVALID_SIGN_IN = "Invalid username or password."
BANNED_SIGN_IN = (
    "Too many failed sign-in attempts from your address. Wait a while before trying again."
)


class ProtectedSignInMixin:
    banned = False

    def clean(self):
        ip = ban_address(self.request)
        if is_banned(ip):
            self.banned = True
            raise ValidationError(BANNED_SIGN_IN, code="banned")
        try:
            return super().clean()
        except ValidationError as error:
            if error.code == "invalid_login":
                record_failure(ip)
            raise


class SignInForm(ProtectedSignInMixin, AuthenticationForm):
    error_messages = {**AuthenticationForm.error_messages, "invalid_login": INVALID_SIGN_IN}


class AdminSignInForm(ProtectedSignInMixin, AdminAuthenticationForm):
    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "invalid_login": INVALID_SIGN_IN + " The admin is for administrators only.",
    }
