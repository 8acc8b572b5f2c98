"""User settings > Account > Two-factor authentication (the authenticator app, security
keys, recovery codes), and the sign-in's second step. Recovery codes appear only in the
response that makes them (and in the .txt the user asks for from that page); no page with a
code or a key is cached."""

import json
from base64 import b32encode

import segno
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import NON_FIELD_ERRORS
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from tokens_site.audit import client_ip
from tokens_site.auth.lockout import lockout_forget_failures
from tokens_site.once import ShownOnce
from two_factor import security_keys, services
from two_factor.codes import RECOVERY_CODE_COUNT
from two_factor.forms import (
    PasswordConfirmForm,
    SecondStepForm,
    SecurityKeyAddForm,
    TotpConfirmForm,
)
from two_factor.selectors import (
    recovery_codes_left,
    security_keys_of,
    totp_device_confirmed,
    two_factor_enabled,
)
from two_factor.sign_in import sign_in_complete, sign_in_pending_clear, sign_in_pending_user

QR_SCALE = 4
KEY_GROUP = 4
RECOVERY_CODES_FILENAME = "tokens-recovery-codes.txt"


def manual_key(device) -> str:
    """The device's key in base32, in groups of four, for typing into an app."""
    key = b32encode(device.bin_key).decode()
    return " ".join(key[i : i + KEY_GROUP] for i in range(0, len(key), KEY_GROUP))


def qr_code_svg(device) -> str:
    """The otpauth URI as an inline SVG (no request leaves the page; no inline style)."""
    return mark_safe(segno.make(device.config_url, error="m").svg_inline(scale=QR_SCALE))  # noqa: S308


def render_recovery_codes(request, codes: list[str]) -> HttpResponse:
    return render(
        request,
        "two_factor/recovery_codes.html",
        # ShownOnce: a dump of the template context (a DEBUG log line) never shows them.
        {"codes": [ShownOnce(code) for code in codes], "nav": "two_factor"},
    )


def remove_form(request, key, data=None) -> PasswordConfirmForm:
    return PasswordConfirmForm(data, request=request, user=request.user, prefix=f"remove-{key.pk}")


@method_decorator([never_cache, sensitive_post_parameters()], name="dispatch")
class TwoFactorSettingsView(LoginRequiredMixin, View):
    """GET: the authenticator app (enrolment: QR code, key, form), the security keys (list,
    register), and once two-factor authentication is on, regenerate and disable. POST enrols
    the app (password + current code) and, when that turns it on, shows the recovery codes
    once."""

    template_name = "two_factor/settings.html"

    def render_page(self, *, status=200, removing=None, **bound_forms):
        """The page; `bound_forms` (`form`, `key_form`, `regenerate_form`, `disable_form`)
        replace the empty ones, errors and all; `removing`, a bound remove form for one key."""
        request, user = self.request, self.request.user
        device = totp_device_confirmed(user)
        keys = list(security_keys_of(user))
        enabled = device is not None or bool(keys)
        party = security_keys.relying_party()
        context = {
            "nav": "two_factor",
            "enabled": enabled,
            "app": device,
            "keys": [
                (
                    key,
                    removing
                    if removing is not None and removing.prefix == f"remove-{key.pk}"
                    else remove_form(request, key),
                )
                for key in keys
            ],
            "keys_available": party is not None,
            "keys_unavailable_message": _(security_keys.UNAVAILABLE),
            "key_form": SecurityKeyAddForm(request=request, user=user, prefix="key"),
        }
        if party is not None:
            context["key_options"] = json.loads(security_keys.registration_options(request, user))
        if device is None:
            pending = services.totp_device_pending(user=user)
            context |= {
                "form": TotpConfirmForm(request=request, user=user, device=pending),
                "qr_code": qr_code_svg(pending),
                "manual_key": manual_key(pending),
            }
        if enabled and device is None:  # a key confirms regenerate and disable
            options = security_keys.sign_in_options(request, user)
            context["key_confirm_options"] = json.loads(options) if options else None
        if enabled:
            context |= {
                "codes_left": recovery_codes_left(user),
                "code_count": RECOVERY_CODE_COUNT,
                "regenerate_form": TotpConfirmForm(
                    request=request, user=user, device=device, prefix="regenerate"
                ),
                "disable_form": TotpConfirmForm(
                    request=request, user=user, device=device, prefix="disable"
                ),
            }
        context |= bound_forms
        return render(request, self.template_name, context, status=status)

    def get(self, request):
        return self.render_page()

    def post(self, request):
        user = request.user
        if totp_device_confirmed(user) is not None:
            messages.error(request, _("An authenticator app is already registered."))
            return redirect("two_factor:settings")
        device = services.totp_device_pending(user=user)
        form = TotpConfirmForm(request.POST, request=request, user=user, device=device)
        if not form.is_valid():
            return self.render_page(form=form, status=400)
        try:
            codes = services.two_factor_enable(
                user=user, device=device, ip_address=client_ip(request)
            )
        except services.TwoFactorError as error:
            messages.error(request, str(error))
            return redirect("two_factor:settings")
        if codes is None:
            messages.success(request, _("The authenticator app is registered."))
            return redirect("two_factor:settings")
        messages.success(request, _("Two-factor authentication is enabled."))
        return render_recovery_codes(request, codes)


