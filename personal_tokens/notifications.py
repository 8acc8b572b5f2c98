"""Expiry notices of personal access tokens (tokens_site.expiry_notices): to their owner,
with a link to the page that rotates them. A bot's tokens are project and group access
tokens: access_tokens.notifications tells their managers."""

from django.conf import settings
from django.urls import reverse
from django.utils.translation import gettext_lazy

from personal_tokens.models import PersonalAccessToken
from tokens_site.expiry_notices import Addressees, NoticeKind, register


def _tokens():
    return (
        PersonalAccessToken.objects.filter(user__is_active=True, user__bot__isnull=True)
        .exclude(user__email="")
        .select_related("user")
    )


def _addressees(tokens: list[PersonalAccessToken]) -> dict[int, Addressees]:
    url = settings.EXTERNAL_URL + reverse("personal_tokens:index")
    return {token.pk: Addressees(people=[token.user], where="", url=url) for token in tokens}


PERSONAL = NoticeKind(
    label="personal",
    noun=gettext_lazy("personal access token"),
    tokens=_tokens,
    addressees=_addressees,
)
register(PERSONAL)
