from datetime import timedelta

from django import forms
from django.utils.translation import gettext_lazy, ngettext

from personal_tokens.rules import Scope, personal_token_validate, scopes_offered_to
from tokens_site.forms import DATE_FORMAT_HINT, expiry_help, scope_choices, token_description_field
from tokens_site.models import InstanceSettings
from tokens_site.tokens import utc_today


def add_rule_errors(form: forms.BaseForm, *, user) -> None:
    """The service's rules for a new token of `user` (sudo, maximum lifetime, ...), checked on
    the fields that parsed and reported on the form's fields."""
    cleaned = form.cleaned_data
    errors = personal_token_validate(
        user=user,
        name=cleaned.get("name", ""),
        description=cleaned.get("description", ""),
        scopes=cleaned.get("scopes", []),
        expires_at=cleaned.get("expires_at"),
    )
    for field, messages in errors.items():
        if field not in form.errors:
            form.add_error(field, messages)


class PersonalAccessTokenForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Token name"),
        max_length=255,
        help_text=gettext_lazy(
            "For example, the application using the token or the purpose of the token."
        ),
    )
    description = token_description_field(gettext_lazy("Token description"))
    expires_at = forms.DateField(
        label=gettext_lazy("Expiration date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": DATE_FORMAT_HINT},
    )
    scopes = forms.MultipleChoiceField(
        label=gettext_lazy("Select scopes"),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": gettext_lazy("Select at least one scope.")},
        help_text=gettext_lazy("Scopes set the permission levels granted to the token."),
    )

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["scopes"].choices = scope_choices(scopes_offered_to(user))
        instance = InstanceSettings.current()
        max_days = instance.personal_access_token_max_lifetime_days
        expires = self.fields["expires_at"]
        expires.initial = instance.default_form_expiry()
        expires.widget.attrs["min"] = str(utc_today() + timedelta(days=1))
        if max_days:
            latest = utc_today() + timedelta(days=max_days)
            expires.required = True
            expires.widget.attrs["max"] = str(latest)
            limit = {"days": max_days, "date": latest}
            expires.help_text = ngettext(
                "Required: this instance allows tokens for at most %(days)d day (until %(date)s).",
                "Required: this instance allows tokens for at most %(days)d days (until %(date)s).",
                max_days,
            )
            expires.help_text %= limit
            expires.error_messages["required"] = ngettext(
                "Enter an expiration date: this instance allows tokens for at most "
                "%(days)d day (until %(date)s).",
                "Enter an expiration date: this instance allows tokens for at most "
                "%(days)d days (until %(date)s).",
                max_days,
            )
            expires.error_messages["required"] %= limit
        else:
            expires.help_text = expiry_help(instance)

    @classmethod
    def initial_from_query(cls, query) -> dict:
        """Prefill from `?name=...&description=...&scopes=a,b,c`; unknown scopes are ignored."""
        scopes = [scope for scope in query.get("scopes", "").split(",") if scope in Scope.values]
        return {
            "name": query.get("name", ""),
            "description": query.get("description", ""),
            "scopes": scopes,
        }

    def clean(self):
        cleaned = super().clean()
        add_rule_errors(self, user=self.user)
        return cleaned
