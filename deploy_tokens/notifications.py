"""Expiry notices of deploy tokens (tokens_site.expiry_notices): to the people who manage
them (the policy's MANAGE_DEPLOY_TOKENS role: a project's Maintainers and Owners, a group's
Owners, directly or through a group above), with a link to the repository settings page that
rotates them."""

from django.urls import reverse
from django.utils.translation import gettext_lazy

from deploy_tokens.models import DeployToken
from tokens_site.access.abilities import Ability
from tokens_site.expiry_notices import Addressees, NoticeKind, managers_by_source, register
from tokens_site.models import Project


def _tokens():
    return DeployToken.objects.select_related("project__group", "group")


def _page(source) -> str:
    name = "project_settings" if isinstance(source, Project) else "group_settings"
    return reverse(f"deploy_tokens:{name}", args=[source.full_path])


def _addressees(tokens: list[DeployToken]) -> dict[int, Addressees]:
    return managers_by_source(
        tokens,
        source_of=lambda token: token.owner,
        ability=Ability.MANAGE_DEPLOY_TOKENS,
        page=_page,
    )


DEPLOY = NoticeKind(
    label="deploy",
    noun=gettext_lazy("deploy token"),
    tokens=_tokens,
    addressees=_addressees,
)
register(DEPLOY)
