"""The Git caches' parts (tokens_site.git_http.caches): which requests are cached, the refs
state that keys them, entries, eviction and housekeeping, and the advertisement cache through
the site in this process (the real git runs; clone storms are in tests/e2e/test_git_caches.py)."""

import base64
import gzip
import os
import subprocess
import time
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command

from tests.e2e.conftest import GIT_ENV
from tests.e2e.test_git_caches import deframed, fetch_request
from tests.factories import GroupFactory, ProjectFactory, make_deploy_token
from tokens_site.git_http import caches
from tokens_site.models import InstanceSettings

pytestmark = pytest.mark.django_db

DAY = 24 * 3600


def git(*args, cwd=None) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, env=GIT_ENV, capture_output=True, text=True, check=True
    ).stdout.strip()


def pkt(line: str) -> bytes:
    return f"{len(line) + 4:04x}".encode() + line.encode()


WANT = "want " + "a" * 40 + "\n"
V2_FETCH = (
    pkt("command=fetch\n") + b"0001" + pkt("ofs-delta\n") + pkt(WANT) + pkt("done\n") + b"0000"
)


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (V2_FETCH, caches.PACKS),
        (pkt("command=ls-refs\n") + b"0001" + pkt("peel\n") + b"0000", caches.ADVERTISEMENTS),
        (pkt(WANT.rstrip("\n") + " ofs-delta\n") + b"0000" + pkt("done\n"), caches.PACKS),
        # A v0 negotiation round (no `done`) answers ACKs, not a pack.
        (pkt(WANT) + b"0000" + pkt("have " + "b" * 40 + "\n") + b"0000", None),
        (pkt("command=fetch\n") + b"0001" + pkt(WANT) + pkt("deepen 1\n") + b"0000", None),
        (pkt("command=fetch\n") + b"0001" + pkt(WANT) + pkt("shallow " + "c" * 40) + b"0000", None),
        (pkt("command=fetch\n") + b"0001" + pkt(WANT) + pkt("deepen-since 1700000000"), None),
        (pkt("command=fetch\n") + b"0001" + pkt(WANT) + pkt("filter blob:none\n"), None),
        (pkt("command=object-info\n") + b"0000", None),
        # v0 shallow, deepened and partial fetches: their lines, whatever the capabilities.
        (pkt(WANT.rstrip("\n") + " shallow\n") + pkt("deepen 1\n") + b"0000" + pkt("done\n"), None),
        (pkt(WANT) + pkt("shallow " + "c" * 40 + "\n") + b"0000" + pkt("done\n"), None),
        (pkt(WANT.rstrip("\n") + " deepen-relative\n") + pkt("deepen 2\n") + b"0000", None),
        (pkt(WANT.rstrip("\n") + " filter\n") + pkt("filter blob:none\n") + b"0000", None),
        (b"0x1fcommand=fetch\n" + b"0000", None),
        (b"not pkt-lines", None),
        (b"00ffshort", None),
        (b"", None),
    ],
)
def test_which_requests_are_cached(body, kind):
    assert caches.request_kind(body, "") == kind


def test_a_gzipped_request_is_read_and_other_encodings_are_not():
    assert caches.request_kind(gzip.compress(V2_FETCH), "gzip") == caches.PACKS
    deepened = V2_FETCH.replace(pkt("done\n"), pkt("deepen 1\n") + pkt("done\n"))
    assert caches.request_kind(gzip.compress(deepened), "gzip") is None
    assert caches.request_kind(V2_FETCH, "br") is None
    assert caches.request_kind(b"not gzip", "gzip") is None


@pytest.fixture
def repository(tmp_path):
    """A bare repository (a project's) with one commit on main."""
    path = ProjectFactory(group=GroupFactory(path="tanuki"), path="app").repository_path
    seed = tmp_path / "seed"
    git("init", "-q", "-b", "main", str(seed))
    (seed / "README.md").write_text("# App\n")
    git("add", ".", cwd=seed)
    git("commit", "-q", "-m", "Initial", cwd=seed)
    git("push", "-q", str(path), "main", cwd=seed)
    return path


def test_the_refs_state_follows_every_ref_change(repository):
    before = caches.refs_state(repository)
    assert caches.refs_state(repository) == before  # nothing changed
    head = git("--git-dir", str(repository), "rev-parse", "main")
    git("--git-dir", str(repository), "update-ref", "refs/heads/topic", head)
    with_topic = caches.refs_state(repository)
    assert with_topic != before
    git("--git-dir", str(repository), "tag", "v1", head)
    assert caches.refs_state(repository) != with_topic
    tagged = caches.refs_state(repository)
    git("--git-dir", str(repository), "pack-refs", "--all")
    assert caches.refs_state(repository) != tagged
    packed = caches.refs_state(repository)
    git("--git-dir", str(repository), "symbolic-ref", "HEAD", "refs/heads/topic")
    assert caches.refs_state(repository) != packed
    # A ref that moves and comes back is still a change (it is a new file).
    other = git("--git-dir", str(repository), "commit-tree", f"{head}^{{tree}}", "-m", "Other")
    git("--git-dir", str(repository), "update-ref", "refs/heads/main", other)
    moved = caches.refs_state(repository)
    git("--git-dir", str(repository), "update-ref", "refs/heads/main", head)
    back = caches.refs_state(repository)
    git("--git-dir", str(repository), "update-ref", "refs/heads/main", other)
    assert caches.refs_state(repository) not in (moved, back)


