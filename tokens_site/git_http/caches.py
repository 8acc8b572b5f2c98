"""Caches that make a clone storm cost one pack (issue 22): fifty CI runners cloning the same
commit get what one `git upload-pack` produced, instead of fifty.

Two caches on disk under `REPOSITORIES_ROOT/.cache`, shared by every server process:

- **Advertisements** (`info-refs/`): the answer to `GET info/refs?service=git-upload-pack` and
  to protocol v2's `command=ls-refs`. They are small: kept whole, written at once.
- **Packs** (`upload-pack/`): the answer to a fetch (v2's `command=fetch`, or v0's wants ending
  in `done`). The first request claims the entry (and the disk space the pack may take) and
  starts git, which writes its answer straight into the entry at its own pace; a thread of
  our own waits for it, hashing what arrives, and finishes the entry. The first client, and
  every one asking the same meanwhile, follows the file as it grows (no one waits for the
  whole pack, and a slow or stalled client holds up no one; under gunicorn each piece goes out
  with sendfile, tokens_site.git_http.sendfile); later ones get the finished file (sendfile).
  An entry whose writer stopped (its process killed) is never finished: the next reader
  removes it.

Both are keyed by what decides git's answer: the repository, git's version, the request (service,
`Git-Protocol`, the body: wants, haves, capabilities) and the repository's refs state (HEAD,
packed-refs, every loose ref, config; for packs also the pack files). Any ref change, by a push
or otherwise, makes a new key, so an update is never hidden; an answer made while the state
changed is served to the clients that asked for it but not kept. Requests that cannot be keyed
safely pass through uncached: shallow and partial fetches (`deepen`, `shallow`, `filter`), a body
over MAX_KEYED_BODY_BYTES, anything unparseable.

An entry is a 64-byte header (state, length and SHA-256 of the rest), then a CGI answer: the
status and headers (git http-backend's own, for a pack), an empty line, then git's bytes. A
finished entry is checked against its digest before it is served (a pack once per server
process until its file changes); a corrupt one is removed and rebuilt, never served. Each cache
is bounded (instance settings), least recently used first. An entry is not written when the
disk has less than GIT_CACHE_MIN_FREE_MB free (settings); it is not kept when git ends with
an error (a write that fails, on a full disk, is git's: clients that had part of the answer get
git's error, the others are served uncached; logged). `manage.py housekeeping`
removes what a stopped server left and enforces the bounds.

We write our own because nothing maintained does this for a Python server: Gitaly's info-refs
and pack-objects caches, which this follows, are part of Gitaly (Go).
"""

import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import functools
import hashlib
import json
import logging
import os
import struct
import subprocess
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

from django.conf import settings
from django.http import FileResponse, HttpResponse, StreamingHttpResponse
from gunicorn.http.errors import ParseException

from tokens_site.git_http.backend import GitWriter, parse_headers, write_http_backend
from tokens_site.git_http.sendfile import file_sender
from tokens_site.models import InstanceSettings

logger = logging.getLogger(__name__)

ADVERTISEMENTS = "info-refs"
PACKS = "upload-pack"
MIB = 1024 * 1024
# Bump when what goes into a key or an entry changes: older entries are then never read.
KEY_VERSION = b"tokens-git-cache 1"
MAGIC = b"TKGC"
HEADER = struct.Struct(">4sBBxxQ32s")  # magic, format, state, length of the rest, its SHA-256
HEADER_SIZE = 64
FORMAT = 2
# After the header, an entry holds a CGI answer: its head (status and headers, then an empty
# line: git http-backend's own, for a pack), then the body. A head is at most this long.
MAX_HEAD_BYTES = 16 * 1024
# An entry's states. WRITING: its writer holds an exclusive flock on it.
WRITING, COMPLETE, DISCARDED, FAILED = 0, 1, 2, 3
# The answer header that says what the cache did: hit, follow (a pack being written), store
# (this request's answer is being kept), bypass (not cacheable, or the cache is off or full).
CACHE_HEADER = "X-Git-Cache"

# A request body longer than this is not read ahead for a key: it goes to git uncached.
MAX_KEYED_BODY_BYTES = 1 * MIB
# An advertisement longer than this is served but not kept.
MAX_ADVERTISEMENT_BYTES = 4 * MIB
CHUNK_SIZE = 1 * MIB
# The pack cache's writer hashes what git wrote into an entry this often.
FILL_LOOK_SECONDS = 0.02
# Entries are hashed in pieces of this size.
HASH_CHUNK_SIZE = 4 * MIB
# A follower at the end of what is written so far waits this long, doubling, before it looks
# again.
FOLLOW_FIRST_WAIT_SECONDS = 0.005
FOLLOW_LONGEST_WAIT_SECONDS = 0.05
# A follower sends what it has at least this often, even when it is less than CHUNK_SIZE.
FOLLOW_BATCH_SECONDS = 0.02
# A follower whose entry has not grown for this long gives up on it (git is stuck).
FOLLOW_STALL_SECONDS = 300
# A small file (a ref, packed-refs, config) is part of a key by content; a larger one by its
# inode, size and modification time.
SMALL_FILE_BYTES = 1 * MIB
HEX_DIGITS = "0123456789abcdefABCDEF"
# Fetch arguments that make an answer depend on more than the key holds.
UNCACHEABLE_ARGUMENTS = (b"shallow ", b"deepen", b"filter", b"packfile-uris")
# How often one process scans an advertisement cache to keep it in its bound (it also runs
# after every pack stored, and in housekeeping).
ADVERTISEMENT_EVICTION_INTERVAL_SECONDS = 30
# Housekeeping removes entries not used for this long, and temporary files this old.
UNUSED_MAX_AGE_SECONDS = 7 * 24 * 3600
LEFT_OVER_AGE_SECONDS = 3600
# A hit refreshes an entry's access time (its place in the LRU order) at most this often.
TOUCH_INTERVAL_SECONDS = 60
LOG_INTERVAL_SECONDS = 60
# Pack entries this process has checked against their digest, by (device, inode, size,
# modification and change times): a file that changes is checked again.
_verified: dict[tuple, bool] = {}
# The checks under way in this process, by the same: one lock each.
_checking: dict[tuple, threading.Lock] = {}
VERIFIED_MEMO_SIZE = 4096
_last_eviction: dict[Path, float] = {}
_last_log: dict[str, float] = {}
_lock = threading.Lock()


