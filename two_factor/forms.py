"""Forms of the two-factor pages. A code's shape is checked before anything else; the
password before the code (a wrong password never uses up a code). A security key's answer
comes from the page's script (static/two_factor/security_keys.js) in a hidden field."""

from django import forms
from django.contrib.auth.signals import user_login_failed
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop
from django.views.decorators.debug import sensitive_variables

from tokens_site.audit import ban_address, client_ip
from tokens_site.auth.bans import record_failure
from tokens_site.auth.forms import ProtectedSignInMixin, password_confirmed
from tokens_site.auth.lockout import account_is_locked
from two_factor import security_keys
from two_factor.codes import MAX_CODE_INPUT, TOTP_DIGITS, is_totp_code, normalize
from two_factor.models import SECURITY_KEY_NAME_MAX_LENGTH
from two_factor.services import second_step_key_verify, second_step_verify, totp_code_verify

# The messages in English; each is translated where it is raised (`_(WRONG_PASSWORD)`).
WRONG_PASSWORD = gettext_noop("The password is wrong.")
_MALFORMED_TOTP = gettext_noop("Enter the %(digits)d-digit code your authenticator app shows.")
MALFORMED_TOTP = _MALFORMED_TOTP % {"digits": TOTP_DIGITS}
WRONG_TOTP = gettext_noop("The code is wrong or was already used. Enter the app's current code.")
INVALID_SECOND_STEP = gettext_noop("Invalid two-factor code.")
NO_SECOND_STEP = gettext_noop("Enter a code, or use your security key.")
NO_KEY_ANSWER = gettext_noop(
    "Your browser sent no answer from the security key. Use a browser with JavaScript and "
    "WebAuthn (any current one), and touch the key when it blinks."
)
LOCKED_MESSAGE = gettext_noop(
    "Too many failed attempts: this account is locked for a while. Try again later."
)


def code_failed(request, user) -> None:
    """A wrong second-step code or key: one more failure toward `user`'s lockout (the
    `user_login_failed` signal, as a wrong password)."""
    user_login_failed.send(
        sender=__name__, credentials={"username": user.get_username()}, request=request
    )


def key_answer_field() -> forms.CharField:
    """The browser's answer from a security key (hidden; the page's script fills it)."""
    return forms.CharField(
        widget=forms.HiddenInput,
        required=False,
        max_length=security_keys.MAX_ANSWER_LENGTH,
        error_messages={"max_length": gettext_lazy(security_keys.REFUSED)},
    )


class TotpConfirmForm(forms.Form):
    """Password and the app's current code: to enrol, regenerate recovery codes, disable."""

    password = forms.CharField(
        label=gettext_lazy("Current password"),
        max_length=4096,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    code = forms.CharField(
        label=gettext_lazy("Code from your authenticator app"),
        max_length=MAX_CODE_INPUT,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "spellcheck": "false"}
        ),
    )

    def __init__(self, *args, request, user, device, **kwargs):
        """`device`: the app whose code is asked; None (a user with security keys only): one
        of their keys answers instead (the `assertion` the page's script fills)."""
        super().__init__(*args, **kwargs)
        self.request = request
        self.user = user
        self.device = device
        if device is None:
            del self.fields["code"]
            self.fields["assertion"] = key_answer_field()

    def clean_code(self) -> str:
        code = normalize(self.cleaned_data["code"])
        if not is_totp_code(code):
            raise forms.ValidationError(
                _(_MALFORMED_TOTP) % {"digits": TOTP_DIGITS}, code="malformed"
            )
        return code

    @sensitive_variables("password", "code", "answer")
    def clean(self):
        cleaned = super().clean()
        password, code = cleaned.get("password"), cleaned.get("code")
        if self.errors or password is None:
            return cleaned
        if not password_confirmed(self.request, self.user, password):
            self.add_error("password", forms.ValidationError(_(WRONG_PASSWORD), code="password"))
        elif self.device is not None:
            if not totp_code_verify(device=self.device, code=code):
                self._failed("code", _(WRONG_TOTP))
        elif not (answer := cleaned.get("assertion")):
            self.add_error(None, forms.ValidationError(_(NO_KEY_ANSWER), code="no_answer"))
        elif refusal := second_step_key_verify(self.request, user=self.user, answer=answer):
            self._failed(None, refusal)
        return cleaned

    def _failed(self, field: str | None, message: str) -> None:
        """A wrong code or key counts like a wrong password: toward the lockout and the ban."""
        code_failed(self.request, self.user)
        record_failure(ban_address(self.request))
        self.add_error(field, forms.ValidationError(message, code="wrong"))


class PasswordConfirmForm(forms.Form):
    """The password alone: to remove a security key."""

    password = TotpConfirmForm.base_fields["password"]

    def __init__(self, *args, request, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.request = request
        self.user = user

    @sensitive_variables("password")
    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not password_confirmed(self.request, self.user, password):
            raise forms.ValidationError(_(WRONG_PASSWORD), code="password")
        return password


class SecurityKeyAddForm(PasswordConfirmForm):
    """A name, the password, and the browser's answer to the registration (hidden): checked
    in that order, so a wrong password never registers a key."""

    name = forms.CharField(
        label=gettext_lazy("Name of the key"),
        max_length=SECURITY_KEY_NAME_MAX_LENGTH,
        help_text=gettext_lazy("To tell your keys apart, e.g. “YubiKey on my keyring”."),
    )
    credential = key_answer_field()
    field_order = ["name", "password", "credential"]

    @sensitive_variables("answer")
    def clean(self):
        cleaned = super().clean()
        answer = cleaned.get("credential")
        if self.errors:
            return cleaned
        if not answer:
            raise forms.ValidationError(_(NO_KEY_ANSWER), code="no_answer")
        try:
            cleaned["key"] = security_keys.registration_verify(self.request, answer)
        except security_keys.KeyRefused as refused:
            raise forms.ValidationError(str(refused), code="refused") from refused
        return cleaned


class _SecondStepCode(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Two-factor code or recovery code"),
        max_length=MAX_CODE_INPUT,
        required=False,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autofocus": True, "spellcheck": "false"}
        ),
    )
    # A security key's answer (the page's script fills it); instead of a code.
    assertion = key_answer_field()

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
        if self.errors:
            return cleaned
        code, answer = cleaned.get("code"), cleaned.get("assertion")
        if not code and not answer:
            raise forms.ValidationError({"code": forms.ValidationError(_(NO_SECOND_STEP))})
        if account_is_locked(self.user):  # checked before the code, which stays unused
            raise forms.ValidationError(_(LOCKED_MESSAGE), code="locked")
        ip_address = client_ip(self.request)
        if answer:
            refusal = second_step_key_verify(self.request, user=self.user, answer=answer)
            if refusal is None:
                return cleaned
            error = forms.ValidationError(refusal, code="invalid_login")
        elif second_step_verify(user=self.user, code=code, ip_address=ip_address):
            return cleaned
        else:
            error = forms.ValidationError(
                {"code": forms.ValidationError(_(INVALID_SECOND_STEP), code="invalid_login")}
            )
        code_failed(self.request, self.user)
        raise error


class SecondStepForm(ProtectedSignInMixin, _SecondStepCode):
    """The sign-in's second step: the authenticator app's code, a recovery code, or a
    security key's answer, for the user the password step left pending."""
