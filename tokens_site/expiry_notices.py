"""Expiry notices for every token kind: 60, 30 and 7 days before a token expires and on the day,
each once, to the people who own or manage it, in one email per person per run that lists each
token with a link to the page that rotates it.

A token kind plugs in with a `NoticeKind` (`register()`, from its app's `ready()`): which of its
tokens may be told about, and who is told about each. Personal access tokens tell their owner;
project and group access tokens and deploy tokens tell the people who may manage them there.

- **Stages.** A token expiring in d days is due for the tightest stage that holds it: 60 for
  31 to 60, 30 for 8 to 30, 7 for 1 to 7, and 0 on its expiry date. A run that finds a token
  past a stage it missed (cron stopped for a while) sends only the current one. The 60- and
  30-day warnings are skipped for a token made with no more time than that: its maker chose
  the date moments ago (a 30-day token is warned 7 days before and on the day).
- **Exactly once.** A run claims each due notice by inserting its row (TokenExpiryNotice, unique
  per kind, token and stage, marked with the run's id) and sends only the notices whose insert
  took, so runs at the same time, on one host or several, never send one twice.
- **Retried.** When a person's email fails, the notices of the tokens no one could be told
  about are given back (their rows deleted) for the next run.
"""

import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.db.models import (
    Case,
    Exists,
    IntegerField,
    OuterRef,
    QuerySet,
    Value,
    When,
    prefetch_related_objects,
)
from django.utils import timezone, translation
from django.utils.translation import gettext, gettext_noop, ngettext

from tokens_site.access.abilities import Ability
from tokens_site.access.policy import members_who_may
from tokens_site.language import email_language
from tokens_site.mail import email_user
from tokens_site.models import TokenExpiryNotice

STAGES = (60, 30, 7, 0)  # days before expiry; 0 is the expiry date itself
EARLY_STAGES = (60, 30)  # not sent for a token made with no more time than that
# A notice row is needed until its token's expiry date has passed: at most 60 days after it
# was sent. Older rows are deleted by each run.
KEEP_NOTICES_DAYS = max(STAGES) + 2
# The kinds' nouns (NoticeKind.noun, given by each kind's app, plain or lazy), in the
# catalogues whatever their app does: an email translates them into its recipient's language
# as it is written (Item.noun).
NOUNS = (
    gettext_noop("personal access token"),
    gettext_noop("access token"),
    gettext_noop("deploy token"),
)


@dataclass(frozen=True)
class Addressees:
    """Who is told about one token, where it lives ("tanuki/api"; "" for a personal one),
    and the page that rotates it."""

    people: list
    where: str
    url: str


@dataclass(frozen=True)
class NoticeKind:
    label: str  # stored with each notice: never change it
    noun: str  # "deploy token"
    # The kind's tokens that may be told about (the run narrows them to the due ones).
    tokens: Callable[[], QuerySet]
    # For a list of due tokens: each one's Addressees, by token id (read in bulk).
    addressees: Callable[[list], dict[int, Addressees]]


_KINDS: dict[str, NoticeKind] = {}


def register(kind: NoticeKind) -> None:
    _KINDS[kind.label] = kind


def kinds() -> list[NoticeKind]:
    return list(_KINDS.values())


def kind(label: str) -> NoticeKind:
    return _KINDS[label]


def managers_by_source(
    tokens: list, *, source_of: Callable, ability: Ability, page: Callable[[object], str]
) -> dict[int, Addressees]:
    """Addressees for the tokens of a kind that belongs to a project or group: the people who
    may do `ability` there (read once per project or group, however many tokens), and the
    page that rotates them (`page(source)`, a path)."""
    of_source: dict[tuple, Addressees] = {}
    result = {}
    for token in tokens:
        source = source_of(token)
        if source is None:
            continue
        key = (type(source), source.pk)
        if key not in of_source:
            of_source[key] = Addressees(
                people=members_who_may(ability, source),
                where=source.full_path,
                url=settings.EXTERNAL_URL + page(source),
            )
        result[token.pk] = of_source[key]
    return result


@dataclass
class Item:
    """One token in one email."""

    kind: NoticeKind
    token: object
    stage: int
    days_left: int
    where: str = ""
    url: str = ""

    @property
    def expired(self) -> bool:
        return self.stage == 0

    @property
    def noun(self) -> str:
        """The kind's noun in the current language ("deploy token")."""
        return gettext(str(self.kind.noun))


@dataclass
class RunResult:
    emails: int = 0
    by_stage: dict[int, int] = field(default_factory=lambda: defaultdict(int))

    def summary(self) -> str:
        parts = [
            gettext("%(count)d expired today") % {"count": count}
            if stage == 0
            else gettext("%(count)d within %(days)d days") % {"count": count, "days": stage}
            for stage, count in sorted(self.by_stage.items(), reverse=True)
        ]
        if not parts:
            return gettext("Sent %(count)d email(s).") % {"count": self.emails}
        return gettext("Sent %(count)d email(s); tokens told about: %(counts)s.") % {
            "count": self.emails,
            "counts": ", ".join(parts),
        }


