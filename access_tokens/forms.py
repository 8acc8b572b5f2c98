from datetime import timedelta

from django import forms

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

ROLE_REFUSED = (
    "Choose one of the listed roles: you can give at most your own role, and Owner only if "
    "you are an Owner."
)


class AccessTokenForm(forms.Form):
    name = forms.CharField(
        label="Token name",
        max_length=255,
        help_text="For example, the application using the token or the purpose of the token. "
        "Do not give sensitive information for the name of the token, as it will be visible to "
        "all members.",
    )
    description = token_description_field("Token description")
    expires_at = forms.DateField(
        label="Expiration date",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": DATE_FORMAT_HINT},
    )
    access_level = forms.TypedChoiceField(
        label="Select a role",
        coerce=int,
        error_messages={"invalid_choice": ROLE_REFUSED},
    )
    scopes = forms.MultipleChoiceField(
        label="Select scopes",
        choices=scope_choices(Scope),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Select at least one scope."},
        help_text="Scopes set the permission levels granted to the token.",
    )

    def __init__(self, *args, access: Access, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        today, longest, latest = utc_today(), longest_lifetime_days(), latest_expiry()
        expires = self.fields["expires_at"]
        expires.initial = InstanceSettings.current().default_form_expiry()
        expires.widget.attrs.update(min=str(today + timedelta(days=1)), max=str(latest))
        expires.help_text = f"Required: access tokens last at most {longest} days (until {latest})."
        expires.error_messages["required"] = expiry_required_message()
        # The roles the service accepts from this user (a manager may give Maintainer).
        offered = access.grantable_levels()
        role = self.fields["access_level"]
        role.choices = [(level.value, level.label) for level in offered]
        role.initial = AccessLevel.MAINTAINER.value
