from django import forms
from django.core.exceptions import ValidationError
from django.utils.functional import lazy
from django.utils.html import format_html
from django.utils.translation import gettext, gettext_lazy

from tokens_site.access.policy import Access, visibility_choices_within
from tokens_site.models import (
    DESCRIPTION_MAX_LENGTH,
    DESCRIPTION_TOO_LONG_SHOWN,
    VISIBILITY_HELP,
    AccessLevel,
    Group,
    Visibility,
)
from tokens_site.paths import PATH_RULES, validate_path


def apply_service_errors(form, error: ValidationError) -> None:
    """Put a service's ValidationError on the form: field errors on fields, the rest on top."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


DATE_FORMAT_HINT = gettext_lazy("Enter a valid date as YYYY-MM-DD, e.g. 2030-01-31.")


def expiry_help(instance) -> str:
    """What an empty date means, as the instance decides (require_token_expiry), in the
    current language."""
    if instance.require_token_expiry:
        latest = instance.default_token_expiry()
        return gettext(
            "Without a date, the token expires after the longest allowed time (%(date)s)."
        ) % {"date": latest}
    return gettext("Unless you enter a date, the token does not expire.")


def scope_choices(scopes) -> list[tuple[str, str]]:
    """Checkbox labels for token scopes: the scope's name, then what it allows."""
    return [
        (
            scope.value,
            format_html('<span class="scope-name">{}</span> {}', scope.value, scope.label),
        )
        for scope in scopes
    ]


# Translated when shown (lazy, like gettext_lazy, with the number in).
DESCRIPTION_HELP = lazy(
    lambda: (
        gettext("What the token is for, or where it is used. At most %(max)s characters.")
        % {"max": DESCRIPTION_MAX_LENGTH}
    ),
    str,
)()


def token_description_field(label: str | None = None) -> forms.CharField:
    """A token's optional description (GitLab's, at most DESCRIPTION_MAX_LENGTH characters).
    `label`: lazily translated; "Description" unless given."""
    return forms.CharField(
        label=label or gettext_lazy("Description"),
        required=False,
        max_length=DESCRIPTION_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"max_length": DESCRIPTION_TOO_LONG_SHOWN},
        help_text=DESCRIPTION_HELP,
    )


class NamespaceForm(forms.Form):
    """Fields shared by the new-group and new-project forms."""

    name = forms.CharField(label=gettext_lazy("Name"), max_length=255)
    path = forms.CharField(
        label=gettext_lazy("URL path"),
        max_length=255,
        validators=[validate_path],
        help_text=PATH_RULES,
        widget=forms.TextInput(attrs={"data-slug-from": "id_name"}),
    )
    visibility = forms.ChoiceField(
        label=gettext_lazy("Visibility"), widget=forms.RadioSelect, initial=Visibility.PRIVATE
    )
    description = forms.CharField(
        label=gettext_lazy("Description"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def set_parent(self, parent: Group | None) -> None:
        self.fields["visibility"].choices = [
            (value, f"{label} — {VISIBILITY_HELP[value]}")
            for value, label in visibility_choices_within(parent)
        ]


class GroupForm(NamespaceForm):
    def __init__(self, *args, parent: Group | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["name"].label = gettext("Group name")
        self.fields["path"].label = gettext("Group URL")
        self.set_parent(parent)


class GroupTwoFactorForm(forms.ModelForm):
    """Group > Settings > General: required two-factor authentication for its members."""

    class Meta:
        model = Group
        fields = ["require_two_factor_authentication", "two_factor_grace_period"]
        labels = {
            "require_two_factor_authentication": gettext_lazy(
                "Require all users in this group to set up two-factor authentication"
            ),
            "two_factor_grace_period": gettext_lazy("Time before enforced (hours)"),
        }


class ProjectForm(NamespaceForm):
    group = forms.ModelChoiceField(
        label=gettext_lazy("Group"),
        queryset=Group.objects.none(),
        empty_label=gettext_lazy("Pick a group"),
    )
    field_order = ["name", "group", "path", "visibility", "description"]

    def __init__(self, *args, groups, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["name"].label = gettext("Project name")
        self.fields["path"].label = gettext("Project slug")
        self.fields["group"].queryset = groups
        self.set_parent(None)


class MemberUpdateForm(forms.Form):
    """Any role is accepted here; the service says which ones this user may grant. Only the
    grantable ones are offered."""

    access_level = forms.TypedChoiceField(
        label=gettext_lazy("Role"), coerce=int, choices=AccessLevel.choices
    )

    def __init__(self, *args, access: Access, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["access_level"].widget.choices = [
            (level.value, level.label) for level in access.grantable_levels()
        ]


class MemberAddForm(MemberUpdateForm):
    # As the user types, site.js offers matching users (/-/autocomplete/users) in the list.
    username = forms.CharField(
        label=gettext_lazy("Username"),
        max_length=150,
        widget=forms.TextInput(
            attrs={
                "list": "member-username-options",
                "autocomplete": "off",
                "data-user-search": "/-/autocomplete/users",
            }
        ),
        help_text=gettext_lazy("Type part of a username or name to pick from the list."),
    )
    field_order = ["username", "access_level"]

    def clean_username(self) -> str:
        return self.cleaned_data["username"].strip().removeprefix("@")
