"""Expiry notices of project and group access tokens: 7 days before and on the day, to the
project's Maintainers and Owners or the group's Owners (direct or inherited; people only),
each notice once per token. A run claims the due tokens in one transaction (rows locked on
PostgreSQL), so concurrent runs never send a notice twice; then each recipient gets one email
listing their tokens. The notices and their windows are the personal tokens' own
(personal_tokens.notifications)."""

import logging
from collections import defaultdict
from datetime import datetime

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from personal_tokens.models import PersonalAccessToken
from personal_tokens.notifications import EXPIRED, EXPIRING, Notice, due_tokens
from tokens_site.models import AccessLevel, Bot, Membership, Project
from tokens_site.tokens import EXPIRY_WARNING_DAYS

logger = logging.getLogger(__name__)

SUBJECTS = {
    EXPIRING.kind: f"Access tokens you manage will expire in {EXPIRY_WARNING_DAYS} days or less",
    EXPIRED.kind: "Access tokens you manage have expired",
}


def managers(source) -> list:
    """Who manages `source`'s access tokens: a project's Maintainers and Owners, a group's
    Owners, directly or through a group above; active people with an address."""
    if isinstance(source, Project):
        where = {"project": source}
        above, level = source.group.ancestor_ids, AccessLevel.MAINTAINER
    else:
        where = {"group": source}
        above, level = source.inherited_group_ids, AccessLevel.OWNER
    memberships = (
        Membership.objects.filter(**where) | Membership.objects.filter(group_id__in=above)
    ).filter(access_level__gte=level, user__is_active=True, user__bot__isnull=True)
    memberships = memberships.exclude(user__email="").select_related("user")
    return list({membership.user_id: membership.user for membership in memberships}.values())


def _settings_url(source) -> str:
    if isinstance(source, Project):
        path = reverse("access_tokens:project_settings", args=[source.full_path])
    else:
        path = reverse("access_tokens:group_settings", args=[source.full_path])
    return settings.EXTERNAL_URL + path


def _claim(notice: Notice, now: datetime) -> list[PersonalAccessToken]:
    with transaction.atomic():
        tokens = list(
            due_tokens(notice, now.date())
            .filter(user__bot__isnull=False)
            .select_for_update(of=("self",))
            .order_by("expires_at", "name")
        )
        PersonalAccessToken.objects.filter(pk__in=[token.pk for token in tokens]).update(
            **{notice.sent_field: now}
        )
    return tokens


def send_access_token_notices(notice: Notice, *, now: datetime | None = None) -> int:
    """Email the managers of every project or group with access tokens due for `notice`;
    returns how many emails were sent."""
    now = now or timezone.now()
    tokens = _claim(notice, now)
    bots = Bot.objects.filter(user_id__in=[token.user_id for token in tokens]).select_related(
        "project__group", "group"
    )
    source_of = {bot.user_id: bot.source for bot in bots}
    told: dict[int, list] = defaultdict(list)  # recipient id -> [(token, source, url)]
    people = {}
    for token in tokens:
        source = source_of[token.user_id]
        for person in managers(source):
            people[person.pk] = person
            told[person.pk].append((token, source, _settings_url(source)))
    sent = 0
    for person_id, items in told.items():
        person = people[person_id]
        context = {"user": person, "items": items, "warning_days": EXPIRY_WARNING_DAYS}
        template = f"access_tokens/email/{notice.kind}"
        message = EmailMultiAlternatives(
            subject=SUBJECTS[notice.kind],
            body=render_to_string(f"{template}.txt", context),
            to=[person.email],
        )
        message.attach_alternative(render_to_string(f"{template}.html", context), "text/html")
        try:
            message.send()
        except Exception:
            # The notice stays claimed: the others told about these tokens must not be told
            # twice. The failure is logged for an administrator to follow up.
            logger.exception("Could not email %s about expiring access tokens", person)
            continue
        sent += 1
    return sent
