"""`send_token_expiry_notifications`: 60, 30 and 7 days before expiry and on the day, for every
token kind, each notice once (also across concurrent runs), one email per person per run."""

import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes
from io import StringIO

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.core.management import call_command
from django.db import connection, transaction

from tests.factories import (
    GroupFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    make_access_token,
    make_deploy_token,
    make_personal_token,
)
from tests.processes import BASE_DIR, process_env
from tokens_site import expiry_notices
from tokens_site.models import AccessLevel, TokenExpiryNotice

MADE = datetime(2030, 1, 2, 9, 0, tzinfo=UTC)
EXPIRES = date(2030, 6, 1)  # 150 days after MADE: every stage applies


def run(at: datetime) -> str:
    out = StringIO()
    with time_machine.travel(at, tick=False):
        call_command("send_token_expiry_notifications", stdout=out)
    return out.getvalue()


def days_before(days: int, hour: int = 1) -> datetime:
    return datetime.combine(EXPIRES - timedelta(days=days), datetime.min.time()).replace(
        hour=hour, minute=5, tzinfo=UTC
    )


def by_recipient() -> dict:
    return {message.to[0]: message for message in mail.outbox}


@pytest.fixture
def team(db):
    """Olga owns the group tanuki; Max maintains its project api; Dev is a Developer."""
    olga = UserFactory(username="olga")
    max_ = UserFactory(username="max")
    dev = UserFactory(username="dev")
    group = GroupFactory(path="tanuki", owner=olga)
    project = ProjectFactory(path="api", group=group)
    MembershipFactory(user=max_, project=project, access_level=AccessLevel.MAINTAINER)
    MembershipFactory(user=dev, group=group, access_level=AccessLevel.DEVELOPER)
    return {"olga": olga, "max": max_, "dev": dev, "group": group, "project": project}


def make(kind: str, team, name: str, expires=EXPIRES, made=MADE):
    with time_machine.travel(made, tick=False):
        if kind == "personal":
            token, _ = make_personal_token(team["max"], name=name, expires_at=expires)
        elif kind == "deploy":
            token, _ = make_deploy_token(team["project"], name=name, expires_at=expires)
        elif kind == "group deploy":
            token, _ = make_deploy_token(team["group"], name=name, expires_at=expires)
        elif kind == "access":
            token, _ = make_access_token(
                team["project"], team["olga"], name=name, expires_at=expires
            )
        else:
            token, _ = make_access_token(team["group"], team["olga"], name=name, expires_at=expires)
    return token


# Who is told about each kind: the owner of a personal token; a project's Maintainers and
# Owners for its deploy and access tokens; a group's Owners for the group's.
TOLD = {
    "personal": ["max@example.com"],
    "deploy": ["max@example.com", "olga@example.com"],
    "group deploy": ["olga@example.com"],
    "access": ["max@example.com", "olga@example.com"],
    "group access": ["olga@example.com"],
}
PAGES = {
    "personal": "http://127.0.0.1:8000/-/user_settings/personal_access_tokens",
    "deploy": "http://127.0.0.1:8000/tanuki/api/-/settings/repository",
    "group deploy": "http://127.0.0.1:8000/groups/tanuki/-/settings/repository",
    "access": "http://127.0.0.1:8000/tanuki/api/-/settings/access_tokens",
    "group access": "http://127.0.0.1:8000/groups/tanuki/-/settings/access_tokens",
}


@pytest.mark.django_db
@pytest.mark.parametrize("kind", list(TOLD))
def test_each_stage_once_for_every_kind(team, kind):
    make(kind, team, "ci-token")
    schedule = [
        (61, []),
        (60, ["expires in 60 days"]),
        (60, []),  # the 02:00 run of the same day
        (59, []),
        (31, []),
        (30, ["expires in 30 days"]),
        (8, []),
        (7, ["expires in 7 days"]),
        (1, []),
        (0, ["expired today"]),
        (-1, []),
    ]
    for days, expected in schedule:
        mail.outbox.clear()
        run(days_before(days))
        assert sorted(m.to[0] for m in mail.outbox) == (TOLD[kind] if expected else []), days
        for message in mail.outbox:
            assert expected[0] in message.subject and "ci-token" in message.subject
            assert PAGES[kind] in message.body
            html, mimetype = message.alternatives[0]
            assert mimetype == "text/html" and "<strong>ci-token</strong>" in html


@pytest.mark.django_db
def test_one_email_per_person_per_run_lists_every_kind(team):
    for kind in TOLD:
        make(kind, team, f"{kind} token")
    make("personal", team, "later", expires=EXPIRES + timedelta(days=20))
    out = run(days_before(7))
    told = by_recipient()
    assert sorted(told) == ["max@example.com", "olga@example.com"]
    assert told["olga@example.com"].subject == "4 tokens you own or manage: 4 expire within 7 days"
    assert told["max@example.com"].subject == (
        "4 tokens you own or manage: 4 expire within 30 days"
    )
    for kind, recipients in TOLD.items():
        for address in recipients:
            assert f"{kind} token" in told[address].body
            assert PAGES[kind] in told[address].body
    assert "Deploy token group deploy token of tanuki (scopes: read_repository)" in (
        told["olga@example.com"].body
    )
    assert "Sent 2 email(s); tokens told about: 1 within 30 days, 5 within 7 days." in out