def test_the_objects_state_changes_with_a_repack(repository):
    before = caches.objects_state(repository)
    git("--git-dir", str(repository), "repack", "-adq")
    assert caches.objects_state(repository) != before


def make_entry(directory, name: str, *, age_seconds: int = 0, state=caches.COMPLETE, size=1000):
    """An entry written as the pack cache writes one, last used `age_seconds` ago."""
    path = caches.cache_directory(directory) / name[:2] / name
    writer = caches.EntryWriter.claim(path, size)
    os.close(writer.reader)
    # As git http-backend writes into it: its CGI head, then the body.
    os.write(writer.output, b"Content-Type: application/x-git-upload-pack-result\r\n\r\n")
    os.write(writer.output, b"x" * size)
    writer.close_output()
    assert writer.absorb()
    if state == caches.WRITING:
        return path, writer
    writer.finish(complete=True, keep=True)
    then = time.time() - age_seconds
    os.utime(path, (then, then))
    return path, None


def test_eviction_removes_the_least_recently_used_first(settings, tmp_path):
    settings.REPOSITORIES_ROOT = tmp_path
    oldest, _ = make_entry(caches.PACKS, "aa01", age_seconds=300)
    newest, _ = make_entry(caches.PACKS, "aa02", age_seconds=10)
    middle, _ = make_entry(caches.PACKS, "bb03", age_seconds=100)
    writing, writer = make_entry(caches.PACKS, "cc04", state=caches.WRITING)
    os.utime(writing, (0, 0))  # the oldest of all, but being written
    size = oldest.stat().st_size
    removed = caches.evict(caches.cache_directory(caches.PACKS), 2 * size + 10)
    assert removed == [oldest, middle]
    assert newest.exists() and writing.exists()
    writer.finish(complete=True, keep=True)


def housekeeping(*args) -> str:
    out = StringIO()
    call_command("housekeeping", *args, stdout=out)
    return out.getvalue()


def test_housekeeping_keeps_the_caches_tidy(settings, tmp_path):
    settings.REPOSITORIES_ROOT = tmp_path
    kept, _ = make_entry(caches.PACKS, "aa01", age_seconds=60)
    unused, _ = make_entry(caches.PACKS, "aa02", age_seconds=8 * DAY)
    left = caches.cache_directory(caches.PACKS) / "aa" / ".left.tmp"
    left.write_bytes(b"x")
    os.utime(left, (time.time() - 7200,) * 2)
    # A writer that stopped mid-way: WRITING, and no one holds it.
    stopped, writer = make_entry(caches.PACKS, "aa03", state=caches.WRITING)
    os.close(writer.fd)  # its flock goes with it, as with a stopped process
    live, live_writer = make_entry(caches.PACKS, "aa04", state=caches.WRITING)
    advertisement, _ = make_entry(caches.ADVERTISEMENTS, "dd05")
    out = housekeeping("--dry-run")
    assert "Git cache entries to remove: 3 (dry run)." in out
    assert unused.exists() and left.exists() and stopped.exists()
    out = housekeeping()
    assert "Git cache entries removed: 3." in out
    assert not unused.exists() and not left.exists() and not stopped.exists()
    assert kept.exists() and live.exists() and advertisement.exists()
    # A cache turned off is emptied.
    instance = InstanceSettings.current()
    instance.git_advertisement_cache_enabled = False
    instance.save()
    assert "Git cache entries removed: 1." in housekeeping()
    assert not advertisement.exists() and kept.exists()
    # Beyond its size, the least recently used go.
    instance.git_pack_cache_max_mb = 1
    instance.save()
    make_entry(caches.PACKS, "ee06", size=2 * caches.MIB)
    assert "Git cache entries removed: 2." in housekeeping()
    assert not kept.exists() and live.exists()
    live_writer.finish(complete=True, keep=True)


def test_cache_sizes_must_be_at_least_1_mib():
    instance = InstanceSettings.current()
    instance.git_pack_cache_max_mb = 0
    instance.git_advertisement_cache_max_mb = 0
    with pytest.raises(ValidationError) as raised:
        instance.full_clean()
    assert set(raised.value.message_dict) == {
        "git_pack_cache_max_mb",
        "git_advertisement_cache_max_mb",
    }


