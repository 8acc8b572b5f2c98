"""Sign-in forms (the site's and the admin's), protected as GitLab protects sign-in: an address
banned for failed attempts is refused before any password is checked, and every failed
sign-in counts toward that address's ban (the account's own lockout counts it too, see
tokens_site.auth.lockout). The refusal of a wrong password, an unknown user, a blocked or a
locked account is one and the same message."""

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import authenticate
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext, gettext_lazy, gettext_noop
from django.views.decorators.debug import sensitive_variables

from tokens_site.audit import ban_address
from tokens_site.auth.bans import is_banned, record_failure

# Marked here, translated where the form shows them.
INVALID_SIGN_IN = gettext_noop("Invalid username or password.")
BANNED_SIGN_IN = gettext_noop(
    "Too many failed sign-in attempts from your address. Wait a while before trying again."
)


def _error_codes(error: ValidationError) -> set[str]:
    items = (
        [item for errors in error.error_dict.values() for item in errors]
        if hasattr(error, "error_dict")
        else error.error_list
    )
    return {item.code for item in items}


class ProtectedSignInMixin:
    """For a form with `self.request` that checks a secret (a password, a second-step code):
    a banned address is refused before anything is checked, and an `invalid_login` error
    (on the form or on a field) counts one failure toward the address's ban."""

    banned = False

    def clean(self):
        ip = ban_address(self.request)
        if is_banned(ip):
            self.banned = True
            raise ValidationError(gettext(BANNED_SIGN_IN), code="banned")
        try:
            return super().clean()
        except ValidationError as error:
            if "invalid_login" in _error_codes(error):
                record_failure(ip)
            raise


@sensitive_variables("password")
def password_confirmed(request, user, password: str) -> bool:
    """A signed-in user's password asked again (before changing two-factor authentication):
    checked as a sign-in is, through django.contrib.auth.authenticate() (a locked account is
    refused, a failure counts toward the lockout), and a failure counts toward the
    address's ban as well."""
    if authenticate(request, username=user.get_username(), password=password) is not None:
        return True
    record_failure(ban_address(request))
    return False


class SignInForm(ProtectedSignInMixin, AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": gettext_lazy(INVALID_SIGN_IN),
    }


class AdminSignInForm(ProtectedSignInMixin, AdminAuthenticationForm):
    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "invalid_login": gettext_lazy(
            "Invalid username or password. The admin is for administrators only."
        ),
    }