@pytest.mark.django_db
def test_a_30_day_token_is_warned_7_days_before_and_on_the_day(team):
    made = datetime(2030, 5, 2, 9, 0, tzinfo=UTC)  # 30 days before EXPIRES
    make("personal", team, "short", made=made)
    for days in range(30, 7, -1):
        run(days_before(days))
    assert mail.outbox == []
    run(days_before(7))
    run(days_before(0))
    assert [m.subject for m in mail.outbox] == [
        "Personal access token 'short' expires in 7 days",
        "Personal access token 'short' expired today",
    ]


@pytest.mark.django_db
def test_a_run_after_missed_stages_sends_only_the_current_one(team):
    make("deploy", team, "deploy")
    run(days_before(5))  # the cron was down from 60 days before until now
    assert sorted(by_recipient()) == ["max@example.com", "olga@example.com"]
    assert all("expires in 5 days" in m.subject for m in mail.outbox)
    mail.outbox.clear()
    for days in (4, 3, 2, 1):
        run(days_before(days))
    assert mail.outbox == []


@pytest.mark.django_db
def test_who_is_never_told(team):
    revoked = make("personal", team, "revoked")
    revoked.revoke_once()
    for user in [UserFactory(is_active=False), UserFactory(email="")]:
        with time_machine.travel(MADE, tick=False):
            make_personal_token(user, name="nobody", expires_at=EXPIRES)
    owner_without_address = UserFactory(email="")
    lonely = ProjectFactory(
        path="lonely", group=GroupFactory(path="empty", owner=owner_without_address)
    )
    with time_machine.travel(MADE, tick=False):
        make_deploy_token(lonely, name="no managers", expires_at=EXPIRES)
    run(days_before(7))
    assert mail.outbox == []
    # Bots and Developers are not told; nothing is left pending for the tokens no one can be
    # told about (no retry every run), except that the revoked one is never claimed.
    make("access", team, "ci")
    run(days_before(7, hour=2))
    assert sorted(by_recipient()) == ["max@example.com", "olga@example.com"]
    assert not TokenExpiryNotice.objects.filter(token_id=revoked.pk, kind="personal").exists()


@pytest.mark.django_db
def test_a_failed_email_is_retried_by_the_next_run(team, monkeypatch):
    make("group deploy", team, "gd")

    def refuse(self, *args, **kwargs):
        raise ConnectionRefusedError("mail server down")

    monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", refuse)
    assert "Sent 0 email(s)." in run(days_before(7))
    assert not TokenExpiryNotice.objects.exists()
    monkeypatch.undo()
    assert "Sent 1 email(s)" in run(days_before(7, hour=2))
    assert [m.to for m in mail.outbox] == [["olga@example.com"]]
    run(days_before(6))
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_a_token_someone_was_told_about_stays_told(team, monkeypatch):
    make("deploy", team, "d")
    real_send = mail.EmailMultiAlternatives.send

    def refuse_olga(self, *args, **kwargs):
        if self.to == ["olga@example.com"]:
            raise ConnectionRefusedError("mailbox full")
        return real_send(self, *args, **kwargs)

    monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", refuse_olga)
    assert "Sent 1 email(s)" in run(days_before(7))
    monkeypatch.undo()
    run(days_before(7, hour=2))
    assert [m.to for m in mail.outbox] == [["max@example.com"]]


@pytest.mark.django_db
def test_plain_text_is_not_escaped_and_html_is(team):
    owner = UserFactory(first_name="Seán", last_name="O'Brien & <Co>")
    with time_machine.travel(MADE, tick=False):
        make_personal_token(owner, name="it's <mine> & ours", expires_at=EXPIRES)
    run(days_before(7))
    [message] = mail.outbox
    assert "Hi Seán O'Brien & <Co>," in message.body
    assert "- Personal access token it's <mine> & ours (scopes: api) expires in 7 days" in (
        message.body
    )
    assert "&amp;" not in message.body and "&#x27;" not in message.body
    html, _ = message.alternatives[0]
    assert "O&#x27;Brien &amp; &lt;Co&gt;" in html and "<Co>" not in html


@pytest.mark.django_db
def test_managers_are_read_once_per_project_or_group(team, django_assert_num_queries):
    for n in range(2):
        make("deploy", team, f"d{n}")
        make("access", team, f"a{n}")
    with time_machine.travel(days_before(7), tick=False), django_assert_num_queries(10) as few:
        expiry_notices.send_expiry_notices()
    mail.outbox.clear()
    TokenExpiryNotice.objects.all().delete()
    for n in range(2, 8):
        make("deploy", team, f"d{n}")
        make("access", team, f"a{n}")
    same = django_assert_num_queries(len(few.captured_queries))
    with time_machine.travel(days_before(7), tick=False), same:
        expiry_notices.send_expiry_notices()
    assert all("a7" in m.body and "d7" in m.body for m in mail.outbox)


