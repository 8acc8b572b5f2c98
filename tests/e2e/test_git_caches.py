"""The Git caches (tokens_site.git_http.caches) with the real `git` client against the site
under gunicorn: clone storms share one pack and every clone is whole; pushes are never hidden;
clients that leave, corrupt entries and full disks cost a cache entry, never a clone."""

import base64
import http.client
import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.core.cache import cache

from tests.e2e.conftest import (
    GIT_ENV,
    git,
    require_program,
    start_server,
    stop_server,
    url,
)
from tests.factories import make_deploy_token, make_personal_token
from tokens_site.git_http import caches
from tokens_site.models import InstanceSettings

pytestmark = pytest.mark.e2e

UPLOAD_PACK_CONFIG = ["-c", "uploadpack.allowFilter=true"]


@pytest.fixture(autouse=True)
def git_installed():
    require_program("git")


@pytest.fixture
def big(tanuki):
    """tanuki/awesome_project with 3 MB of incompressible files on main (the pack takes a
    while to stream) and a branch `other` one commit further: (project, main's commit,
    other's commit)."""
    project = tanuki["project"]
    work, main = push_incompressible(project, 3)
    git("checkout", "-q", "-b", "other", cwd=work)
    (work / "other.txt").write_text("other\n")
    git("add", ".", cwd=work)
    git("commit", "-q", "-m", "Other", cwd=work)
    git("push", "-q", "origin", "other", cwd=work)
    other = git("rev-parse", "HEAD", cwd=work).stdout.strip()
    return project, main, other


def push_incompressible(project, megabytes: int) -> tuple[Path, str]:
    """Push `megabytes` files of 1 MB of random bytes to main: (the work tree, its commit)."""
    work = project.repository_path.parent / "seed-incompressible"
    git("clone", "-q", str(project.repository_path), str(work))
    for n in range(megabytes):
        (work / f"blob{n}.bin").write_bytes(os.urandom(1024 * 1024))
    git("add", ".", cwd=work)
    git("commit", "-q", "-m", f"{megabytes} MB", cwd=work)
    git("push", "-q", "origin", "main", cwd=work)
    return work, git("rev-parse", "HEAD", cwd=work).stdout.strip()


@pytest.fixture
def reader(tanuki):
    """A deploy token of tanuki (read_repository): (username, secret)."""
    token, value = make_deploy_token(tanuki["group"], scopes=["read_repository"])
    return token.username, value


