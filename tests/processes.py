"""Running the site's own programs (manage.py commands, servers) in other processes against the
test database, as users run them."""

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.db import connection

BASE_DIR = Path(__file__).resolve().parents[1]


def database_url() -> str:
    """The URL of the database this test run uses (the test database), for other processes."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    user = db["USER"] or ""
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def process_env(**extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tokens_site.test_settings",
        "DATABASE_URL": database_url(),
        "REPOSITORIES_ROOT": str(settings.REPOSITORIES_ROOT),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "PYTHONUNBUFFERED": "1",
        # A test changes instance settings and expects the next request to see it.
        "INSTANCE_SETTINGS_CACHE_SECONDS": "0",
        **extra,
    }


def manage(*args: str, stdin: str | None = None, **env: str) -> subprocess.CompletedProcess:
    """`python manage.py <args>` in a new process, given `stdin`; its output is text."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=process_env(**env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
