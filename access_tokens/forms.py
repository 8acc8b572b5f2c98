from datetime import timedelta

from django import forms

from access_tokens.services import DEFAULT_LIFETIME_DAYS, Scope, longest_lifetime_days
from tokens_site.access.abilities import Ability
from tokens_site.access.policy import Access
from tokens_site.forms import DATE_FORMAT_HINT, scope_choices, token_description_field
from tokens_site.models import AccessLevel
from tokens_site.tokens import utc_today

ROLE_REFUSED = (
    "Choose one of the listed roles: you can give at most your own role, and Owner only if "
    "you are an Owner."
)


def roles_offered(access: Access) -> list[AccessLevel]:
    """The roles `access`'s holder may give a token: at most their own, Owner only from an
    Owner (the service's rule, so that the form offers nothing it would refuse)."""
    return [
        level
        for level in AccessLevel
        if level <= access.level and (level < AccessLevel.OWNER or access.can(Ability.OWN))
    ]


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
        today = utc_today()
        longest = longest_lifetime_days()
        latest = today + timedelta(days=longest)
        expires = self.fields["expires_at"]
        expires.initial = today + timedelta(days=min(DEFAULT_LIFETIME_DAYS, longest))
        expires.widget.attrs.update(min=str(today + timedelta(days=1)), max=str(latest))
        expires.help_text = f"Required: access tokens last at most {longest} days (until {latest})."
        expires.error_messages["required"] = (
            f"Enter an expiration date: access tokens last at most {longest} days (until {latest})."
        )
        offered = roles_offered(access)
        role = self.fields["access_level"]
        role.choices = [(level.value, level.label) for level in offered]
        if offered:
            role.initial = (
                AccessLevel.MAINTAINER if AccessLevel.MAINTAINER in offered else offered[-1]
            ).value
