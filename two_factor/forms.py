"""Forms of the two-factor pages. A code's shape is checked before anything else; the
password before the code (a wrong password never uses up a code)."""

from django import forms
from django.contrib.auth.signals import user_login_failed
from django.views.decorators.debug import sensitive_variables

from tokens_site.audit import client_ip
from tokens_site.auth.forms import ProtectedSignInMixin, password_confirmed
from tokens_site.auth.lockout import account_is_locked
from two_factor.codes import MAX_CODE_INPUT, TOTP_DIGITS, is_totp_code, normalize
from two_factor.services import second_step_verify, totp_code_verify

WRONG_PASSWORD = "The password is wrong."
MALFORMED_TOTP = f"Enter the {TOTP_DIGITS}-digit code your authenticator app shows."
WRONG_TOTP = "The code is wrong or was already used. Enter the app's current code."
INVALID_SECOND_STEP = "Invalid two-factor code."
LOCKED_MESSAGE = "Too many failed attempts: this account is locked for a while. Try again later."


class TotpConfirmForm(forms.Form):
    """Password and the app's current code: to enrol, regenerate recovery codes, disable."""

    password = forms.CharField(
        label="Current password",
        max_length=4096,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    code = forms.CharField(
        label="Code from your authenticator app",
        max_length=MAX_CODE_INPUT,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "spellcheck": "false"}
        ),
    )

    def __init__(self, *args, request, user, device, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request
        self.user = user
        self.device = device

    def clean_code(self) -> str:
        code = normalize(self.cleaned_data["code"])
        if not is_totp_code(code):
            raise forms.ValidationError(MALFORMED_TOTP, code="malformed")
        return code

    @sensitive_variables("password", "code")
    def clean(self):
        cleaned = super().clean()
        password, code = cleaned.get("password"), cleaned.get("code")
        if password is None or code is None:
            return cleaned
        if not password_confirmed(self.request, self.user, password):
            self.add_error("password", forms.ValidationError(WRONG_PASSWORD, code="password"))
        elif not totp_code_verify(device=self.device, code=code):
            self.add_error("code", forms.ValidationError(WRONG_TOTP, code="wrong"))
        return cleaned


class _SecondStepCode(forms.Form):
    code = forms.CharField(
        label="Two-factor code or recovery code",
        max_length=MAX_CODE_INPUT,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autofocus": True, "spellcheck": "false"}
        ),
    )

    def __init__(self, *args, request, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request
        self.user = user

    @sensitive_variables("code")
    def clean(self):
        """A wrong code is a failed sign-in, counted as a wrong password is: toward the
        account's lockout (the `user_login_failed` signal) and the address's ban
        (`invalid_login`, ProtectedSignInMixin)."""
        cleaned = super().clean()
        code = cleaned.get("code")
        if code is None:
            return cleaned
        if account_is_locked(self.user):  # checked before the code, which stays unused
            raise forms.ValidationError(LOCKED_MESSAGE, code="locked")
        if not second_step_verify(user=self.user, code=code, ip_address=client_ip(self.request)):
            user_login_failed.send(
                sender=__name__,
                credentials={"username": self.user.get_username()},
                request=self.request,
            )
            raise forms.ValidationError(
                {"code": forms.ValidationError(INVALID_SECOND_STEP, code="invalid_login")}
            )
        return cleaned


class SecondStepForm(ProtectedSignInMixin, _SecondStepCode):
    """The sign-in's second step: the authenticator app's code or a recovery code, for the
    user the password step left pending."""
