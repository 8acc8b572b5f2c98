"""Expiry notices of project and group access tokens (tokens_site.expiry_notices): to the
people who manage them (the policy's MANAGE_ACCESS_TOKENS role: a project's Maintainers and
Owners, a group's Owners, directly or through a group above), with a link to the page that
rotates them."""

from django.urls import reverse
from django.utils.translation import gettext_lazy

from personal_tokens.models import PersonalAccessToken
from tokens_site.access.abilities import Ability
from tokens_site.expiry_notices import Addressees, NoticeKind, managers_by_source, register
from tokens_site.models import Bot, Project


def _tokens():
    return PersonalAccessToken.objects.filter(user__is_active=True, user__bot__isnull=False)


def _page(source) -> str:
    name = "project_settings" if isinstance(source, Project) else "group_settings"
    return reverse(f"access_tokens:{name}", args=[source.full_path])


def _addressees(tokens: list[PersonalAccessToken]) -> dict[int, Addressees]:
    bots = Bot.objects.filter(user_id__in={token.user_id for token in tokens}).select_related(
        "project__group", "group"
    )
    source_of = {bot.user_id: bot.source for bot in bots}
    return managers_by_source(
        tokens,
        source_of=lambda token: source_of.get(token.user_id),
        ability=Ability.MANAGE_ACCESS_TOKENS,
        page=_page,
    )


ACCESS = NoticeKind(
    label="access",
    noun=gettext_lazy("access token"),
    tokens=_tokens,
    addressees=_addressees,
)
register(ACCESS)