def start_clones(server, project, credentials, target: Path, count: int, *extra: str):
    """`count` clones at once, each tracing its HTTP headers."""
    target.mkdir(exist_ok=True)
    return [
        subprocess.Popen(
            ["git", "clone", *extra, url(server, project, *credentials), str(target / f"c{n}")],
            env={**GIT_ENV, "GIT_TRACE_CURL": "1", "GIT_TRACE_CURL_NO_DATA": "1"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        for n in range(count)
    ]


def finish_clones(clones) -> list[list[str]]:
    """Wait for the clones; each must succeed. Returns each clone's X-Git-Cache answers, in
    order (v2: info/refs, ls-refs, then the fetch)."""
    answers = []
    for clone in clones:
        _, trace = clone.communicate(timeout=120)
        assert clone.returncode == 0, trace[-3000:]
        answers.append(
            [
                line.rsplit(":", 1)[1].strip()
                for line in trace.splitlines()
                if "<= recv header: x-git-cache:" in line.lower()
            ]
        )
    return answers


def storm(server, project, credentials, target: Path, count: int, *extra: str):
    return finish_clones(start_clones(server, project, credentials, target, count, *extra))


def assert_whole(clone: Path, head: str) -> None:
    fsck = git("fsck", "--full", "--strict", cwd=clone, check=False)
    assert fsck.returncode == 0, fsck.stderr
    assert git("rev-parse", "HEAD", cwd=clone).stdout.strip() == head


def pack_entries() -> list[Path]:
    return [path for _, _, path in caches.entries(caches.cache_directory(caches.PACKS))]


def pack_answers(answers: list[list[str]]) -> list[str]:
    return [each[-1] for each in answers]


def test_a_storm_of_ten_clones_makes_one_pack(site_server, big, reader, tmp_path):
    project, main, _ = big
    answers = storm(site_server, project, reader, tmp_path / "storm", 10)
    for n in range(10):
        assert_whole(tmp_path / "storm" / f"c{n}", main)
    packs = pack_answers(answers)
    assert packs.count("store") == 1, answers
    assert set(packs) <= {"store", "follow", "hit"}
    assert len(pack_entries()) == 1
    # One more: everything it asks comes from the caches.
    (again,) = storm(site_server, project, reader, tmp_path / "again", 1)
    assert again == ["hit", "hit", "hit"]
    assert_whole(tmp_path / "again" / "c0", main)


def push_a_commit(server, project, tanuki, work: Path) -> str:
    _, secret = make_personal_token(tanuki["owner"], scopes=["write_repository"])
    if not work.exists():
        git("clone", "-q", str(project.repository_path), str(work))
    (work / "pushed.txt").write_text(f"{time.time()}\n")
    git("add", ".", cwd=work)
    git("commit", "-q", "-m", "Pushed", cwd=work)
    git("push", "-q", url(server, project, "owner", secret), "HEAD:main", cwd=work)
    return git("rev-parse", "HEAD", cwd=work).stdout.strip()


def test_a_push_between_two_storms_is_seen_by_the_second(
    site_server, tanuki, big, reader, tmp_path
):
    project, main, _ = big
    first = storm(site_server, project, reader, tmp_path / "first", 5)
    assert pack_answers(first).count("store") == 1
    pushed = push_a_commit(site_server, project, tanuki, tmp_path / "work")
    second = storm(site_server, project, reader, tmp_path / "second", 5)
    assert pack_answers(second).count("store") == 1  # a new pack for the new state
    for n in range(5):
        assert_whole(tmp_path / "first" / f"c{n}", main)
        assert_whole(tmp_path / "second" / f"c{n}", pushed)
    # The new refs state is a new key: the advertisements were made again.
    assert "store" in [each[0] for each in second]
    assert "store" in [each[1] for each in second]


def test_a_push_during_a_storm_hides_nothing(site_server, tanuki, big, reader, tmp_path):
    project, main, _ = big
    clones = start_clones(site_server, project, reader, tmp_path / "storm", 10)
    time.sleep(0.2)
    pushed = push_a_commit(site_server, project, tanuki, tmp_path / "work")
    finish_clones(clones)
    for n in range(10):
        clone = tmp_path / "storm" / f"c{n}"
        assert_whole(clone, git("rev-parse", "HEAD", cwd=clone).stdout.strip())
        assert git("rev-parse", "HEAD", cwd=clone).stdout.strip() in (main, pushed)
    storm(site_server, project, reader, tmp_path / "after", 1)
    assert_whole(tmp_path / "after" / "c0", pushed)


def test_two_storms_for_two_commits_at_once(site_server, big, reader, tmp_path):
    project, main, other = big
    mains = start_clones(site_server, project, reader, tmp_path / "main", 5)
    others = start_clones(
        site_server, project, reader, tmp_path / "other", 5, "--branch", "other", "--single-branch"
    )
    main_answers, other_answers = finish_clones(mains), finish_clones(others)
    for n in range(5):
        assert_whole(tmp_path / "main" / f"c{n}", main)
        assert_whole(tmp_path / "other" / f"c{n}", other)
    assert pack_answers(main_answers).count("store") == 1
    assert pack_answers(other_answers).count("store") == 1
    assert len(pack_entries()) == 2


# Requests as git sends them, for byte-by-byte comparison with `git upload-pack`.


def pkt(line: str) -> bytes:
    data = line.encode()
    return f"{len(data) + 4:04x}".encode() + data


def fetch_request(want: str, *, version: int) -> bytes:
    if version == 2:
        return (
            pkt("command=fetch\n")
            + pkt("agent=git/test\n")
            + pkt("object-format=sha1\n")
            + b"0001"
            + pkt("thin-pack\n")
            + pkt("no-progress\n")
            + pkt("ofs-delta\n")
            + pkt(f"want {want}\n")
            + pkt("done\n")
            + b"0000"
        )
    return (
        pkt(f"want {want} multi_ack_detailed side-band-64k thin-pack no-progress ofs-delta\n")
        + b"0000"
        + pkt("done\n")
    )


def ls_refs_request() -> bytes:
    return (
        pkt("command=ls-refs\n")
        + pkt("agent=git/test\n")
        + pkt("object-format=sha1\n")
        + b"0001"
        + pkt("peel\n")
        + pkt("symrefs\n")
        + pkt("ref-prefix HEAD\n")
        + pkt("ref-prefix refs/heads/\n")
        + b"0000"
    )


def post(server, project, credentials, body: bytes, *, version: int, read: int | None = None):
    """POST to git-upload-pack: (status, X-Git-Cache, body), reading only `read` bytes of the
    answer (then hanging up) if given."""
    connection = http.client.HTTPConnection(server.host, timeout=60)
    headers = {
        "Authorization": "Basic " + base64.b64encode(":".join(credentials).encode()).decode(),
        "Content-Type": "application/x-git-upload-pack-request",
        "Accept": "application/x-git-upload-pack-result",
    }
    if version == 2:
        headers["Git-Protocol"] = "version=2"
    connection.request("POST", f"/{project.full_path}.git/git-upload-pack", body, headers)
    response = connection.getresponse()
    content = response.read(read) if read else response.read()
    connection.close()
    return response.status, response.getheader("X-Git-Cache"), content


def direct_upload_pack(project, body: bytes, *, version: int) -> bytes:
    """What `git upload-pack --stateless-rpc` answers to `body` on the bare repository."""
    env = {**GIT_ENV, **({"GIT_PROTOCOL": "version=2"} if version == 2 else {})}
    return subprocess.run(
        ["git", *UPLOAD_PACK_CONFIG, "upload-pack", "--stateless-rpc", project.repository_path],
        input=body,
        env=env,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout


def deframed(answer: bytes) -> list[tuple[str, bytes]]:
    """An upload-pack answer without its pkt-line framing: its lines, and the data of each
    side band run joined (git cuts the pack into packets as its pipe's reads happen to return,
    so the framing of the same pack differs from run to run; the bytes do not)."""
    items, offset = [], 0
    while offset < len(answer):
        length = int(answer[offset : offset + 4], 16)
        if length < 4:
            items.append(("packet", answer[offset : offset + 4]))
            offset += 4
            continue
        payload = answer[offset + 4 : offset + length]
        offset += length
        if payload[0] in (1, 2, 3):
            band = f"band {payload[0]}"
            if items and items[-1][0] == band:
                items[-1] = (band, items[-1][1] + payload[1:])
            else:
                items.append((band, payload[1:]))
        else:
            items.append(("line", payload))
    return items


@pytest.mark.parametrize("version", [2, 0])
def test_a_cached_answer_is_byte_identical_to_git_upload_pack(site_server, big, reader, version):
    project, main, _ = big
    body = fetch_request(main, version=version)
    direct = direct_upload_pack(project, body, version=version)
    status, answer, stored = post(site_server, project, reader, body, version=version)
    assert (status, answer) == (200, "store")
    assert deframed(stored) == deframed(direct)
    assert b"PACK" in deframed(direct)[-2][1]
    # The cached answer is the stored one, byte for byte.
    assert post(site_server, project, reader, body, version=version) == (200, "hit", stored)
    if version == 2:
        refs = ls_refs_request()
        direct = direct_upload_pack(project, refs, version=2)
        assert f"{main} refs/heads/main".encode() in direct
        assert post(site_server, project, reader, refs, version=2) == (200, "store", direct)
        assert post(site_server, project, reader, refs, version=2) == (200, "hit", direct)


def entry_state(path: Path) -> int | None:
    try:
        return path.read_bytes()[5]
    except FileNotFoundError:
        return None


def wait_for_entry(state: int) -> Path:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = [path for path in pack_entries() if entry_state(path) == state]
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"no pack entry in state {state}: {pack_entries()}")


def test_a_client_that_hangs_up_mid_pack_does_not_poison_the_cache(
    site_server, big, reader, tmp_path
):
    project, main, _ = big
    body = fetch_request(main, version=2)
    status, answer, start = post(site_server, project, reader, body, version=2, read=1000)
    assert (status, answer, len(start)) == (200, "store", 1000)
    # git's answer still goes into the entry to its end: complete, and what git would send.
    entry = wait_for_entry(caches.COMPLETE)
    status, answer, content = post(site_server, project, reader, body, version=2)
    assert (status, answer) == (200, "hit")
    assert content.startswith(start)
    unpacked = tmp_path / "unpacked"
    git("init", "-q", "--bare", str(unpacked))
    assert_pack_holds(content, unpacked, main)
    assert entry.exists()
    # A real clone killed while it receives the pack.
    entry.unlink()
    (clone,) = start_clones(site_server, project, reader, tmp_path / "killed", 1)
    wait_for_entry(caches.WRITING)
    os.killpg(clone.pid, signal.SIGKILL)
    clone.wait()
    wait_for_entry(caches.COMPLETE)
    answers = storm(site_server, project, reader, tmp_path / "after", 3)
    assert pack_answers(answers) == ["hit", "hit", "hit"]
    for n in range(3):
        assert_whole(tmp_path / "after" / f"c{n}", main)


@pytest.fixture
def huge(tanuki):
    """tanuki/awesome_project with 20 MB of incompressible files: more than a stalled
    client's socket buffers hold. (project, main's commit)."""
    project = tanuki["project"]
    return project, push_incompressible(project, 20)[1]


def test_a_stalled_first_client_does_not_hold_up_the_storm(site_server, huge, reader, tmp_path):
    project, main = huge
    # The first to ask: it reads 1000 bytes of the pack, then nothing while it stays connected.
    connection = http.client.HTTPConnection(site_server.host, timeout=60)
    connection.request(
        "POST",
        f"/{project.full_path}.git/git-upload-pack",
        fetch_request(main, version=2),
        {
            "Authorization": "Basic " + base64.b64encode(":".join(reader).encode()).decode(),
            "Content-Type": "application/x-git-upload-pack-request",
            "Git-Protocol": "version=2",
        },
    )
    stalled = connection.getresponse()
    assert stalled.getheader("X-Git-Cache") == "store"
    assert len(stalled.read(1000)) == 1000
    try:
        # git's answer goes into the entry at git's pace: the others asking the same follow it
        # to its end.
        body = fetch_request(main, version=2)
        with ThreadPoolExecutor(5) as pool:
            answers = list(
                pool.map(lambda _: post(site_server, project, reader, body, version=2), range(5))
            )
        for n, (status, answer, content) in enumerate(answers):
            assert (status, answer) in ((200, "follow"), (200, "hit"))
            unpacked = tmp_path / f"unpacked{n}"
            git("init", "-q", "--bare", str(unpacked))
            assert_pack_holds(content, unpacked, main)
    finally:
        connection.close()


def assert_pack_holds(answer: bytes, repository: Path, head: str) -> None:
    """The pack in a v2 fetch answer (side band 1 of the `packfile` section) indexes cleanly
    and holds `head`'s whole tree."""
    pack, offset = b"", answer.index(b"packfile\n") + len(b"packfile\n")
    while offset < len(answer):
        length = int(answer[offset : offset + 4], 16)
        if length < 4:
            offset += 4
            continue
        if answer[offset + 4] == 1:
            pack += answer[offset + 5 : offset + length]
        offset += length
    indexed = subprocess.run(
        ["git", "index-pack", "--stdin", "--strict"],
        input=pack,
        cwd=repository,
        env=GIT_ENV,
        capture_output=True,
        check=False,
    )
    assert indexed.returncode == 0, indexed.stderr
    git("--git-dir", str(repository), "rev-list", "--objects", "--missing=error", head)


def test_a_corrupt_entry_is_rebuilt_not_served(site_server, big, reader, tmp_path):
    project, main, _ = big
    (first,) = storm(site_server, project, reader, tmp_path / "first", 1)
    assert first[-1] == "store"
    (entry,) = pack_entries()
    with entry.open("r+b") as file:  # one byte in the middle of the pack
        file.seek(entry.stat().st_size // 2)
        byte = file.read(1)
        file.seek(-1, os.SEEK_CUR)
        file.write(bytes([byte[0] ^ 0xFF]))
    (second,) = storm(site_server, project, reader, tmp_path / "second", 1)
    assert second[-1] == "store"
    assert_whole(tmp_path / "second" / "c0", main)
    assert "is corrupt: removed, rebuilt" in site_server.log()
    (third,) = storm(site_server, project, reader, tmp_path / "third", 1)
    assert third[-1] == "hit"


def test_shallow_and_partial_clones_work_and_are_not_cached(site_server, big, reader, tmp_path):
    project, main, _ = big
    (shallow,) = storm(site_server, project, reader, tmp_path / "shallow", 1, "--depth", "1")
    assert shallow[-1] == "bypass"
    clone = tmp_path / "shallow" / "c0"
    assert git("rev-parse", "HEAD", cwd=clone).stdout.strip() == main
    assert git("rev-parse", "--is-shallow-repository", cwd=clone).stdout.strip() == "true"
    assert (clone / "blob2.bin").stat().st_size == 1024 * 1024
    (partial,) = storm(site_server, project, reader, tmp_path / "partial", 1, "--filter=blob:none")
    assert partial[-1] == "bypass"
    clone = tmp_path / "partial" / "c0"
    assert git("config", "remote.origin.promisor", cwd=clone).stdout.strip() == "true"
    assert pack_entries() == []  # neither was kept
    # The first commit's README comes on demand, through the site.
    git("checkout", "-q", "HEAD~1", cwd=clone)
    assert (clone / "README.md").read_text() == f"# {project.name}\n"


def test_the_caches_can_be_turned_off(site_server, big, reader, tmp_path):
    project, main, _ = big
    settings = InstanceSettings.current()
    settings.git_advertisement_cache_enabled = False
    settings.git_pack_cache_enabled = False
    settings.save()
    answers = storm(site_server, project, reader, tmp_path / "off", 2)
    assert answers == [["bypass"] * 3] * 2
    assert pack_entries() == []
    assert_whole(tmp_path / "off" / "c0", main)


def cache_on_tmpfs(tmp_path: Path, size: str) -> list[str]:
    """Start the server in its own mount namespace with a tmpfs of `size` as the caches'
    directory: a disk that fills."""
    require_program("unshare")
    if os.geteuid() != 0:
        message = "mounting a tmpfs needs root"
        if os.environ.get("TOKENS_E2E_REQUIRED") == "1":
            pytest.fail(message)
        pytest.skip(message)
    directory = caches.cache_root()
    directory.mkdir(parents=True, exist_ok=True)
    script = 'mount -t tmpfs -o "size=$1" tmpfs "$2" && shift 2 && exec "$@"'
    return ["unshare", "--mount", "sh", "-c", script, "sh", size, str(directory)]


@pytest.mark.parametrize("minimum_free", ["1024", "0"])
def test_a_full_disk_serves_uncached(transactional_db, big, reader, tmp_path, minimum_free):
    project, main, _ = big
    cache.clear()
    server = start_server(
        tmp_path,
        # 1 MiB: the 3 MB pack cannot fit, whatever is kept free
        wrapper=cache_on_tmpfs(tmp_path, "1m"),
        extra_env={"GIT_CACHE_MIN_FREE_MB": minimum_free},
    )
    try:
        for round_ in ("one", "two"):
            answers = storm(server, project, reader, tmp_path / round_, 5)
            for n in range(5):
                assert_whole(tmp_path / round_ / f"c{n}", main)
            assert pack_answers(answers) == ["bypass"] * 5
        assert "Not enough free space for the Git cache" in server.log()
    finally:
        stop_server(server)
