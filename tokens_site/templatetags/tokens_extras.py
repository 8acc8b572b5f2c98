from datetime import date, datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import slugify
from django.utils.timesince import timesince, timeuntil
from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from tokens_site.access.roles import role_name
from tokens_site.tokens import utc_today

register = template.Library()

DAYS_SHOWN_AS_DAYS = 60


@register.filter
def expires_in(value: date | None) -> str:
    """How soon a token expires, in words (the current language's): "today", "tomorrow", "in 5
    days", "in 3 months"."""
    if value is None:
        return ""
    days = (value - utc_today()).days
    if days < 0:
        return pgettext("a token expires", "expired")
    if days == 0:
        return pgettext("a token expires", "today")
    if days == 1:
        return pgettext("a token expires", "tomorrow")
    if days < DAYS_SHOWN_AS_DAYS:
        return ngettext("in %(count)d day", "in %(count)d days", days) % {"count": days}
    # timeuntil is Django's, translated ("3 months").
    return pgettext("a token expires", "in %(time)s") % {"time": timeuntil(value, depth=1)}


@register.filter
def time_ago(value: datetime | None) -> str:
    """How long ago, in words (the current language's): "just now" within a minute, else "3
    hours ago" (timesince is Django's, translated)."""
    if value is None:
        return ""
    if timezone.now() - value < timedelta(minutes=1):
        return _("just now")
    return _("%(time)s ago") % {"time": timesince(value, depth=1)}


@register.filter
def role(level: int | None) -> str:
    """A role's name in the current language: 40 is "Maintainer"."""
    return role_name(level or 0)


@register.filter
def expiring_soon(tokens) -> list:
    """The active tokens among `tokens` that expire within EXPIRY_WARNING_DAYS days, soonest
    first (the token pages' banner)."""
    soon = [token for token in tokens if token.is_active and token.expires_soon]
    return sorted(soon, key=lambda token: token.expires_at)


@register.filter
def ellipsis(value) -> str:
    """A name or path that may be long: one line, cut with an ellipsis where it does not fit,
    the full text in its tooltip (issue 20)."""
    return format_html('<span class="ellipsis" title="{0}">{0}</span>', value)


@register.simple_block_tag(takes_context=True)
def confirm_dialog(
    context, content, *, opener, title, action, submit, danger=True, opener_danger=None, open=False
) -> str:
    """A confirmation for a destructive POST: a button `opener` that opens a modal <dialog>
    with `title`, the block's content (the explanation, and any fields the form needs), Cancel
    and the `submit` button posting to `action`. Modal: it sits above the page, outside any
    scroll box; focus moves into it and stays there; Escape, Cancel or a click outside close
    it and focus returns to the opener. It opens through the browser's invoker commands
    (`commandfor`), so no script is needed; site.js fills in where a browser lacks them.
    `open` shows it at once (a form with errors in it)."""
    template = context.template.engine.get_template("includes/confirm_dialog.html")
    values = {
        "dialog_id": f"dialog-{slugify(action)}",
        "content": content,
        "opener": opener,
        "title": title,
        "action": action,
        "submit": submit,
        "danger": danger,
        "opener_danger": danger if opener_danger is None else opener_danger,
        "open": open,
    }
    with context.push(values):
        return template.render(context)
