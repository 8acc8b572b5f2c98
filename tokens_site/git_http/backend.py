"""Run `git http-backend` (a CGI program) for one request, streaming both ways: the request
body (chunked or not, gzip'd or not) goes to git as it arrives, and git's answer goes to the
client as it is produced, so clones and pushes of any size use constant memory.

We bridge CGI ourselves because nothing maintained fits: Django has no CGI gateway, Paste's
CGIApplication passes on only a body with a Content-Length (a big push comes chunked), and
dulwich serves Git in Python instead of running git.

When the client goes away mid-request, git is still left to finish on its own: the body ends
(the feeder closes git's stdin) and the rest of git's answer is read and thrown away. Git must
exit normally: one that dies of a signal (SIGPIPE from a closed stdout, our SIGTERM) keeps the
quarantine directory of the push it was receiving (objects/tmp_objdir-incoming-*) for good,
since git 2.38.2 removes it only at a normal exit. `manage.py housekeeping` removes the ones
a stopped git leaves.
"""

import contextlib
import fcntl
import logging
import os
import select
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from django.http import HttpResponse, StreamingHttpResponse
from django.utils.translation import gettext

logger = logging.getLogger(__name__)

CHUNK_SIZE = 64 * 1024
# git's answer is read in pieces of up to this much, from a pipe made this large (Linux's
# default is 64 KiB): a pack streams in a sixteenth of the reads and writes.
ANSWER_CHUNK_SIZE = 1024 * 1024
# Request headers git http-backend understands, passed on as CGI variables.
PASSED_HEADERS = ("HTTP_CONTENT_ENCODING", "HTTP_GIT_PROTOCOL")
# How long git may go on after the answer has stopped streaming (the client left, or the answer
# is complete): a push it has received whole is still checked and stored. Then it is stopped.
FINISH_TIMEOUT_SECONDS = 300
# How long git gets to exit after SIGTERM before SIGKILL.
STOP_TIMEOUT_SECONDS = 5
FEEDER_JOIN_TIMEOUT_SECONDS = 5
# How much of a body git stopped reading is still read and thrown away (see _discard_rest()),
# unless the caller says otherwise.
LEFTOVER_MAX_BYTES = 1024 * 1024


def _environment(
    request,
    repository: Path,
    suffix: str,
    remote_user: str,
    config: dict[str, str],
    extra: dict[str, str],
) -> dict[str, str]:
    # No CONTENT_LENGTH: git then reads the body to its end, which the feeder marks by closing
    # git's stdin. With it, git http-backend (2.39) loops forever on a body cut short.
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(repository.parent),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_PROJECT_ROOT": str(repository.parent),
        "GIT_HTTP_EXPORT_ALL": "1",
        "PATH_INFO": f"/{repository.name}/{suffix}",
        "REQUEST_METHOD": request.method,
        "QUERY_STRING": request.META.get("QUERY_STRING", ""),
        "CONTENT_TYPE": request.META.get("CONTENT_TYPE", ""),
        "REMOTE_USER": remote_user,
        "REMOTE_ADDR": request.META.get("REMOTE_ADDR", ""),
    }
    for name in PASSED_HEADERS:
        if name in request.META:
            env[name] = request.META[name]
    # git's own way to take configuration from the environment (git >= 2.31).
    env["GIT_CONFIG_COUNT"] = str(len(config))
    for index, (key, value) in enumerate(config.items()):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    return {**env, **extra}


def _copy_body(source, sink) -> None:
    """Request body → git's stdin, in chunks (runs in its own thread). Ends when the body ends,
    when the client is gone (gunicorn's reader gives EOF or raises, not always an OSError) or
    when git stops reading; closing git's stdin then tells git the body has ended."""
    try:
        while chunk := source.read(CHUNK_SIZE):
            sink.write(chunk)
    except Exception as error:  # BrokenPipeError when git stopped reading
        logger.info("The request body stopped reaching git http-backend: %r", error)
    finally:
        with contextlib.suppress(OSError):
            sink.close()