def cache_root() -> Path:
    return _directory(settings.REPOSITORIES_ROOT, "")


def cache_directory(name: str) -> Path:
    return _directory(settings.REPOSITORIES_ROOT, name)


@functools.lru_cache(maxsize=16)
def _directory(root: str | Path, name: str) -> Path:
    """Made once per settings value: every cached Git answer asks for it."""
    return Path(root, ".cache", name)


# Keys.


@functools.cache
def git_version() -> bytes:
    return subprocess.run(["git", "--version"], capture_output=True, check=False).stdout


def _add_file(digest, path: str) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        digest.update(b"-\0")
        return
    try:
        stat = os.fstat(fd)
        digest.update(struct.pack(">QQQ", stat.st_ino, stat.st_size, stat.st_mtime_ns))
        if stat.st_size <= SMALL_FILE_BYTES:
            while chunk := os.read(fd, SMALL_FILE_BYTES):
                digest.update(chunk)
    finally:
        os.close(fd)


def _add_tree(digest, directory: str) -> None:
    with os.scandir(directory) as found:
        entries = sorted(found, key=lambda entry: entry.name)
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            digest.update(b"d" + os.fsencode(entry.name) + b"\0")
            _add_tree(digest, entry.path)
        else:
            digest.update(b"f" + os.fsencode(entry.name) + b"\0")
            _add_file(digest, entry.path)


def refs_state(repository: Path) -> bytes:
    """A digest of everything that decides the repository's refs as git reads them: HEAD,
    packed-refs, every loose ref (by content, and by inode and modification time, so a ref
    that moves and comes back still counts as a change), config and shallow. Raises OSError
    when the repository is not there."""
    digest = hashlib.sha256()
    root = str(repository)
    for name in ("HEAD", "packed-refs", "config", "shallow"):
        _add_file(digest, os.path.join(root, name))
    _add_tree(digest, os.path.join(root, "refs"))
    return digest.digest()


def objects_state(repository: Path) -> bytes:
    """A digest of the repository's pack files and alternates: a repack makes a new one."""
    digest = hashlib.sha256()
    objects = os.path.join(str(repository), "objects")
    with os.scandir(os.path.join(objects, "pack")) as found:
        for name, stat in sorted((entry.name, entry.stat()) for entry in found):
            digest.update(os.fsencode(name))
            digest.update(struct.pack(">QQQ", stat.st_ino, stat.st_size, stat.st_mtime_ns))
    _add_file(digest, os.path.join(objects, "info", "alternates"))
    return digest.digest()


def _key(*parts: bytes | str) -> str:
    digest = hashlib.sha256(KEY_VERSION)
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(struct.pack(">Q", len(data)))
        digest.update(data)
    return digest.hexdigest()


def _entry_path(cache: str, key: str) -> Path:
    return cache_directory(cache).joinpath(key[:2], key)


# Request bodies.


class PrefixedBody:
    """What git reads: the part of the body read ahead for the key, then the rest of it."""

    def __init__(self, prefix: bytes, rest=None):
        self.prefix, self.rest = prefix, rest

    def read(self, size: int) -> bytes:
        if self.prefix:
            chunk, self.prefix = self.prefix[:size], self.prefix[size:]
            return chunk
        return self.rest.read(size) if self.rest is not None else b""


def read_ahead(request) -> tuple[bytes, bool]:
    """Up to MAX_KEYED_BODY_BYTES + 1 of the request body: (bytes, whether that is all). A
    body cut short or garbled ends where it broke: git answers what it got (and fails)."""
    stream = request.META["wsgi.input"]
    length = request.META.get("CONTENT_LENGTH")
    remaining = int(length) if length and length.isdigit() else None
    parts, size = [], 0
    while size <= MAX_KEYED_BODY_BYTES and remaining != 0:
        wanted = MAX_KEYED_BODY_BYTES + 1 - size
        try:
            chunk = stream.read(wanted if remaining is None else min(wanted, remaining))
        except (OSError, ParseException) as error:  # gunicorn's NoMoreData, a bad chunk
            logger.info("The request body stopped: %r", error)
            break
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
        if remaining is not None:
            remaining -= len(chunk)
    return b"".join(parts), size <= MAX_KEYED_BODY_BYTES


