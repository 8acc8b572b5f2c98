"""Forms of the two-factor pages. A code's shape is checked before anything else; the
password before the code (a wrong password never uses up a code)."""

from django import forms
from django.views.decorators.debug import sensitive_variables

from two_factor.codes import MAX_CODE_INPUT, TOTP_DIGITS, is_totp_code, normalize
from two_factor.services import totp_code_verify

WRONG_PASSWORD = "The password is wrong."
MALFORMED_TOTP = f"Enter the {TOTP_DIGITS}-digit code your authenticator app shows."
WRONG_TOTP = "The code is wrong or was already used. Enter the app's current code."
INVALID_SECOND_STEP = "Invalid two-factor code."


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

    def __init__(self, *args, user, device, **kwargs):
        super().__init__(*args, **kwargs)
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
        if not self.user.check_password(password):
            self.add_error("password", forms.ValidationError(WRONG_PASSWORD, code="password"))
        elif not totp_code_verify(device=self.device, code=code):
            self.add_error("code", forms.ValidationError(WRONG_TOTP, code="wrong"))
        return cleaned


class SecondStepForm(forms.Form):
    code = forms.CharField(
        label="Two-factor code or recovery code",
        max_length=MAX_CODE_INPUT,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autofocus": True, "spellcheck": "false"}
        ),
    )