def parse_headers(lines) -> tuple[int, list[tuple[str, str]]]:
    """The status and headers of a CGI answer's head (its lines, up to the empty one)."""
    status, headers = 200, []
    for line in lines:
        line = line.rstrip(b"\r\n")
        if not line:
            break
        name, _, value = line.decode("latin-1").partition(":")
        if name.lower() == "status":
            status = int(value.strip().split()[0])
        else:
            headers.append((name.strip(), value.strip()))
    return status, headers


def _start(request, repository, suffix, remote_user, config, environment, body, stdout):
    """git http-backend started, the request body (`body`, or the request's) going to it in a
    thread of its own: (process, feeder thread or None, stderr file, body)."""
    stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed in _finish)
    process = subprocess.Popen(
        ["git", "http-backend"],
        stdin=subprocess.PIPE,
        stdout=stdout,
        stderr=stderr,
        env=_environment(request, repository, suffix, remote_user, config or {}, environment or {}),
        # Its own process group: stopping git stops receive-pack and its helpers with it.
        process_group=0,
    )
    # The raw WSGI stream: Django's own wrapper would read nothing of a chunked body.
    if body is None and request.method == "POST":
        body = request.META["wsgi.input"]
    if body is None:
        process.stdin.close()
        feeder = None
    else:
        feeder = threading.Thread(target=_copy_body, args=(body, process.stdin), daemon=True)
        feeder.start()
    return process, feeder, stderr, body


def run_http_backend(
    request,
    *,
    repository: Path,
    suffix: str,
    remote_user: str,
    config: dict[str, str] | None = None,
    environment: dict[str, str] | None = None,
    leftover_max_bytes: int | None = LEFTOVER_MAX_BYTES,
    finished: Callable[[int], None] | None = None,
    body=None,
):
    """Answer `request` with what `git http-backend` says for `<repository>/<suffix>`, with
    `config` (git configuration keys and values) and `environment` (variables, for hooks) set
    for this run. `body` is what git reads (anything with `read(n)`), by default the request's
    body. Up to `leftover_max_bytes` (None: all) of a body git did not read to its end are read
    and thrown away after git's answer. `finished(returncode)` is called once git has exited."""
    process, feeder, stderr, body = _start(
        request, repository, suffix, remote_user, config, environment, body, subprocess.PIPE
    )
    with contextlib.suppress(OSError, AttributeError):  # Linux only; may be over its limit
        fcntl.fcntl(process.stdout.fileno(), fcntl.F_SETPIPE_SZ, ANSWER_CHUNK_SIZE)
    status, headers = parse_headers(iter(process.stdout.readline, b""))

    def stream() -> Iterator[bytes]:
        try:
            while chunk := process.stdout.read1(ANSWER_CHUNK_SIZE):
                yield chunk
        finally:
            _finish(process, feeder, stderr, body, leftover_max_bytes, finished)

    if not headers and process.poll() not in (None, 0):
        _finish(process, feeder, stderr, body, leftover_max_bytes, finished)
        return HttpResponse(gettext("git could not serve this request.") + "\n", status=500)
    response = StreamingHttpResponse(stream(), status=status)
    for name, value in headers:
        response[name] = value
    return response


def write_http_backend(
    request,
    *,
    repository: Path,
    suffix: str,
    remote_user: str,
    output: int,
    config: dict[str, str] | None = None,
    body=None,
) -> "GitWriter":
    """Start `git http-backend` as run_http_backend() does, with its whole answer (the CGI
    head, then the body) written straight into the file open as `output`, from its offset:
    the pack cache's writer. git then writes at its own pace, never waiting for us to read a
    pipe (read piece by piece in Python, a pack took git twice as long)."""
    process, feeder, stderr, body = _start(
        request, repository, suffix, remote_user, config, None, body, output
    )
    return GitWriter(process, feeder, stderr, body)


