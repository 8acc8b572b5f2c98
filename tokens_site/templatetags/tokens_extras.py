from datetime import date, datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.timesince import timesince, timeuntil

from tokens_site.access.roles import role_name
from tokens_site.tokens import utc_today

register = template.Library()

DAYS_SHOWN_AS_DAYS = 60


@register.filter
def expires_in(value: date | None) -> str:
    """How soon a token expires, in words: "today", "tomorrow", "in 5 days", "in 3 months"."""
    if value is None:
        return ""
    days = (value - utc_today()).days
    if days < 0:
        return "expired"
    if days == 0:
        return "today"
    if days == 1:
        return "tomorrow"
    if days < DAYS_SHOWN_AS_DAYS:
        return f"in {days} days"
    return f"in {timeuntil(value, depth=1)}"


@register.filter
def time_ago(value: datetime | None) -> str:
    """How long ago, in words: "just now" within a minute, else "3 hours ago"."""
    if value is None:
        return ""
    if timezone.now() - value < timedelta(minutes=1):
        return "just now"
    return f"{timesince(value, depth=1)} ago"


@register.filter
def role(level: int | None) -> str:
    """A role's name: 40 is "Maintainer"."""
    return role_name(level or 0)


@register.filter
def expiring_soon(tokens) -> list:
    """The active tokens among `tokens` that expire within EXPIRY_WARNING_DAYS days, soonest
    first (the token pages' banner)."""
    soon = [token for token in tokens if token.is_active and token.expires_soon]
    return sorted(soon, key=lambda token: token.expires_at)