def pkt_lines(data: bytes) -> list[bytes] | None:
    """The payloads of a pkt-line stream (flush, delimiter and end packets left out), or None
    if it is not one."""
    lines, offset = [], 0
    while offset < len(data):
        digits = data[offset : offset + 4]
        if len(digits) < 4 or not all(chr(byte) in HEX_DIGITS for byte in digits):
            return None
        length = int(digits, 16)
        if length < 4:  # 0000 flush, 0001 delimiter, 0002 response end
            offset += 4
            continue
        if offset + length > len(data):
            return None
        lines.append(data[offset + 4 : offset + length].rstrip(b"\n"))
        offset += length
    return lines


def request_kind(body: bytes, encoding: str) -> str | None:
    """Which cache an upload-pack request belongs in: ADVERTISEMENTS (v2 ls-refs), PACKS (a v2
    fetch, or v0 wants with `done`), or None (anything else, or what cannot be keyed safely)."""
    if encoding == "gzip":
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            body = inflater.decompress(body, MAX_KEYED_BODY_BYTES * 4)
        except zlib.error:
            return None
        if inflater.unconsumed_tail or not inflater.eof:
            return None
    elif encoding:
        return None
    lines = pkt_lines(body)
    if not lines:
        return None
    if any(line.startswith(UNCACHEABLE_ARGUMENTS) for line in lines):
        return None
    if lines[0] == b"command=ls-refs":
        return ADVERTISEMENTS
    if lines[0] == b"command=fetch":
        return PACKS
    if lines[0].startswith(b"want ") and lines[-1] == b"done":
        return PACKS
    return None


# Entries.


def _header(state: int, length: int = 0, digest: bytes = bytes(32)) -> bytes:
    return HEADER.pack(MAGIC, FORMAT, state, length, digest).ljust(HEADER_SIZE, b"\0")


def _read_header(fd: int) -> tuple[int, int, bytes] | None:
    """(state, length, digest) of an entry, or None if it is not one of ours."""
    data = os.pread(fd, HEADER.size, 0)
    if len(data) < HEADER.size:
        return None
    magic, version, state, length, digest = HEADER.unpack(data)
    if magic != MAGIC or version != FORMAT:
        return None
    return state, length, digest


def _cgi_head(status: int, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"Status: {status}\r\n", *(f"{name}: {value}\r\n" for name, value in headers)]
    return ("".join(lines) + "\r\n").encode("latin-1")


def _parse_head(data: bytes) -> tuple[int, list, int] | None:
    """(status, headers, length of the head) of the CGI answer `data` starts with, or None if
    its head is not all there (or is not one)."""
    lines, offset = [], 0
    while (newline := data.find(b"\n", offset)) >= 0:
        line, offset = data[offset : newline + 1], newline + 1
        if not line.rstrip(b"\r\n"):
            try:
                return (*parse_headers(lines), offset)
            except (ValueError, IndexError):
                return None
        lines.append(line)
    return None


def _read_head(fd: int) -> tuple[int, list, int] | None:
    """(status, headers, offset of the body) of an entry, or None if its head is not (yet)
    all there."""
    parsed = _parse_head(os.pread(fd, MAX_HEAD_BYTES, HEADER_SIZE))
    if parsed is None:
        return None
    status, headers, length = parsed
    return status, headers, HEADER_SIZE + length