class _ConfirmedActionView(TwoFactorSettingsView):
    """POST only: password + the app's current code (the password alone for a user with
    security keys only), then `act`."""

    http_method_names = ["post"]
    prefix = ""

    def act(self, request):
        raise NotImplementedError

    def post(self, request):
        if not two_factor_enabled(request.user):
            return redirect("two_factor:settings")
        device = totp_device_confirmed(request.user)
        form = TotpConfirmForm(
            request.POST, request=request, user=request.user, device=device, prefix=self.prefix
        )
        if not form.is_valid():
            return self.render_page(status=400, **{f"{self.prefix}_form": form})
        return self.act(request)


class RecoveryCodesRegenerateView(_ConfirmedActionView):
    prefix = "regenerate"

    def act(self, request):
        codes = services.recovery_codes_regenerate(user=request.user, ip_address=client_ip(request))
        messages.success(request, _("New recovery codes: the old ones no longer work."))
        return render_recovery_codes(request, codes)


class TwoFactorDisableView(_ConfirmedActionView):
    prefix = "disable"

    def act(self, request):
        services.two_factor_disable(user=request.user, ip_address=client_ip(request))
        messages.success(request, _("Two-factor authentication is disabled."))
        return redirect("two_factor:settings")


class SecurityKeyAddView(TwoFactorSettingsView):
    """POST: a name, the password and the browser's answer; when the key turns two-factor
    authentication on, the recovery codes are shown once."""

    http_method_names = ["post"]

    def post(self, request):
        form = SecurityKeyAddForm(request.POST, request=request, user=request.user, prefix="key")
        if not form.is_valid():
            return self.render_page(key_form=form, status=400)
        name = form.cleaned_data["name"]
        try:
            _key, codes = services.security_key_add(
                user=request.user,
                name=name,
                key=form.cleaned_data["key"],
                ip_address=client_ip(request),
            )
        except services.TwoFactorError as error:
            messages.error(request, str(error))
            return redirect("two_factor:settings")
        messages.success(request, _("Security key “%(name)s” registered.") % {"name": name})
        if codes is None:
            return redirect("two_factor:settings")
        return render_recovery_codes(request, codes)


class SecurityKeyRemoveView(TwoFactorSettingsView):
    """POST: the password; removing the last app-or-key turns two-factor authentication off."""

    http_method_names = ["post"]

    def post(self, request, key_id: int):
        key = security_keys_of(request.user).filter(pk=key_id).first()
        if key is None:
            messages.error(request, _("That security key is not registered on your account."))
            return redirect("two_factor:settings")
        form = remove_form(request, key, request.POST)
        if not form.is_valid():
            return self.render_page(removing=form, status=400)
        services.security_key_remove(
            user=request.user, key_id=key.pk, ip_address=client_ip(request)
        )
        messages.success(request, _("Security key “%(name)s” removed.") % {"name": key.name})
        return redirect("two_factor:settings")


@method_decorator([never_cache, sensitive_post_parameters()], name="dispatch")
class RecoveryCodesDownloadView(LoginRequiredMixin, View):
    """POST the codes the page shows: they come back as a .txt attachment, if they are the
    user's unused codes (nothing else is ever echoed)."""

    http_method_names = ["post"]

    def post(self, request):
        codes = request.POST.getlist("code")[:RECOVERY_CODE_COUNT]
        if not services.recovery_codes_are_current(user=request.user, codes=codes):
            return HttpResponse(
                _("These are not your current recovery codes.") + "\n",
                status=400,
                content_type="text/plain; charset=utf-8",
            )
        body = "".join(f"{code}\n" for code in codes)
        response = HttpResponse(body, content_type="text/plain; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{RECOVERY_CODES_FILENAME}"'
        return response


@method_decorator([never_cache, sensitive_post_parameters()], name="dispatch")
class SecondStepView(View):
    """The sign-in's second step, for the user the password step left pending."""

    template_name = "two_factor/sign_in.html"

    def render_page(self, form, user, status=200):
        options = security_keys.sign_in_options(self.request, user)
        context = {"form": form, "key_options": json.loads(options) if options else None}
        return render(self.request, self.template_name, context, status=status)

    def get(self, request):
        user = sign_in_pending_user(request)
        if user is None:
            return redirect("sign_in")
        return self.render_page(SecondStepForm(request=request, user=None), user)

    def post(self, request):
        user = sign_in_pending_user(request)
        if user is None:
            messages.error(request, _("Sign in again: the sign-in took too long."))
            return redirect("sign_in")
        form = SecondStepForm(request.POST, request=request, user=user)
        if not form.is_valid():
            locked = form.has_error(NON_FIELD_ERRORS, "locked")
            if locked:  # this sign-in is over: the password step again, once unlocked
                sign_in_pending_clear(request)
                return render(request, self.template_name, {"form": form}, status=403)
            return self.render_page(form, user, status=403 if form.banned else 400)
        lockout_forget_failures(user)
        return redirect(sign_in_complete(request, user))
