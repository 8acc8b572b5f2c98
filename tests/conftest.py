import os
import shutil
import socket
import subprocess
import time

import pytest


@pytest.fixture(autouse=True)
def isolated_state(settings, tmp_path):
    """Each test gets its own directory of repositories (and of uploaded files), and reads the
    instance settings afresh: a test's changes roll back with its transaction, and no copy of
    them stays behind, in this process or in the shared cache."""
    from tokens_site.models import InstanceSettings

    settings.REPOSITORIES_ROOT = tmp_path / "repositories"
    settings.MEDIA_ROOT = tmp_path / "media"
    InstanceSettings.forget()
    yield
    InstanceSettings.forget()
    from django.core.cache import caches
    from django.core.cache.backends.db import DatabaseCache

    if not isinstance(caches["default"], DatabaseCache):  # which rolls back with the test
        caches["default"].delete(InstanceSettings.CACHE_KEY)


@pytest.fixture
def no_required_expiry(db):
    """The instance setting "require expiration dates" off: a token made without a date never
    expires (on, the default, it gets the longest allowed lifetime)."""
    from tokens_site.models import InstanceSettings

    instance = InstanceSettings.current()
    instance.require_token_expiry = False
    instance.save()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """A Redis for the tests of the site with REDIS_URL (a Redis cache): TOKENS_TEST_REDIS_URL
    when set; else a private `redis-server` started on a free port for this session (and
    stopped by its PID at the end), small and evicting like many a cache (4 MB, allkeys-lru);
    else the local one on the default port. Without any, the tests that need it are skipped,
    or fail under TOKENS_E2E_REQUIRED=1 (CI)."""
    import redis

    url = os.environ.get("TOKENS_TEST_REDIS_URL")
    process = None
    if url is None and shutil.which("redis-server"):
        port = _free_port()
        process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--maxmemory",
                "4mb",
                "--maxmemory-policy",
                "allkeys-lru",
                "--dir",
                str(tmp_path_factory.mktemp("redis")),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"redis://127.0.0.1:{port}/0"
    url = url or "redis://127.0.0.1:6379/0"
    client = redis.Redis.from_url(url)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.RedisError as error:
            if time.monotonic() > deadline:
                message = f"no Redis at {url} ({error}); install redis-server (README, Tests)"
                if os.environ.get("TOKENS_E2E_REQUIRED") == "1":
                    pytest.fail(message)
                pytest.skip(message)
            time.sleep(0.05)
    client.close()
    yield url
    if process is not None:
        process.terminate()
        process.wait(timeout=10)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pytest_sessionfinish(session, exitstatus):
    """Remove the run directory test_settings made for this run (test database, static)."""
    from django.conf import settings

    if getattr(settings, "TEST_RUN_DIR_CREATED", False):
        shutil.rmtree(settings.TEST_RUN_DIR, ignore_errors=True)


from tests.roles import world  # noqa: E402,F401  (the permission-matrix fixture)
