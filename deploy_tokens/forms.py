from django import forms

from deploy_tokens.models import DEFAULT_USERNAME_FORMAT, Scope, validate_username
from tokens_site.forms import DATE_FORMAT_HINT, scope_choices, token_description_field
from tokens_site.tokens import validate_expiry_date


class DeployTokenForm(forms.Form):
    name = forms.CharField(
        label="Name", max_length=255, help_text="Enter a unique name for your deploy token."
    )
    description = token_description_field()
    expires_at = forms.DateField(
        label="Expiration date",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Unless you enter a date, the token does not expire.",
        error_messages={"invalid": DATE_FORMAT_HINT},
        validators=[validate_expiry_date],
    )
    username = forms.CharField(
        label="Username",
        required=False,
        max_length=255,
        validators=[validate_username],
        help_text=f"Enter a username for your token. Defaults to {DEFAULT_USERNAME_FORMAT}.",
    )
    scopes = forms.MultipleChoiceField(
        label="Scopes (select at least one)",
        choices=scope_choices(Scope),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Select at least one scope."},
    )