class GitWriter:
    """git http-backend writing its answer into a file (write_http_backend())."""

    def __init__(self, process: subprocess.Popen, feeder, stderr, body):
        self.process, self.feeder, self.stderr, self.body = process, feeder, stderr, body
        self.returncode: int | None = None
        # Wakes wait() the moment git exits (Linux >= 5.3); poll(), not select(): descriptors
        # may be over 1023.
        self._exited = select.poll()
        try:
            self._pidfd = os.pidfd_open(process.pid)
            self._exited.register(self._pidfd, select.POLLIN)
        except (AttributeError, OSError):
            self._pidfd = None

    def wait(self, timeout: float) -> int | None:
        """git's exit status, waiting up to `timeout` seconds for it; None if still running."""
        if self._pidfd is not None:
            self._exited.poll(timeout * 1000)
        elif self.process.poll() is None:
            time.sleep(timeout)
        return self.process.poll()

    def stop(self) -> None:
        if self.process.poll() is None:
            _stop(self.process)

    def abandon(self) -> None:
        """Stop git if it still runs and wait for it (a no-op once finished): what becomes of
        it when its watcher fails."""
        with contextlib.suppress(Exception):
            self.stop()
            self.finish()

    def finish(self) -> int:
        """git's exit status, once it has exited (stopped if need be; its errors logged). Once:
        later calls return the same."""
        if self.returncode is None:
            returncode = []
            _finish(
                self.process,
                self.feeder,
                self.stderr,
                self.body,
                LEFTOVER_MAX_BYTES,
                returncode.append,
            )
            self.returncode = returncode[0]
            if self._pidfd is not None:
                os.close(self._pidfd)
                self._pidfd = None
        return self.returncode


def _finish(
    process: subprocess.Popen,
    feeder: threading.Thread | None,
    stderr,
    body,
    leftover_max_bytes: int | None,
    finished: Callable[[int], None] | None,
) -> None:
    """Let git finish, then the request body. Git's answer is read to its end even when the
    client is gone (closing git's stdout instead would kill a push with SIGPIPE), then git is
    waited for; one that takes longer than FINISH_TIMEOUT_SECONDS is stopped. Then
    `finished`."""
    deadline = time.monotonic() + FINISH_TIMEOUT_SECONDS
    returncode = None
    if process.stdout is None or _drain(process.stdout, deadline):  # or it writes to a file
        with contextlib.suppress(subprocess.TimeoutExpired):
            returncode = process.wait(timeout=max(deadline - time.monotonic(), 0))
    if returncode is None:
        logger.warning(
            "git http-backend did not finish within %ss; stopping it", FINISH_TIMEOUT_SECONDS
        )
        returncode = _stop(process)
    if process.stdout is not None:
        process.stdout.close()
    if feeder is not None:
        feeder.join(timeout=FEEDER_JOIN_TIMEOUT_SECONDS)
        # Never while the feeder may still read the body (it is stuck on a silent client).
        if not feeder.is_alive():
            _discard_rest(body, leftover_max_bytes)
    if returncode:
        stderr.seek(0)
        logger.warning(
            "git http-backend exited with %s: %s",
            returncode,
            stderr.read().decode(errors="replace").strip(),
        )
    stderr.close()
    if finished is not None:
        finished(returncode)


def _drain(stdout, deadline: float) -> bool:
    """Read and throw away the rest of git's answer. False if it has not ended by `deadline`
    (time.monotonic())."""
    while (remaining := deadline - time.monotonic()) > 0:
        readable, _, _ = select.select([stdout], [], [], remaining)
        if readable and not stdout.read1(CHUNK_SIZE):
            return True
    return False


def _stop(process: subprocess.Popen) -> int:
    """Stop git and every process it started: SIGTERM, then SIGKILL."""
    for stop_signal in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, stop_signal)
        with contextlib.suppress(subprocess.TimeoutExpired):
            return process.wait(timeout=STOP_TIMEOUT_SECONDS)
    return process.wait()


def _discard_rest(body, max_bytes: int | None) -> None:
    """Read and throw away what git left of the request body (it stops reading a refused push),
    up to `max_bytes` (None: all). The client, still sending, then reads git's whole answer.
    Otherwise gunicorn closes the connection under it, and git shows only `curl 55 Send
    failure` and `Everything up-to-date`: the reset connection loses the answer."""
    left = max_bytes
    try:
        while left is None or left > 0:
            chunk = body.read(CHUNK_SIZE if left is None else min(CHUNK_SIZE, left))
            if not chunk:
                break
            if left is not None:
                left -= len(chunk)
    except Exception as error:
        logger.info("The rest of the request body could not be read: %r", error)
