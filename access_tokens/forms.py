from datetime import timedelta

from django import forms
from django.utils.translation import gettext_lazy, ngettext

from access_tokens.services import (
    Scope,
    expiry_required_message,
    latest_expiry,
    longest_lifetime_days,
)
from tokens_site.access.policy import Access
from tokens_site.forms import DATE_FORMAT_HINT, scope_choices, token_description_field
from tokens_site.models import AccessLevel, InstanceSettings
from tokens_site.tokens import utc_today

ROLE_REFUSED = gettext_lazy(
    "Choose one of the listed roles: you can give at most your own role, and Owner only if "
    "you are an Owner."
)


class AccessTokenForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Token name"),
        max_length=255,
        help_text=gettext_lazy(
            "For example, the application using the token or the purpose of the token. Do not "
            "give sensitive information for the name of the token, as it will be visible to all "
            "members."
        ),
    )
    description = token_description_field(gettext_lazy("Token description"))
    expires_at = forms.DateField(
        label=gettext_lazy("Expiration date"),
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": DATE_FORMAT_HINT},
    )
    access_level = forms.TypedChoiceField(
        label=gettext_lazy("Select a role"),
        coerce=int,
        error_messages={"invalid_choice": ROLE_REFUSED},
    )
    scopes = forms.MultipleChoiceField(
        label=gettext_lazy("Select scopes"),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": gettext_lazy("Select at least one scope.")},
        help_text=gettext_lazy("Scopes set the permission levels granted to the token."),
    )

    def __init__(self, *args, access: Access, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        today, longest, latest = utc_today(), longest_lifetime_days(), latest_expiry()
        expires = self.fields["expires_at"]
        expires.initial = InstanceSettings.current().default_form_expiry()
        expires.widget.attrs.update(min=str(today + timedelta(days=1)), max=str(latest))
        expires.help_text = ngettext(
            "Required: access tokens last at most %(days)d day (until %(date)s).",
            "Required: access tokens last at most %(days)d days (until %(date)s).",
            longest,
        ) % {"days": longest, "date": latest}
        expires.error_messages["required"] = expiry_required_message()
        # The roles the service accepts from this user (a manager may give Maintainer).
        offered = access.grantable_levels()
        role = self.fields["access_level"]
        role.choices = [(level.value, level.label) for level in offered]
        role.initial = AccessLevel.MAINTAINER.value
        # Made per form, in the language of the request (the scopes' labels are translated).
        self.fields["scopes"].choices = scope_choices(Scope)
