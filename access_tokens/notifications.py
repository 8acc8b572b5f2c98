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
from tokens_site.access.abilities import Ability, required_level
from tokens_site.models import Bot, Group, Membership, Project
from tokens_site.tokens import EXPIRY_WARNING_DAYS

logger = logging.getLogger(__name__)

SUBJECTS = {
    EXPIRING.kind: f"Access tokens you manage will expire in {EXPIRY_WARNING_DAYS} days or less",
    EXPIRED.kind: "Access tokens you manage have expired",
}


def managers(source) -> list:
    """Who manages `source`'s access tokens (the policy's MANAGE_ACCESS_TOKENS role: a
    project's Maintainers and Owners, a group's Owners), directly or through a group above;
    active people with an address."""
    level = required_level(Ability.MANAGE_ACCESS_TOKENS, on_group=isinstance(source, Group))
    people = Membership.objects.filter(user__is_active=True, user__bot__isnull=True).exclude(
        user__email=""
    )
    return [m.user for m in people.effective_on(source) if m.access_level >= level]


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
    people, managers_of = {}, {}
    for token in tokens:
        source = source_of[token.user_id]
        key = (type(source), source.pk)
        if key not in managers_of:  # once per project or group, however many tokens
            managers_of[key] = managers(source)
        for person in managers_of[key]:
            people[person.pk] = person
            told[person.pk].append((token, source, _settings_url(source)))
    sent, reached = 0, set()
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
            logger.exception("Could not email %s about expiring access tokens", person)
            continue
        sent += 1
        reached.update(token.pk for token, _, _ in items)
    # A token no one could be told about is given back, for the next run to retry (as a
    # personal token's notice is); one someone was told about stays told.
    PersonalAccessToken.objects.filter(
        pk__in=[token.pk for token in tokens if token.pk not in reached],
        **{notice.sent_field: now},
    ).update(**{notice.sent_field: None})
    return sent
