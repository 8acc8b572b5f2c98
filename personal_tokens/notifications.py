"""Emails to owners of personal access tokens that expire within a week or expired today.

Each notice is sent once per token: a run claims the tokens it tells a user about in the same
transaction that reads them (rows locked on PostgreSQL; SQLite writers are serialized), so two
runs at once, on one host or several, never send the same notice twice. One email per user
lists all their tokens of that notice.
"""

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from personal_tokens.models import PersonalAccessToken
from tokens_site.tokens import EXPIRY_WARNING_DAYS

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notice:
    kind: str
    sent_field: str
    subject: str
    template: str

    def window(self, today: date) -> Q:
        if self.kind == "expiring":
            return Q(expires_at__gt=today, expires_at__lte=today + timedelta(EXPIRY_WARNING_DAYS))
        return Q(expires_at=today)


EXPIRING = Notice(
    kind="expiring",
    sent_field="expiry_warning_sent_at",
    subject=f"Your personal access tokens will expire in {EXPIRY_WARNING_DAYS} days or less",
    template="personal_tokens/email/expiring",
)
EXPIRED = Notice(
    kind="expired",
    sent_field="expired_notice_sent_at",
    subject="Your personal access tokens have expired",
    template="personal_tokens/email/expired",
)


def due_tokens(notice: Notice, today: date):
    """Every token, a person's or a bot's, not yet told about for `notice`."""
    return PersonalAccessToken.objects.filter(
        notice.window(today),
        revoked=False,
        user__is_active=True,
        **{f"{notice.sent_field}__isnull": True},
    )


def _due(notice: Notice, today: date):
    """A person's tokens due (a bot's go to its project's or group's managers:
    access_tokens.notifications)."""
    return due_tokens(notice, today).filter(user__bot__isnull=True).exclude(user__email="")


def _claim(notice: Notice, user_id: int, today: date, now: datetime) -> list[PersonalAccessToken]:
    with transaction.atomic():
        tokens = list(
            _due(notice, today)
            .filter(user_id=user_id)
            .select_for_update(of=("self",))
            .order_by("expires_at", "name")
        )
        PersonalAccessToken.objects.filter(pk__in=[token.pk for token in tokens]).update(
            **{notice.sent_field: now}
        )
    return tokens


def _send(notice: Notice, user, tokens: list[PersonalAccessToken]) -> None:
    context = {
        "user": user,
        "tokens": tokens,
        "settings_url": settings.EXTERNAL_URL + reverse("personal_tokens:index"),
        "warning_days": EXPIRY_WARNING_DAYS,
    }
    message = EmailMultiAlternatives(
        subject=notice.subject,
        body=render_to_string(f"{notice.template}.txt", context),
        to=[user.email],
    )
    message.attach_alternative(render_to_string(f"{notice.template}.html", context), "text/html")
    message.send()


def user_ids_due(notice: Notice, today: date) -> list[int]:
    """Each user with tokens due for `notice`, once. (Without order_by(), the model's default
    ordering would add its columns to the DISTINCT and repeat a user per token.)"""
    return list(
        _due(notice, today).order_by("user_id").values_list("user_id", flat=True).distinct()
    )


def send_notices(notice: Notice, *, now: datetime | None = None) -> int:
    """Email every user with tokens due for `notice`; returns how many emails were sent."""
    now = now or timezone.now()
    today = now.date()
    sent = 0
    user_ids = user_ids_due(notice, today)
    users = get_user_model().objects.in_bulk(user_ids)
    for user_id in user_ids:
        tokens = _claim(notice, user_id, today, now)
        if not tokens:
            continue  # another run told this user already
        try:
            _send(notice, users[user_id], tokens)
        except Exception:
            # Give the notice back, so the next run retries it.
            PersonalAccessToken.objects.filter(
                pk__in=[token.pk for token in tokens], **{notice.sent_field: now}
            ).update(**{notice.sent_field: None})
            logger.exception("Could not email %s about expiring tokens", users[user_id])
            continue
        sent += 1
    return sent