def _writer_alive(fd: int) -> bool:
    """Whether the entry's writer still holds it (its flock goes with its process)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    fcntl.flock(fd, fcntl.LOCK_UN)
    return False


def _remove_if_same(path: Path, fd: int) -> None:
    """Remove `path` if it is still the file open as `fd` (a new writer may have replaced it)."""
    with contextlib.suppress(OSError):
        if os.stat(path).st_ino == os.fstat(fd).st_ino:
            os.unlink(path)


def _log_once_a_while(topic: str, message: str, *args) -> None:
    now = time.monotonic()
    if now - _last_log.get(topic, -LOG_INTERVAL_SECONDS) >= LOG_INTERVAL_SECONDS:
        _last_log[topic] = now
        logger.warning(message, *args)


def has_room(directory: Path, needed: int = 0) -> bool:
    """Whether the disk holding `directory` has `needed` bytes free beyond
    GIT_CACHE_MIN_FREE_MB: never take the last of the disk that pushes need."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        stat = os.statvfs(directory)
    except OSError as error:
        _log_once_a_while("room", "Git cache %s unusable, serving uncached: %s", directory, error)
        return False
    if stat.f_bavail * stat.f_frsize < settings.GIT_CACHE_MIN_FREE_MB * MIB + needed:
        _log_once_a_while(
            "room",
            "Not enough free space for the Git cache in %s (%d MiB for the entry, and %d MiB "
            "kept free): serving uncached",
            directory,
            -(-needed // MIB),
            settings.GIT_CACHE_MIN_FREE_MB,
        )
        return False
    return True


def pack_size_bound(repository: Path) -> int:
    """About the most a pack of this repository can take: its packs and loose objects, and
    a margin. What a pack entry reserves on disk before anyone follows it."""
    objects = repository / "objects"
    total = 0
    with contextlib.suppress(FileNotFoundError), os.scandir(objects) as found:
        for entry in found:
            if entry.name == "pack":
                with os.scandir(entry.path) as packs:
                    total += sum(
                        pack.stat().st_size for pack in packs if pack.name.endswith(".pack")
                    )
            elif len(entry.name) == 2 and entry.is_dir(follow_symlinks=False):
                with os.scandir(entry.path) as loose:
                    total += sum(item.stat().st_size for item in loose)
    return total + total // 10 + MIB


_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE = 1, 2


def _fallocate(fd: int, mode: int, offset: int, length: int) -> None:
    """Linux's fallocate(2); nothing where the filesystem cannot (writes may then fail)."""
    if length <= 0:
        return
    result = _libc.fallocate(
        ctypes.c_int(fd), ctypes.c_int(mode), ctypes.c_longlong(offset), ctypes.c_longlong(length)
    )
    if result != 0:
        code = ctypes.get_errno()
        if code not in (errno.EOPNOTSUPP, errno.ENOSYS):
            raise OSError(code, os.strerror(code))


def _hash_range(digest, fd: int, start: int, end: int) -> int:
    """Add bytes [start, end) of a file to `digest`, in pieces of HASH_CHUNK_SIZE; returns
    where it stopped (before `end` if the file is shorter). Read, not mapped: a file cut
    short under a mapping would kill the process (SIGBUS)."""
    offset = start
    while offset < end:
        chunk = os.pread(fd, min(HASH_CHUNK_SIZE, end - offset), offset)
        if not chunk:
            break
        digest.update(chunk)
        offset += len(chunk)
    return offset


def _digest_of(fd: int, start: int, length: int) -> bytes:
    digest = hashlib.sha256()
    _hash_range(digest, fd, start, start + length)
    return digest.digest()


def _identity(stat: os.stat_result) -> tuple:
    # The change time moves with any write, and with a change of the times themselves.
    return stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns


def _remember_intact(identity: tuple) -> None:
    with _lock:
        if len(_verified) >= VERIFIED_MEMO_SIZE:
            _verified.clear()
        _verified[identity] = True


def _intact(fd: int, length: int, digest: bytes) -> bool:
    """Whether a finished entry's bytes match its digest (and its size its length). Checked
    once per process while the file does not change: the requests of a storm that ask at
    once wait for the one check instead of each hashing the pack."""
    stat = os.fstat(fd)
    if stat.st_size != HEADER_SIZE + length:
        return False
    identity = _identity(stat)
    with _lock:
        if _verified.get(identity):
            return True
        checking = _checking.setdefault(identity, threading.Lock())
    try:
        with checking:
            if _verified.get(identity):
                return True
            intact = _digest_of(fd, HEADER_SIZE, length) == digest
            if intact:
                _remember_intact(identity)
            return intact
    finally:
        with _lock:
            if _checking.get(identity) is checking:
                del _checking[identity]


def _touch(path: Path, fd: int) -> None:
    """Mark the entry used now (its access time: the LRU order), keeping its mtime. An entry
    found intact stays so (its change time moves, its bytes do not)."""
    stat = os.fstat(fd)
    if time.time() - stat.st_atime > TOUCH_INTERVAL_SECONDS:
        with contextlib.suppress(OSError):
            os.utime(path, ns=(time.time_ns(), stat.st_mtime_ns))
            if _verified.get(_identity(stat)):
                _remember_intact(_identity(os.fstat(fd)))


class EntryWriter:
    """Keeps one pack entry while git writes its answer into it. It claims the entry before git
    starts (so that requests arriving meanwhile follow it instead of starting git too): a file
    holding an exclusive flock (followers see a live writer) and the disk space the pack may
    take, linked into place only if no other writer got there first. git writes its whole
    answer (its CGI head, then the pack) into the entry through a descriptor of its own
    (`output`: not sharing the flock, which goes with this process), the writer hashes what
    arrives, then writes the header that says how it ended."""

    def __init__(self, fd: int, path: Path, reader: int, output: int, reserved: int):
        self.fd, self.path, self.reader, self.output = fd, path, reader, output
        self.reserved = reserved
        self.digest, self.length = hashlib.sha256(), 0

    @classmethod
    def claim(cls, path: Path, reserve: int) -> "EntryWriter | None":
        """The writer of a new entry at `path`, with `reserve` bytes of disk set aside. Raises
        FileExistsError if another writer has it; None if it cannot be written (logged)."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
        except OSError as error:
            _log_once_a_while("write", "Git cache entry not written: %s", error)
            return None
        opened = []
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            _write_all(fd, _header(WRITING))
            _fallocate(fd, FALLOC_FL_KEEP_SIZE, HEADER_SIZE, reserve)
            os.link(temporary, path)
            opened.append(os.open(temporary, os.O_RDONLY))  # the first client's: it follows
            opened.append(os.open(temporary, os.O_WRONLY))  # git's
            os.lseek(opened[1], HEADER_SIZE, os.SEEK_SET)
        except OSError as error:
            for descriptor in (fd, *opened):
                os.close(descriptor)
            if error.errno == errno.EEXIST:
                raise FileExistsError(path) from error
            _log_once_a_while("write", "Git cache entry not written: %s", error)
            return None
        finally:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
        return cls(fd, path, *opened, reserve)

    def close_output(self) -> None:
        """git has its own copy of `output` once it has started."""
        if self.output is not None:
            os.close(self.output)
            self.output = None

    def absorb(self) -> bool:
        """Hash what git has written since the last look. True if there was something."""
        start = HEADER_SIZE + self.length
        end = _hash_range(self.digest, self.fd, start, os.fstat(self.fd).st_size)
        self.length = end - HEADER_SIZE
        return end > start

    def _set_state(self, state: int, length: int = 0, digest: bytes = bytes(32)) -> None:
        """The length and digest first, then the state: a reader never sees a finished state
        with a length that is not yet there."""
        header = _header(state, length, digest)
        os.pwrite(self.fd, header[8:48], 8)
        os.pwrite(self.fd, header[5:6], 5)

    def finish(self, *, complete: bool, keep: bool) -> bool:
        """Mark the entry finished (COMPLETE if `keep`, else DISCARDED and removed: followers
        still read it to its end) or FAILED (followers stop), and let it go. True if kept."""
        self.close_output()
        kept = complete and keep
        try:
            if complete:
                self._set_state(COMPLETE if kept else DISCARDED, self.length, self.digest.digest())
                with contextlib.suppress(OSError):  # the reserved space it did not need
                    end = HEADER_SIZE + self.length
                    unused = HEADER_SIZE + self.reserved - end
                    _fallocate(self.fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, end, unused)
            else:
                self._set_state(FAILED)
        except OSError as error:
            logger.warning("Git cache entry %s could not be finished: %s", self.path.name, error)
            kept = False
        if not kept:
            _remove_if_same(self.path, self.fd)
        else:
            with contextlib.suppress(OSError):  # its place in the LRU order: now
                os.utime(self.path, ns=(time.time_ns(), os.fstat(self.fd).st_mtime_ns))
            # What git wrote was hashed as it came: this process need not read it again.
            _remember_intact(_identity(os.fstat(self.fd)))
        os.close(self.fd)  # and with it the flock
        return kept


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


# Eviction.


def entries(directory: Path) -> list[tuple[int, int, Path]]:
    """(access time, size, path) of every entry in a cache directory."""
    found = []
    with contextlib.suppress(FileNotFoundError), os.scandir(directory) as shards:
        for shard in shards:
            if not shard.is_dir(follow_symlinks=False):
                continue
            with os.scandir(shard.path) as files:
                for entry in files:
                    if entry.name.startswith("."):
                        continue
                    with contextlib.suppress(FileNotFoundError):
                        stat = entry.stat(follow_symlinks=False)
                        found.append((stat.st_atime_ns, stat.st_size, Path(entry.path)))
    return found


def evict(directory: Path, max_bytes: int, *, dry_run: bool = False) -> list[Path]:
    """Remove the least recently used entries until the cache holds at most `max_bytes`
    (an entry still being written is left). Returns what was (or would be) removed."""
    found = entries(directory)
    total = sum(size for _, size, _ in found)
    removed = []
    for _, size, path in sorted(found):
        if total <= max_bytes:
            break
        if _being_written(path):
            continue
        if not dry_run:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        removed.append(path)
        total -= size
    return removed


def _open_to_look(path: Path) -> int:
    """Open an entry to read its header without counting as a use (its access time is the
    LRU order)."""
    try:
        return os.open(path, os.O_RDONLY | os.O_NOATIME)
    except PermissionError:  # O_NOATIME is for the file's owner
        return os.open(path, os.O_RDONLY)


def _look(path: Path) -> tuple[int | None, bool]:
    """An entry's state (None if it is not one) and whether a writer holds it, read without
    counting as a use."""
    fd = _open_to_look(path)
    try:
        header = _read_header(fd)
        return (None, False) if header is None else (header[0], _writer_alive(fd))
    finally:
        os.close(fd)


def _being_written(path: Path) -> bool:
    try:
        state, alive = _look(path)
    except OSError:
        return False
    return state == WRITING and alive


def _left_over(path: Path, stat: os.stat_result, now: float) -> bool:
    """A temporary file older than LEFT_OVER_AGE_SECONDS, an entry not used for
    UNUSED_MAX_AGE_SECONDS, or one no live writer holds that never finished."""
    if path.name.startswith("."):
        return stat.st_mtime < now - LEFT_OVER_AGE_SECONDS
    if stat.st_atime < now - UNUSED_MAX_AGE_SECONDS:
        return not _being_written(path)
    state, alive = _look(path)
    return state is None or (state != COMPLETE and not alive)


def tidy(instance, *, dry_run: bool = False) -> list[Path]:
    """What housekeeping removes from the caches: everything of a cache that is turned off,
    what stopped writers left, entries unused for UNUSED_MAX_AGE_SECONDS, then the least
    recently used beyond each cache's size. Returns what was (or would be) removed."""
    removed = []
    now = time.time()
    for name, enabled, max_mb in (
        (
            ADVERTISEMENTS,
            instance.git_advertisement_cache_enabled,
            instance.git_advertisement_cache_max_mb,
        ),
        (PACKS, instance.git_pack_cache_enabled, instance.git_pack_cache_max_mb),
    ):
        directory = cache_directory(name)
        shards = (
            [shard for shard in directory.iterdir() if shard.is_dir()] if directory.is_dir() else []
        )
        for shard in shards:
            for path in sorted(shard.iterdir()):
                try:
                    stat = path.stat()
                    gone = (not enabled and not _being_written(path)) or _left_over(path, stat, now)
                except FileNotFoundError:
                    continue
                if gone:
                    removed.append(path)
                    if not dry_run:
                        with contextlib.suppress(FileNotFoundError):
                            path.unlink()
        if enabled:
            removed += evict(directory, max_mb * MIB, dry_run=dry_run)
    return removed


def _evict_now_and_then(directory: Path, max_bytes: int) -> None:
    """evict(), at most every ADVERTISEMENT_EVICTION_INTERVAL_SECONDS in this process."""
    now = time.monotonic()
    last = _last_eviction.get(directory)
    if last is None or now - last >= ADVERTISEMENT_EVICTION_INTERVAL_SECONDS:
        _last_eviction[directory] = now
        evict(directory, max_bytes)


# Answers.


def _answer(response, headers: list, cache_state: str):
    """`response` with git's `headers` and what the cache did."""
    for name, value in headers:
        response[name] = value
    response[CACHE_HEADER] = cache_state
    return response


def _bypass(response):
    response[CACHE_HEADER] = "bypass"
    return response


def _load_small(path: Path) -> tuple[int, list, bytes] | None:
    """A finished advertisement entry: (status, headers, body); a corrupt one is removed."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        header = _read_header(fd)
        if header is None or header[0] != COMPLETE:
            return None
        _, length, digest = header
        data = os.pread(fd, length + 1, HEADER_SIZE)
        intact = len(data) == length and hashlib.sha256(data).digest() == digest
        parsed = _parse_head(data) if intact else None
        if parsed is None:
            logger.warning("Git cache entry %s is corrupt: removed, rebuilt", path.name)
            _remove_if_same(path, fd)
            return None
        _touch(path, fd)
    finally:
        os.close(fd)
    status, headers, head_length = parsed
    return status, headers, data[head_length:]


def _store_small(path: Path, status: int, headers: list, body: bytes) -> None:
    if not has_room(path.parent.parent):
        return
    rest = _cgi_head(status, headers) + body
    data = _header(COMPLETE, len(rest), hashlib.sha256(rest).digest()) + rest
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    except OSError as error:
        _log_once_a_while("write", "Git cache entry not written: %s", error)
        return
    try:
        _write_all(fd, data)
        os.replace(temporary, path)
    except OSError as error:
        _log_once_a_while("write", "Git cache entry not written: %s", error)
        with contextlib.suppress(OSError):
            os.unlink(temporary)
    finally:
        os.close(fd)


def _collect(response, limit: int) -> tuple[bytes, Iterator[bytes] | None]:
    """Read a streaming answer into memory up to `limit` bytes: (what was read, the rest of
    the stream if it is longer, else None)."""
    iterator = iter(response.streaming_content)
    parts, size = [], 0
    for chunk in iterator:
        parts.append(chunk)
        size += len(chunk)
        if size > limit:
            return b"".join(parts), iterator
    return b"".join(parts), None


def _config_part(config: dict[str, str]) -> str:
    return json.dumps(config, sort_keys=True)


def advertisement(
    request, repository: Path, run: Callable, *, config: dict[str, str], parts: tuple = ()
):
    """Answer an advertisement (info/refs, or ls-refs with `parts` holding its body) from the
    cache, or with `run(config=config, finished=...)` (git) and keep that answer."""
    run = functools.partial(run, config=config)
    instance = InstanceSettings.current()
    if not instance.git_advertisement_cache_enabled:
        return _bypass(run())
    try:
        state = refs_state(repository)
    except OSError:
        return _bypass(run())
    key = _key(
        ADVERTISEMENTS,
        git_version(),
        str(repository),
        request.GET.get("service", ""),
        request.META.get("HTTP_GIT_PROTOCOL", ""),
        _config_part(config),
        state,
        *parts,
    )
    path = _entry_path(ADVERTISEMENTS, key)
    found = _load_small(path)
    if found is not None:
        status, headers, content = found
        return _answer(HttpResponse(content, status=status), headers, "hit")
    exit_codes = []
    response = run(finished=exit_codes.append)
    if response.status_code != 200 or not response.streaming:
        return _bypass(response)
    content, rest = _collect(response, MAX_ADVERTISEMENT_BYTES)
    headers = list(response.items())
    if rest is not None:
        content = _Closing(_chain(content, rest), _Once(close_content, response))
        return _answer(
            StreamingHttpResponse(content, status=response.status_code), headers, "bypass"
        )
    unchanged = _same_state(repository, state)
    if exit_codes == [0] and unchanged:
        _store_small(path, 200, headers, content)
        directory = cache_directory(ADVERTISEMENTS)
        _evict_now_and_then(directory, instance.git_advertisement_cache_max_mb * MIB)
    return _answer(HttpResponse(content), headers, "store")


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


def _same_state(repository: Path, state: bytes, objects: bytes | None = None) -> bool:
    try:
        same = refs_state(repository) == state
        return same and (objects is None or objects_state(repository) == objects)
    except OSError:
        return False


def upload_pack(request, repository: Path, run: Callable, *, config: dict[str, str]):
    """Answer a `git-upload-pack` POST: ls-refs from the advertisement cache, a fetch from the
    pack cache, anything else with `run(config=config, body=...)` (git) uncached."""
    instance = InstanceSettings.current()
    prefix, whole = read_ahead(request)
    encoding = request.META.get("HTTP_CONTENT_ENCODING", "")
    content_type = request.META.get("CONTENT_TYPE", "")  # git refuses another (415): so does a hit
    kind = request_kind(prefix, encoding) if whole else None
    if kind == ADVERTISEMENTS:
        return advertisement(
            request,
            repository,
            functools.partial(run, body=PrefixedBody(prefix)),
            config=config,
            parts=(encoding, content_type, prefix),
        )

    def git(**options):  # a fresh body each time: a follower may need to run it again
        return run(config=config, body=PrefixedBody(prefix), **options)

    if kind != PACKS or not instance.git_pack_cache_enabled:
        rest = None if whole else request.META["wsgi.input"]
        return _bypass(run(config=config, body=PrefixedBody(prefix, rest)))
    try:
        state, objects = refs_state(repository), objects_state(repository)
    except OSError:
        return _bypass(git())
    key = _key(
        PACKS,
        git_version(),
        str(repository),
        request.META.get("HTTP_GIT_PROTOCOL", ""),
        _config_part(config),
        encoding,
        content_type,
        state,
        objects,
        prefix,
    )
    cache = PackCache(
        path=_entry_path(PACKS, key),
        repository=repository,
        state=(state, objects),
        max_bytes=instance.git_pack_cache_max_mb * MIB,
        run=git,
        sender=file_sender(request.META),
    )
    return cache.respond()


class PackCache:
    """One pack request's way through the pack cache: hit (a finished entry), follow (one being
    written), store (this request's answer becomes the entry: git writes it there at its own
    pace, and this client follows it like the others) or bypass."""

    def __init__(self, *, path: Path, repository: Path, state: tuple, max_bytes: int, run, sender):
        self.path, self.repository, self.state = path, repository, state
        self.max_bytes, self.run, self.sender = max_bytes, run, sender

    def respond(self):
        for _ in range(3):  # an entry may end, or be claimed, between two looks
            try:
                fd = os.open(self.path, os.O_RDONLY)
            except FileNotFoundError:
                reserve = pack_size_bound(self.repository)
                if reserve > self.max_bytes or not has_room(self.path.parent.parent, reserve):
                    return _bypass(self.run())
                try:
                    writer = EntryWriter.claim(self.path, reserve)
                except FileExistsError:
                    continue
                return _bypass(self.run()) if writer is None else self.store(writer)
            except OSError:
                break
            try:
                response = self._from_entry(fd)
            except OSError as error:
                logger.warning("Git cache entry %s unreadable: %s", self.path.name, error)
                response = None
            if response is not None:
                return response
            os.close(fd)
        return _bypass(self.run())

    def _from_entry(self, fd: int):
        """The answer from an entry open as `fd` (which it then owns), or None if it cannot
        give one (a broken or abandoned entry is removed)."""
        header = _read_header(fd)
        if header is None:
            _remove_if_same(self.path, fd)
            return None
        state, length, digest = header
        if state == WRITING:
            return self._following(fd, "follow")
        head = _read_head(fd)
        if state != COMPLETE or head is None or not _intact(fd, length, digest):
            if state == COMPLETE:
                logger.warning("Git cache entry %s is corrupt: removed, rebuilt", self.path.name)
            _remove_if_same(self.path, fd)
            return None
        status, headers, start = head
        _touch(self.path, fd)
        file = os.fdopen(fd, "rb")
        file.seek(start)
        response = FileResponse(file, status=status)
        response.headers.pop("Content-Disposition", None)
        return _answer(response, headers, "hit")

    def _writer_gone(self, fd: int) -> bool:
        """Whether the entry is still WRITING with no live writer (its process stopped):
        then it is removed (it will never be finished)."""
        header = _read_header(fd)
        if header is None or header[0] != WRITING or _writer_alive(fd):
            return False
        if (_read_header(fd) or (None,))[0] != WRITING:
            return False  # it finished between the two looks
        logger.warning("Git cache entry %s was left unfinished: removed", self.path.name)
        _remove_if_same(self.path, fd)
        return True

    def _following(self, fd: int, cache_state: str):
        """The answer that follows the entry being written open as `fd` (which it then owns),
        or None if there will be none: git's answer is not a 200, or its writer failed."""
        head = self._wait_for_start(fd)
        if head is None:
            return None
        status, headers, start = head
        closer = _Once(os.close, fd)
        content = _Closing(self._follow(fd, start, closer), closer)
        return _answer(StreamingHttpResponse(content, status=status), headers, cache_state)

    def _wait_for_start(self, fd: int) -> tuple | None:
        """An entry being written: git's status and headers once it has written them, or None
        if they are not a 200 or the writer failed or is gone (an abandoned entry is
        removed)."""
        wait = FOLLOW_FIRST_WAIT_SECONDS
        while True:
            if self._writer_gone(fd):
                return None
            head = _read_head(fd)
            if head is not None:
                return head if head[0] == 200 else None
            header = _read_header(fd)
            if header is None or header[0] != WRITING:
                return None
            time.sleep(wait)
            wait = min(wait * 2, FOLLOW_LONGEST_WAIT_SECONDS)

    def _follow(self, fd: int, start: int, closer: "_Once") -> Iterator[bytes]:
        """The entry's bytes as its writer writes them: what is there once it is CHUNK_SIZE,
        or FOLLOW_BATCH_SECONDS after the last piece. Under gunicorn each piece goes out with
        sendfile (tokens_site.git_http.sendfile), else it is read and yielded. If the writer
        fails, stops or makes no progress for FOLLOW_STALL_SECONDS, see _instead()."""
        offset = written = start
        sent_at = progress = time.monotonic()
        wait = FOLLOW_FIRST_WAIT_SECONDS
        try:
            while True:
                state, length, _ = _read_header(fd) or (FAILED, 0, None)
                if state == FAILED:
                    yield from self._instead(fd, offset, start)
                    return
                finished = state in (COMPLETE, DISCARDED)
                end = HEADER_SIZE + length if finished else os.fstat(fd).st_size
                now = time.monotonic()
                if end > written:
                    written, progress = end, now
                if end > offset and (
                    finished or end - offset >= CHUNK_SIZE or now - sent_at >= FOLLOW_BATCH_SECONDS
                ):
                    yield from self._piece(fd, offset, end)
                    offset, sent_at, wait = end, now, FOLLOW_FIRST_WAIT_SECONDS
                    continue
                if finished:
                    return
                stalled = now - progress > FOLLOW_STALL_SECONDS
                if stalled or self._writer_gone(fd):
                    yield from self._instead(fd, offset, start)
                    return
                time.sleep(wait)
                wait = min(wait * 2, FOLLOW_LONGEST_WAIT_SECONDS)
        finally:
            closer()

    def _piece(self, fd: int, offset: int, end: int) -> Iterator[bytes]:
        """Bytes [offset, end) of the entry to the client: sent with sendfile, or yielded."""
        if end <= offset:
            return
        if self.sender is not None and self.sender.usable():
            self.sender.send(fd, offset, end - offset)
            return
        while offset < end:
            chunk = os.pread(fd, min(CHUNK_SIZE, end - offset), offset)
            if not chunk:
                raise OSError(f"Git cache entry {self.path.name} ended early")
            offset += len(chunk)
            yield chunk

    def _instead(self, fd: int, offset: int, start: int) -> Iterator[bytes]:
        """After the entry failed, having sent it up to `offset`: git's own answer if nothing
        was sent yet; else the rest of what git wrote before it failed (its error, or a pack
        cut short, which the client reports), as git itself would have ended."""
        if offset > start:
            logger.warning(
                "Git cache entry %s failed after %d bytes were sent from it",
                self.path.name,
                offset - start,
            )
            yield from self._piece(fd, offset, os.fstat(fd).st_size)
            return
        logger.warning("Git cache entry %s failed: served uncached", self.path.name)
        response = self.run()
        try:
            if response.streaming:
                yield from response.streaming_content
            else:  # git could not start: its 500 cannot replace the 200 already sent
                raise OSError(f"git could not answer for {self.path.name}")
        finally:
            close_content(response)

    def store(self, writer: EntryWriter):
        """Start git writing its answer into the claimed entry; a thread of its own waits for
        it and finishes the entry, and this client follows the entry like the others."""
        try:
            git = self.run(backend=write_http_backend, output=writer.output)
        except BaseException:
            os.close(writer.reader)
            writer.finish(complete=False, keep=False)
            raise
        finally:
            writer.close_output()
        watcher = threading.Thread(
            target=self._fill,
            args=(git, writer),
            name=f"git-cache-{self.path.name[:12]}",
            daemon=True,
        )
        try:
            watcher.start()
            response = self._following(writer.reader, "store")
        except BaseException:
            os.close(writer.reader)
            if not watcher.is_alive():  # it never ran: nothing else will end git or the entry
                git.abandon()
                writer.finish(complete=False, keep=False)
            raise
        if response is None:
            os.close(writer.reader)
            return _bypass(self.run())
        return response

    def _fill(self, git: GitWriter, writer: EntryWriter) -> None:
        """Wait for git, hashing what it writes as it comes (a git that writes nothing for
        FOLLOW_STALL_SECONDS is stopped), then finish the entry (always: followers wait for
        it). It is kept if git's answer is a whole 200 and the repository did not change."""
        complete = False
        try:
            progress = time.monotonic()
            while git.wait(FILL_LOOK_SECONDS) is None:
                if writer.absorb():
                    progress = time.monotonic()
                elif time.monotonic() - progress > FOLLOW_STALL_SECONDS:
                    logger.warning("Git cache entry %s: git stalled, stopped", self.path.name)
                    git.stop()
            returncode = git.finish()
            writer.absorb()
            head = _read_head(writer.fd)
            complete = returncode == 0 and head is not None and head[0] == 200
        except Exception:
            logger.exception("Git cache entry %s: git's answer broke off", self.path.name)
        finally:
            git.abandon()  # if something above failed: never leave git running unwatched
            keep = (
                complete
                and writer.length <= self.max_bytes
                and _same_state(self.repository, *self.state)
            )
            if writer.finish(complete=complete, keep=keep):
                evict(self.path.parent.parent, self.max_bytes)


def close_content(response) -> None:
    """Close what a response streams (git's answer: git is let finish), without what
    HttpResponse.close() also does (the request_finished signal: this request, or this
    thread, is not finished)."""
    for closer in response._resource_closers:
        closer()
    response._resource_closers.clear()


class _Once:
    """`function(*args)`, run the first time it is called only."""

    def __init__(self, function, *args):
        self.function, self.args, self.done = function, args, False

    def __call__(self) -> None:
        if not self.done:
            self.done = True
            self.function(*self.args)


class _Closing:
    """A response's content: iterates `iterator`; closing it (Django closes a response's
    content when the response ends, whether it was read or not) also runs `closer`."""

    def __init__(self, iterator: Iterator[bytes], closer: _Once):
        self.iterator, self.closer = iterator, closer

    def __iter__(self) -> Iterator[bytes]:
        return self.iterator

    def close(self) -> None:
        try:
            self.iterator.close()
        finally:
            self.closer()
