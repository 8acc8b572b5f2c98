"""The failed-authentication ban against the site under gunicorn (2 workers x 8 threads), hit
by 16 connections at once: the limit holds within `limit + workers x threads`, and once the
address is banned no request succeeds on any worker, with the site's cache in the database or
in Redis (REDIS_URL)."""

import base64
import http.client
import threading
import uuid
from collections import Counter
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import start_server, stop_server
from tests.factories import GroupFactory, ProjectFactory, make_deploy_token
from tokens_site.models import AuditAction, AuditEvent, InstanceSettings

pytestmark = pytest.mark.e2e

LIMIT = 30
WORKERS, THREADS = 2, 8  # tokens_site/gunicorn.conf.py's threads, start_server's workers
CONNECTIONS = 16
BURST = 200


def basic(username: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode()


def burst(server, path: str, authorization: str, total: int) -> Counter:
    """`total` GETs over CONNECTIONS keep-alive connections, all started at once."""
    address = urlsplit(server.url)
    statuses: Counter = Counter()
    lock = threading.Lock()
    barrier = threading.Barrier(CONNECTIONS)

    def client(count: int) -> None:
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
        barrier.wait()
        for _ in range(count):
            connection.request("GET", path, headers={"Authorization": authorization})
            response = connection.getresponse()
            response.read()
            with lock:
                statuses[response.status] += 1
            if response.getheader("Connection", "").lower() == "close":
                connection.close()
                connection = http.client.HTTPConnection(address.hostname, address.port)
        connection.close()

    share, extra = divmod(total, CONNECTIONS)
    threads = [
        threading.Thread(target=client, args=(share + (index < extra),))
        for index in range(CONNECTIONS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


@pytest.fixture(params=["database cache", "redis cache"])
def server(request, transactional_db, tmp_path):
    instance = InstanceSettings.current()
    instance.failed_auth_ban_limit = LIMIT
    instance.save()
    extra = {}
    if request.param == "redis cache":
        url = request.getfixturevalue("redis_url")  # skips or fails without Redis
        extra = {"REDIS_URL": url, "REDIS_KEY_PREFIX": f"tokens-test:{uuid.uuid4().hex}:"}
    started = start_server(tmp_path, extra_env=extra)
    yield started
    stop_server(started)


def test_a_burst_of_failures_is_cut_off_at_the_limit_on_every_worker(server):
    project = ProjectFactory(group=GroupFactory(path="tanuki"), path="app")
    token, value = make_deploy_token(project)
    path = f"/{project.full_path}.git/info/refs?service=git-upload-pack"

    statuses = burst(server, path, basic("x", "glpat-" + "Q" * 32), BURST)
    assert set(statuses) <= {401, 403}, statuses
    # The limit's worth of failures got through, and at most one more per request that was
    # already past the ban check when the limit was reached.
    assert LIMIT <= statuses[401] <= LIMIT + WORKERS * THREADS, statuses
    assert statuses[403] == BURST - statuses[401]
    assert AuditEvent.objects.filter(action=AuditAction.IP_BAN).count() == 1

    # Valid credentials from the banned address: refused on every worker, at once.
    after = burst(server, path, basic(token.username, value), 64)
    assert after == Counter({403: 64}), after