@pytest.mark.django_db
def test_old_notices_are_forgotten(team):
    make("personal", team, "p")
    run(days_before(7))
    assert TokenExpiryNotice.objects.count() == 1
    run(days_before(-70))
    assert TokenExpiryNotice.objects.count() == 0


@pytest.mark.django_db
def test_each_token_is_due_for_the_tightest_stage_that_holds_it(team):
    today = MADE.date() + timedelta(days=100)
    distances = (-1, 0, 1, 7, 8, 30, 31, 60, 61)
    for days in distances:
        make("personal", team, f"in {days}", expires=today + timedelta(days=days))
    personal = expiry_notices.kind("personal")
    due = {token.name: stage for token, stage in expiry_notices._due(personal, today)}
    assert due == {
        "in 0": 0,
        "in 1": 7,
        "in 7": 7,
        "in 8": 30,
        "in 30": 30,
        "in 31": 60,
        "in 60": 60,
    }


@pytest.mark.django_db(transaction=True)
def test_three_concurrent_runs_send_each_notice_exactly_once(tmp_path):
    """Three copies of the command at once (as from several hosts' crons), for every kind:
    each person gets exactly one email, listing each of their tokens once."""
    soon = datetime.now(UTC).date() + timedelta(days=2)
    people = [UserFactory(username=f"owner{n}") for n in range(8)]
    expected = {}
    for n, person in enumerate(people):
        group = GroupFactory(path=f"g{n}", owner=person)
        project = ProjectFactory(path="p", group=group)
        make_personal_token(person, name=f"pat{n}", expires_at=soon)
        make_deploy_token(project, name=f"deploy{n}", expires_at=soon)
        make_deploy_token(group, name=f"gdeploy{n}", expires_at=soon)
        make_access_token(project, person, name=f"access{n}", expires_at=soon)
        expected[person.email] = {f"pat{n}", f"deploy{n}", f"gdeploy{n}", f"access{n}"}
    mail_dir = tmp_path / "mail"
    env = process_env(EMAIL_URL=f"filemail:///{mail_dir}")  # django-environ: 4 slashes, absolute
    runs = [
        subprocess.Popen(
            [sys.executable, "manage.py", "send_token_expiry_notifications"],
            cwd=BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(3)
    ]
    for process in runs:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err.decode()
    messages = []
    for path in mail_dir.iterdir():
        for chunk in path.read_bytes().split(b"-" * 79):
            if chunk.strip():
                messages.append(message_from_bytes(chunk.strip()))
    assert sorted(message["To"] for message in messages) == sorted(expected)
    for message in messages:
        body = message.get_payload()[0].get_payload(decode=True).decode()
        listed = {
            name
            for name in expected[message["To"]]
            if f" {name} of" in body or f" {name} (" in body
        }
        assert listed == expected[message["To"]], body
    assert TokenExpiryNotice.objects.count() == 4 * len(people)


def waiting_for_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


@pytest.mark.skipif(
    "postgresql" not in settings.DATABASES["default"]["ENGINE"],
    reason="holds an uncommitted claim across two connections: PostgreSQL",
)
@pytest.mark.django_db(transaction=True)
def test_a_run_sends_nothing_for_notices_another_run_is_claiming(team):
    """Run A has claimed the notices and not committed yet; run B, started meanwhile, waits
    for A's claim and then sends nothing."""
    for n in range(3):
        make("personal", team, f"t{n}")
    now = days_before(7)
    claimed, release = threading.Event(), threading.Event()
    held, second_run, errors = [], [], []

    def first_run() -> None:
        try:
            with transaction.atomic():
                personal = expiry_notices.kind("personal")
                today = now.date()
                due = [
                    (personal, token, stage)
                    for token, stage in expiry_notices._due(personal, today)
                ]
                held.extend(expiry_notices._claim(uuid.uuid4(), due, now))
                claimed.set()
                release.wait(timeout=30)
        except Exception as error:  # reported by the test, not lost in the thread
            errors.append(error)
        finally:
            claimed.set()
            connection.close()

    def second() -> None:
        try:
            second_run.append(expiry_notices.send_expiry_notices(now=now).emails)
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    a = threading.Thread(target=first_run)
    a.start()
    assert claimed.wait(timeout=10)
    b = threading.Thread(target=second)
    b.start()
    deadline = time.monotonic() + 10
    while b.is_alive() and not waiting_for_a_lock() and time.monotonic() < deadline:
        time.sleep(0.02)
    release.set()
    a.join(timeout=30)
    b.join(timeout=30)
    assert errors == []
    assert len(held) == 3
    assert second_run == [0] and mail.outbox == []
