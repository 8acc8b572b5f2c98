"""`send_token_expiry_notifications`: once per notice, one email per user, safe to run at once."""

import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from io import StringIO

import pytest
import time_machine
from django.conf import settings
from django.core import mail
from django.core.management import call_command
from django.db import connection, transaction

from personal_tokens.models import PersonalAccessToken
from personal_tokens.notifications import EXPIRED, EXPIRING, _claim, send_notices, user_ids_due
from tests.factories import UserFactory, make_personal_token
from tests.processes import BASE_DIR, process_env
from tokens_site.tokens import utc_today

TODAY = datetime(2030, 3, 10, 1, 5, tzinfo=UTC)  # the 01:00 UTC cron run


def run_command() -> str:
    out = StringIO()
    call_command("send_token_expiry_notifications", stdout=out)
    return out.getvalue()


def make_token_expiring(user, days_from_today: int, name: str, created=datetime(2030, 1, 1)):
    with time_machine.travel(created.replace(tzinfo=UTC), tick=False):
        token, _ = make_personal_token(
            user, name=name, expires_at=TODAY.date() + timedelta(days=days_from_today)
        )
    return token


@pytest.mark.django_db
class TestWhoIsTold:
    def test_seven_day_window_and_expired_today(self):
        alice = UserFactory(username="alice")
        for days in (0, 1, 7, 8, 30):
            make_token_expiring(alice, days, f"in-{days}")
        with time_machine.travel(TODAY, tick=False):
            out = run_command()
        assert (
            "Sent 1 email(s) about tokens expiring soon and 1 about tokens that expired today"
            in out
        )
        expiring, expired = mail.outbox
        assert expiring.to == ["alice@example.com"]
        assert expiring.subject == "Your personal access tokens will expire in 7 days or less"
        assert "in-1" in expiring.body and "in-7" in expiring.body
        assert "in-8" not in expiring.body and "in-0" not in expiring.body
        assert expired.subject == "Your personal access tokens have expired"
        assert "in-0" in expired.body and "in-1" not in expired.body

    def test_one_email_per_user_with_text_and_html(self):
        bob, carol = UserFactory(username="bob"), UserFactory(username="carol")
        for name in ("b1", "b2", "b3"):
            make_token_expiring(bob, 3, name)
        make_token_expiring(carol, 5, "c1")
        with time_machine.travel(TODAY, tick=False):
            run_command()
        assert sorted(message.to[0] for message in mail.outbox) == [
            "bob@example.com",
            "carol@example.com",
        ]
        to_bob = next(message for message in mail.outbox if message.to == ["bob@example.com"])
        assert all(name in to_bob.body for name in ("b1", "b2", "b3"))
        html, mimetype = to_bob.alternatives[0]
        assert mimetype == "text/html" and "<strong>b2</strong>" in html
        assert "http://127.0.0.1:8000/-/user_settings/personal_access_tokens" in to_bob.body

    def test_revoked_blocked_and_address_less_owners_are_not_told(self):
        revoked = make_token_expiring(UserFactory(), 2, "revoked")
        PersonalAccessToken.objects.filter(pk=revoked.pk).update(revoked=True)
        make_token_expiring(UserFactory(is_active=False), 2, "blocked")
        make_token_expiring(UserFactory(email=""), 2, "no-address")
        with time_machine.travel(TODAY, tick=False):
            run_command()
        assert mail.outbox == []

    def test_repeated_runs_never_send_the_same_notice_twice(self):
        dave = UserFactory()
        make_token_expiring(dave, 2, "d1")
        with time_machine.travel(TODAY, tick=False):
            run_command()
        with time_machine.travel(TODAY + timedelta(hours=1), tick=False):  # the 02:00 run
            run_command()
        with time_machine.travel(TODAY + timedelta(days=1), tick=False):
            run_command()
        assert len(mail.outbox) == 1
        # A token added later is told about in the next run, alone.
        make_token_expiring(dave, 4, "d2")
        with time_machine.travel(TODAY + timedelta(days=1, hours=1), tick=False):
            run_command()
        assert (
            len(mail.outbox) == 2
            and "d2" in mail.outbox[1].body
            and "d1" not in mail.outbox[1].body
        )

    def test_expired_today_boundary_at_midnight_utc(self):
        erin = UserFactory()
        make_token_expiring(erin, 0, "e1")  # expires_at = 2030-03-10
        just_before = datetime(2030, 3, 9, 23, 59, 59, tzinfo=UTC)
        with time_machine.travel(just_before, tick=False):
            run_command()
        assert [m.subject for m in mail.outbox] == [
            "Your personal access tokens will expire in 7 days or less"
        ]
        with time_machine.travel(datetime(2030, 3, 10, 0, 0, 0, tzinfo=UTC), tick=False):
            run_command()
        assert mail.outbox[-1].subject == "Your personal access tokens have expired"
        with time_machine.travel(datetime(2030, 3, 11, 2, 0, tzinfo=UTC), tick=False):
            run_command()
        assert len(mail.outbox) == 2

    def test_a_user_with_several_due_tokens_is_listed_once(self):
        """One claim and one email per user, however many tokens they have due."""
        frank, gina = UserFactory(), UserFactory()
        for name in ("f1", "f2", "f3"):
            make_token_expiring(frank, 3, name)
            make_token_expiring(gina, 0, name)
        make_token_expiring(gina, 3, "g1")
        assert sorted(user_ids_due(EXPIRING, TODAY.date())) == sorted([frank.pk, gina.pk])
        assert user_ids_due(EXPIRED, TODAY.date()) == [gina.pk]

    def test_plain_text_mail_is_not_html_escaped(self):
        owner = UserFactory(first_name="Seán", last_name="O'Brien & <Co>")
        make_token_expiring(owner, 3, "it's <mine> & ours")
        make_token_expiring(owner, 0, 'old "one" & <done>')
        with time_machine.travel(TODAY, tick=False):
            run_command()
        expiring, expired = mail.outbox
        for message, token_name in [
            (expiring, "it's <mine> & ours"),
            (expired, 'old "one" & <done>'),
        ]:
            assert "Hi Seán O'Brien & <Co>," in message.body
            assert f"- {token_name} (scopes: api)" in message.body
            assert "&amp;" not in message.body and "&#x27;" not in message.body
            html, _ = message.alternatives[0]
            assert "O&#x27;Brien &amp; &lt;Co&gt;" in html and "<Co>" not in html

    def test_a_failed_email_is_retried_by_the_next_run(self, monkeypatch):
        make_token_expiring(UserFactory(), 2, "f1")

        def refuse(self, *args, **kwargs):
            raise ConnectionRefusedError("mail server down")

        with time_machine.travel(TODAY, tick=False):
            monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", refuse)
            assert "Sent 0 email(s)" in run_command()
            monkeypatch.undo()
            assert "Sent 1 email(s)" in run_command()
        assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_send_each_notice_exactly_once(tmp_path):
    """Three copies of the command at once (as from several hosts' crons): every user gets
    exactly one email per notice."""
    users = [UserFactory(username=f"owner{n}") for n in range(12)]
    for user in users:
        for n in range(3):
            make_personal_token(user, name=f"t{n}", expires_at=utc_today() + timedelta(days=2))
        make_personal_token(user, name="gone", expires_at=utc_today() + timedelta(days=1))
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
    for run in runs:
        _, err = run.communicate(timeout=120)
        assert run.returncode == 0, err.decode()
    messages = []
    for path in mail_dir.iterdir():
        for chunk in path.read_bytes().split(b"-" * 79):
            if chunk.strip():
                messages.append(message_from_bytes(chunk.strip()))
    recipients = sorted(message["To"] for message in messages)
    assert recipients == sorted(f"owner{n}@example.com" for n in range(12))
    assert PersonalAccessToken.objects.filter(expiry_warning_sent_at__isnull=True).count() == 0


