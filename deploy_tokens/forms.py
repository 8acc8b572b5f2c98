from datetime import timedelta

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from deploy_tokens.models import DEFAULT_USERNAME_FORMAT, Scope, validate_username
from tokens_site.forms import (
    DATE_FORMAT_HINT,
    expiry_help,
    scope_choices,
    token_description_field,
)
from tokens_site.models import InstanceSettings
from tokens_site.tokens import utc_today, validate_expiry_date


class DeployTokenForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Name"),
        max_length=255,
        help_text=gettext_lazy("Enter a unique name for your deploy token."),
    )
    description = token_description_field()
    expires_at = forms.DateField(
        label=gettext_lazy("Expiration date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": DATE_FORMAT_HINT},
        validators=[validate_expiry_date],
    )
    username = forms.CharField(
        label=gettext_lazy("Username"),
        required=False,
        max_length=255,
        validators=[validate_username],
    )
    scopes = forms.MultipleChoiceField(
        label=gettext_lazy("Scopes (select at least one)"),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": gettext_lazy("Select at least one scope.")},
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Made per form, in the language of the request (the scopes' labels are translated).
        if "scopes" in self.fields:
            self.fields["scopes"].choices = scope_choices(Scope)
        if "username" in self.fields:
            self.fields["username"].help_text = _(
                "Enter a username for your token. Defaults to %(username)s."
            ) % {"username": DEFAULT_USERNAME_FORMAT}
        if "expires_at" in self.fields:  # the admin's form has it only when adding
            instance = InstanceSettings.current()
            expires = self.fields["expires_at"]
            expires.initial = instance.default_form_expiry()
            expires.help_text = expiry_help(instance)
            expires.widget.attrs["min"] = str(utc_today() + timedelta(days=1))