def advertise(client, authorization, **headers):
    response = client.get(
        "/tanuki/app.git/info/refs?service=git-upload-pack",
        HTTP_AUTHORIZATION=authorization,
        **headers,
    )
    # Reading a streaming answer to its end closes it (the test client's way).
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return response.status_code, response.get("X-Git-Cache"), content


@pytest.fixture
def authorization(repository):
    token, value = make_deploy_token(GroupFactory._meta.model.objects.get(path="tanuki"))
    return "Basic " + base64.b64encode(f"{token.username}:{value}".encode()).decode()


def test_an_advertisement_is_made_once_per_refs_state(
    client, repository, authorization, django_assert_num_queries
):
    head = git("--git-dir", str(repository), "rev-parse", "main")
    status, state, first = advertise(client, authorization)
    assert (status, state) == (200, "store")
    assert f"{head} refs/heads/main".encode() in first
    with django_assert_num_queries(1):  # the token and the project in one: no git, no more
        assert advertise(client, authorization) == (200, "hit", first)
    # Protocol v2's advertisement is another entry.
    status, state, v2 = advertise(client, authorization, HTTP_GIT_PROTOCOL="version=2")
    assert (status, state) == (200, "store")
    assert b"version 2" in v2 and b"fetch=" in v2
    # A new branch is a new state: never hidden.
    git("--git-dir", str(repository), "update-ref", "refs/heads/topic", head)
    status, state, second = advertise(client, authorization)
    assert (status, state) == (200, "store")
    assert f"{head} refs/heads/topic".encode() in second


def test_a_corrupt_advertisement_is_rebuilt(client, repository, authorization, caplog):
    _, _, first = advertise(client, authorization)
    (entry,) = [path for _, _, path in caches.entries(caches.cache_directory("info-refs"))]
    data = bytearray(entry.read_bytes())
    data[-5] ^= 0xFF
    entry.write_bytes(bytes(data))
    assert advertise(client, authorization) == (200, "store", first)
    assert "is corrupt: removed, rebuilt" in caplog.text
    assert advertise(client, authorization) == (200, "hit", first)


def test_refused_requests_never_reach_the_cache(client, repository):
    status, _, _ = advertise(client, "Basic " + base64.b64encode(b"x:wrong").decode())
    assert status == 401
    assert caches.entries(caches.cache_directory("info-refs")) == []


def test_turned_off_the_advertisement_cache_keeps_nothing(client, repository, authorization):
    instance = InstanceSettings.current()
    instance.git_advertisement_cache_enabled = False
    instance.save()
    assert advertise(client, authorization)[:2] == (200, "bypass")
    assert caches.entries(caches.cache_directory("info-refs")) == []


def fetch(client, authorization, body: bytes):
    response = client.post(
        "/tanuki/app.git/git-upload-pack",
        body,
        content_type="application/x-git-upload-pack-request",
        HTTP_AUTHORIZATION=authorization,
        HTTP_GIT_PROTOCOL="version=2",
    )
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return response.status_code, response.get("X-Git-Cache"), content


def test_an_entry_its_writer_left_unfinished_is_never_served(
    client, repository, authorization, caplog
):
    head = git("--git-dir", str(repository), "rev-parse", "main")
    body = fetch_request(head, version=2)
    status, state, first = fetch(client, authorization, body)
    assert (status, state) == (200, "store")
    assert fetch(client, authorization, body) == (200, "hit", first)
    (entry,) = [path for _, _, path in caches.entries(caches.cache_directory(caches.PACKS))]
    # As a server process stopped mid-pack leaves it: WRITING, cut short, no writer.
    data = entry.read_bytes()
    entry.write_bytes(data[:5] + bytes([caches.WRITING]) + data[6 : len(data) - 20])
    status, state, second = fetch(client, authorization, body)
    assert (status, state) == (200, "store")
    assert deframed(second) == deframed(first)
    assert "was left unfinished: removed" in caplog.text
    assert fetch(client, authorization, body) == (200, "hit", second)


def test_an_answer_git_ends_with_an_error_is_served_but_not_kept(
    client, repository, authorization, caplog
):
    # A want the repository does not have: git answers with an error and exits non-zero.
    body = fetch_request("b" * 40, version=2)
    direct = subprocess.run(
        ["git", "upload-pack", "--stateless-rpc", str(repository)],
        input=body,
        env={**GIT_ENV, "GIT_PROTOCOL": "version=2"},
        capture_output=True,
    )
    assert direct.returncode != 0
    for _ in range(2):
        status, state, content = fetch(client, authorization, body)
        assert (status, state) == (200, "store")
        assert content == direct.stdout
        # The writer's thread removes the failed entry just after it marks it failed.
        for _ in range(100):
            if not caches.entries(caches.cache_directory(caches.PACKS)):
                break
            time.sleep(0.05)
        assert caches.entries(caches.cache_directory(caches.PACKS)) == []
    assert "git http-backend exited with" in caplog.text
