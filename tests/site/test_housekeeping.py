"""`manage.py housekeeping`: quarantine directories left by interrupted pushes, and the expired
rows of the failed-authentication ban."""

import os
import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.factories import ProjectFactory
from tests.processes import manage
from tokens_site.git_http.housekeeping import stale_quarantines
from tokens_site.models.security import AddressBan, FailedAuthCounter, FormKeyClaim

HOUR = 3600


def run(*args) -> str:
    out = StringIO()
    call_command("housekeeping", *args, stdout=out)
    return out.getvalue()


def make_quarantine(repository, name: str, *, age_seconds: int, file_age_seconds=None):
    """A quarantine directory as receive-pack leaves it (a loose object and pack/), last
    changed `age_seconds` ago (its object `file_age_seconds` ago, when given)."""
    quarantine = repository / "objects" / f"tmp_objdir-incoming-{name}"
    (quarantine / "pack").mkdir(parents=True)
    (quarantine / "ab").mkdir()
    loose = quarantine / "ab" / "cdef0123"
    loose.write_bytes(os.urandom(1024))
    now = time.time()
    for path in (quarantine / "pack", quarantine / "ab", quarantine):
        os.utime(path, (now - age_seconds, now - age_seconds))
    file_age = age_seconds if file_age_seconds is None else file_age_seconds
    os.utime(loose, (now - file_age, now - file_age))
    return quarantine


@pytest.fixture
def repository(db):
    return ProjectFactory().repository_path


def test_removes_quarantines_untouched_for_an_hour(repository):
    old = make_quarantine(repository, "old", age_seconds=2 * HOUR)
    fresh = make_quarantine(repository, "fresh", age_seconds=60)
    # A push still receiving: the directory is old, the object being written is not.
    writing = make_quarantine(repository, "writing", age_seconds=2 * HOUR, file_age_seconds=1)
    out = run()
    assert not old.exists()
    assert fresh.exists() and writing.exists()
    assert f"Removed {old}\n" in out
    assert "Quarantine directories removed: 1." in out
    assert (repository / "objects" / "pack").is_dir()  # the repository itself is untouched


def test_dry_run_lists_without_removing(repository):
    old = make_quarantine(repository, "old", age_seconds=2 * HOUR)
    out = run("--dry-run")
    assert old.exists()
    assert out == (
        f"Would remove {old}\nQuarantine directories to remove: 1 (dry run).\n"
        "Git cache entries to remove: 0 (dry run).\n"
    )


def test_finds_quarantines_of_every_repository(settings, db):
    first, second = ProjectFactory().repository_path, ProjectFactory().repository_path
    old = [make_quarantine(path, "old", age_seconds=2 * HOUR) for path in (first, second)]
    assert stale_quarantines(settings.REPOSITORIES_ROOT) == sorted(old)
    assert stale_quarantines(settings.REPOSITORIES_ROOT, max_age_seconds=3 * HOUR) == []


def test_purges_ended_bans_and_counters_older_than_an_hour(db):
    now = timezone.now()
    AddressBan.objects.create(
        ip_address="192.0.2.1", expires_at=now - timedelta(minutes=1), failures=30
    )
    AddressBan.objects.create(
        ip_address="192.0.2.2", expires_at=now + timedelta(hours=1), failures=30
    )
    for address, last in (("192.0.2.3", timedelta(hours=2)), ("192.0.2.4", timedelta(minutes=30))):
        FailedAuthCounter.objects.create(
            ip_address=address,
            period_seconds=180,
            window_index=0,
            failures=3,
            last_failed_at=now - last,
        )
    FormKeyClaim.objects.create(once_key="used", expires_at=now - timedelta(minutes=1))
    out = run()
    assert "Expired bans, failure counters and form keys purged: 3." in out
    assert not FormKeyClaim.objects.exists()
    assert list(AddressBan.objects.values_list("ip_address", flat=True)) == ["192.0.2.2"]
    assert list(FailedAuthCounter.objects.values_list("ip_address", flat=True)) == ["192.0.2.4"]


def test_the_command_exits_0_as_cron_runs_it(transactional_db, settings):
    repository = ProjectFactory().repository_path
    old = make_quarantine(repository, "old", age_seconds=2 * HOUR)
    result = manage("housekeeping")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Removed {old}\nQuarantine directories removed: 1.\n")
    assert not old.exists()