def waiting_for_a_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return cursor.fetchone()[0] > 0


@pytest.mark.skipif(
    "postgresql" not in settings.DATABASES["default"]["ENGINE"],
    reason="holds row locks across two connections: PostgreSQL (SQLite serializes writers)",
)
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("notice", "days"), [(EXPIRING, 2), (EXPIRED, 0)], ids=["expiring", "expired"]
)
def test_a_run_sends_nothing_for_tokens_another_run_is_claiming(notice, days):
    """Run A has claimed a user's tokens and not committed yet; run B, started meanwhile, must
    not tell that user again, neither before nor after A commits."""
    user = UserFactory()
    for n in range(3):
        make_token_expiring(user, days, f"t{n}")
    claimed, release = threading.Event(), threading.Event()
    held, second_run_sent, errors = [], [], []

    def first_run() -> None:
        try:
            with transaction.atomic():
                held.extend(_claim(notice, user.pk, TODAY.date(), TODAY))
                claimed.set()
                release.wait(timeout=30)
        except Exception as error:  # reported by the test, not lost in the thread
            errors.append(error)
        finally:
            claimed.set()
            connection.close()

    def second_run() -> None:
        try:
            second_run_sent.append(send_notices(notice, now=TODAY))
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    a = threading.Thread(target=first_run)
    a.start()
    assert claimed.wait(timeout=10)
    b = threading.Thread(target=second_run)
    b.start()
    # Let B get as far as it can while A still holds its claim open: done, or waiting on A.
    deadline = time.monotonic() + 10
    while b.is_alive() and not waiting_for_a_lock() and time.monotonic() < deadline:
        time.sleep(0.02)
    release.set()
    a.join(timeout=30)
    b.join(timeout=30)
    assert errors == []
    assert [token.name for token in held] == ["t0", "t1", "t2"]
    assert second_run_sent == [0] and mail.outbox == []
    assert not PersonalAccessToken.objects.filter(**{f"{notice.sent_field}__isnull": True}).exists()