def _due(kind: NoticeKind, today: date) -> list[tuple[object, int]]:
    """(token, stage) for each token of `kind` due for a notice today: active, within 60 days
    of expiry, not yet told at its stage or a later one."""
    # The tightest stage that holds the expiry date (the query keeps 0 to 60 days ahead).
    stage = Case(
        *(
            When(expires_at__lte=today + timedelta(days=days), then=Value(days))
            for days in sorted(STAGES)
        ),
        output_field=IntegerField(),
    )
    told = TokenExpiryNotice.objects.filter(
        kind=kind.label, token_id=OuterRef("pk"), days__lte=OuterRef("notice_stage")
    )
    tokens = (
        kind.tokens()
        .filter(
            revoked=False,
            works_until__isnull=True,  # a rotated token's successor is told about instead
            expires_at__gte=today,
            expires_at__lte=today + timedelta(days=max(STAGES)),
        )
        .annotate(notice_stage=stage)
        .exclude(Exists(told))
        .order_by("expires_at", "name", "pk")
    )
    return [(token, token.notice_stage) for token in tokens]


def _skipped(token, stage: int) -> bool:
    """An early warning for a token made with no more time than the warning's lead."""
    made = token.created_at.astimezone(UTC).date()
    return stage in EARLY_STAGES and (token.expires_at - made).days <= stage


def _claim(run: uuid.UUID, due: list[tuple[NoticeKind, object, int]], now) -> set:
    """Insert a notice row for each due (kind, token, stage); those whose insert took belong
    to this run: (kind label, token id, stage)."""
    TokenExpiryNotice.objects.bulk_create(
        [
            TokenExpiryNotice(kind=each.label, token_id=token.pk, days=stage, run=run, sent_at=now)
            for each, token, stage in due
        ],
        ignore_conflicts=True,
        batch_size=500,
    )
    return set(TokenExpiryNotice.objects.filter(run=run).values_list("kind", "token_id", "days"))


def _subject(items: list[Item]) -> str:
    """In the current language (the recipient's)."""
    if len(items) == 1:
        [item] = items
        values = {
            "noun": item.noun.capitalize(),
            "name": item.token.name,
            "where": item.where,
            "days": item.days_left,
        }
        if item.expired and item.where:
            return gettext("%(noun)s '%(name)s' of %(where)s expired today") % values
        if item.expired:
            return gettext("%(noun)s '%(name)s' expired today") % values
        if item.where:
            return (
                ngettext(
                    "%(noun)s '%(name)s' of %(where)s expires in %(days)d day",
                    "%(noun)s '%(name)s' of %(where)s expires in %(days)d days",
                    item.days_left,
                )
                % values
            )
        return (
            ngettext(
                "%(noun)s '%(name)s' expires in %(days)d day",
                "%(noun)s '%(name)s' expires in %(days)d days",
                item.days_left,
            )
            % values
        )
    expired = sum(item.expired for item in items)
    expiring = [item for item in items if not item.expired]
    parts = []
    if expiring:
        within = max(item.stage for item in expiring)
        parts.append(
            ngettext(
                "%(count)d expires within %(days)d days",
                "%(count)d expire within %(days)d days",
                len(expiring),
            )
            % {"count": len(expiring), "days": within}
        )
    if expired:
        parts.append(gettext("%(count)d expired today") % {"count": expired})
    return ngettext(
        "%(count)d token you own or manage: %(counts)s",
        "%(count)d tokens you own or manage: %(counts)s",
        len(items),
    ) % {"count": len(items), "counts": ", ".join(parts)}


def send_expiry_notices(*, now: datetime | None = None) -> RunResult:
    """One run: claim every kind's due notices, email each person once about all their
    tokens, give back what could not be told."""
    now = now or timezone.now()
    today = now.astimezone(UTC).date()
    run = uuid.uuid4()
    TokenExpiryNotice.objects.filter(sent_at__lt=now - timedelta(days=KEEP_NOTICES_DAYS)).delete()
    due = {each: _due(each, today) for each in kinds()}
    won = _claim(run, [(k, t, stage) for k, pairs in due.items() for t, stage in pairs], now)
    items_of: dict[int, list[Item]] = defaultdict(list)  # person id -> their items
    people = {}
    told_tokens: dict[tuple[str, int], Item] = {}
    for each, pairs in due.items():
        mine = [
            (token, stage)
            for token, stage in pairs
            if (each.label, token.pk, stage) in won and not _skipped(token, stage)
        ]
        if not mine:
            continue
        addressees = each.addressees([token for token, _ in mine])
        for token, stage in mine:
            to = addressees.get(token.pk)
            if to is None or not to.people:
                continue  # no one to tell: the notice stays settled
            item = Item(each, token, stage, (token.expires_at - today).days, to.where, to.url)
            told_tokens[(each.label, token.pk)] = item
            for person in to.people:
                people[person.pk] = person
                items_of[person.pk].append(item)
    result, reached = RunResult(), set()
    # Each email is in its recipient's language (tokens_site.mail): read for all at once.
    prefetch_related_objects(list(people.values()), "preferences")
    for person_id, items in items_of.items():
        person = people[person_id]
        context = {"items": items, "site_url": settings.EXTERNAL_URL}
        with translation.override(email_language(person)):
            sent = email_user(
                person,
                subject=_subject(items),
                template="tokens_site/email/token_expiry",
                context=context,
            )
        if not sent:  # logged by email_user
            continue
        result.emails += 1
        reached.update((item.kind.label, item.token.pk) for item in items)
    for key, item in told_tokens.items():
        if key in reached:
            result.by_stage[item.stage] += 1
    # A token no one could be told about is given back, for the next run to retry.
    given_back = defaultdict(list)
    for label, token_id in told_tokens.keys() - reached:
        given_back[label].append(token_id)
    for label, token_ids in given_back.items():
        TokenExpiryNotice.objects.filter(run=run, kind=label, token_id__in=token_ids).delete()
    return result
