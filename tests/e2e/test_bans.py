"""The failed-authentication ban against the site under gunicorn (2 workers x 8 threads), hit
by 16 connections at once: the limit holds within `limit + workers x threads`, and once the
address is banned no request succeeds on any worker, with the site's cache in the database or
in Redis (REDIS_URL).

The failures are well-formed personal access tokens (their checksum holds) that were never
issued, a new one for each request: each is looked up in the database, as an attacker's
guesses would be, rather than refused in memory on its checksum."""

import base64
import http.client
import re
import threading
import time
import uuid
from collections import Counter
from urllib.parse import urlsplit

import pytest

from personal_tokens.models import PersonalAccessToken
from personal_tokens.rules import could_be_personal_token
from tests.e2e.conftest import start_server, stop_server
from tests.factories import GroupFactory, ProjectFactory, make_deploy_token
from tokens_site.models import AuditAction, AuditEvent, InstanceSettings
from tokens_site.tokens import PERSONAL_TOKEN_PREFIX, token_digest, token_generate

pytestmark = pytest.mark.e2e

LIMIT = 30
WORKERS, THREADS = 2, 8  # tokens_site/gunicorn.conf.py's threads, start_server's workers
CONNECTIONS = 16
BURST = 200


def basic(username: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode()


# The access log line of each request, with the worker's pid (gunicorn's `%(p)s`), so that the
# test can tell which workers served the burst. The rest is the site's own format.
ACCESS_LOG_FORMAT = 'worker=%(p)s %(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(L)ss'
ACCESS_LINE = re.compile(r'worker=<(\d+)> \S+ "GET (\S+) [^"]*" (\d{3}) ')
BOOTED = re.compile(r"Booting worker with pid: (\d+)")


def served_by(server, path: str, requests: int) -> Counter:
    """How many of the `requests` to `path` each worker (by pid) served, from the access log
    (whose last lines may be written just after their answers were read; it never shows a
    query string)."""
    path = urlsplit(path).path
    deadline = time.monotonic() + 10
    while True:
        lines = [match for match in ACCESS_LINE.findall(server.log()) if match[1] == path]
        if len(lines) >= requests or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert len(lines) == requests, (len(lines), server.log()[-2000:])
    return Counter(pid for pid, _, _ in lines)


def unknown_tokens(count: int) -> list[str]:
    """Well-formed personal access tokens that were never issued (nothing is stored)."""
    values = [token_generate(PERSONAL_TOKEN_PREFIX) for _ in range(count)]
    assert all(could_be_personal_token(value) for value in values)  # each one is looked up
    digests = [token_digest(value) for value in values]
    assert not PersonalAccessToken.objects.filter(token_digest__in=digests).exists()
    return values


def burst(server, path: str, authorizations: list[str]) -> Counter:
    """A GET for each of `authorizations` (its Authorization header), over CONNECTIONS
    keep-alive connections, all started at once."""
    address = urlsplit(server.url)
    statuses: Counter = Counter()
    lock = threading.Lock()
    barrier = threading.Barrier(CONNECTIONS)

    def client(mine: list[str]) -> None:
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
        barrier.wait()
        for authorization in mine:
            connection.request("GET", path, headers={"Authorization": authorization})
            response = connection.getresponse()
            response.read()
            with lock:
                statuses[response.status] += 1
            if response.getheader("Connection", "").lower() == "close":
                connection.close()
                connection = http.client.HTTPConnection(address.hostname, address.port)
        connection.close()

    threads = [
        threading.Thread(target=client, args=(authorizations[index::CONNECTIONS],))
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
    extra = {"GUNICORN_CMD_ARGS": f"--access-logformat '{ACCESS_LOG_FORMAT}'"}
    if request.param == "redis cache":
        url = request.getfixturevalue("redis_url")  # skips or fails without Redis
        extra |= {"REDIS_URL": url, "REDIS_KEY_PREFIX": f"tokens-test:{uuid.uuid4().hex}:"}
    started = start_server(tmp_path, extra_env=extra)
    yield started
    stop_server(started)


def test_a_burst_of_failures_is_cut_off_at_the_limit_on_every_worker(server):
    project = ProjectFactory(group=GroupFactory(path="tanuki"), path="app")
    token, value = make_deploy_token(project)
    path = f"/{project.full_path}.git/info/refs?service=git-upload-pack"

    statuses = burst(server, path, [basic("x", guess) for guess in unknown_tokens(BURST)])
    assert set(statuses) <= {401, 403}, statuses
    # The limit's worth of failures got through, and at most one more per request that was
    # already past the ban check when the limit was reached.
    assert LIMIT <= statuses[401] <= LIMIT + WORKERS * THREADS, statuses
    assert statuses[403] == BURST - statuses[401]
    assert AuditEvent.objects.filter(action=AuditAction.IP_BAN).count() == 1

    # Valid credentials from the banned address: refused on every worker, at once.
    after = burst(server, path, [basic(token.username, value)] * 64)
    assert after == Counter({403: 64}), after

    # Both workers took part (the bound above is about requests in flight on both at once).
    workers = served_by(server, path, BURST + 64)
    assert set(workers) == set(BOOTED.findall(server.log())), (workers, server.log()[-2000:])
    assert len(workers) == WORKERS, workers
