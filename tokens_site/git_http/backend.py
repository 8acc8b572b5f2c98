"""Run `git http-backend` (a CGI program) for one request, streaming both ways: the request
body (chunked or not, gzip'd or not) goes to git as it arrives, and git's answer goes to the
client as it is produced, so clones and pushes of any size use constant memory."""

import contextlib
import logging
import os
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from django.http import HttpResponse, StreamingHttpResponse

logger = logging.getLogger(__name__)

CHUNK_SIZE = 64 * 1024
# Request headers git http-backend understands, passed on as CGI variables.
PASSED_HEADERS = ("HTTP_CONTENT_ENCODING", "HTTP_GIT_PROTOCOL")


def _environment(request, repository: Path, suffix: str, remote_user: str) -> dict[str, str]:
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
    # Absent for chunked bodies: then git reads the body to its end.
    if request.META.get("CONTENT_LENGTH"):
        env["CONTENT_LENGTH"] = request.META["CONTENT_LENGTH"]
    for name in PASSED_HEADERS:
        if name in request.META:
            env[name] = request.META[name]
    return env


def _copy_body(source, sink) -> None:
    """Request body → git's stdin, in chunks (runs in its own thread)."""
    try:
        while chunk := source.read(CHUNK_SIZE):
            sink.write(chunk)
    except (BrokenPipeError, OSError) as error:
        logger.info("git http-backend stopped reading the request: %s", error)
    finally:
        with contextlib.suppress(OSError):
            sink.close()


def _read_headers(stdout) -> tuple[int, list[tuple[str, str]]]:
    status, headers = 200, []
    while line := stdout.readline():
        line = line.rstrip(b"\r\n")
        if not line:
            break
        name, _, value = line.decode("latin-1").partition(":")
        if name.lower() == "status":
            status = int(value.strip().split()[0])
        else:
            headers.append((name.strip(), value.strip()))
    return status, headers


def run_http_backend(request, *, repository: Path, suffix: str, remote_user: str):
    """Answer `request` with what `git http-backend` says for `<repository>/<suffix>`."""
    stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed when the stream ends)
    process = subprocess.Popen(
        ["git", "http-backend"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        env=_environment(request, repository, suffix, remote_user),
    )
    # The raw WSGI stream: Django's own wrapper would read nothing of a chunked body.
    body = request.META["wsgi.input"] if request.method == "POST" else None
    if body is None:
        process.stdin.close()
        feeder = None
    else:
        feeder = threading.Thread(target=_copy_body, args=(body, process.stdin), daemon=True)
        feeder.start()
    status, headers = _read_headers(process.stdout)

    def stream() -> Iterator[bytes]:
        try:
            while chunk := process.stdout.read1(CHUNK_SIZE):
                yield chunk
        finally:
            _finish(process, feeder, stderr)

    if not headers and process.poll() not in (None, 0):
        _finish(process, feeder, stderr)
        return HttpResponse("git could not serve this request.\n", status=500)
    response = StreamingHttpResponse(stream(), status=status)
    for name, value in headers:
        response[name] = value
    return response


def _finish(process: subprocess.Popen, feeder: threading.Thread | None, stderr) -> None:
    process.stdout.close()
    try:
        returncode = process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        returncode = process.wait()
    if feeder is not None:
        feeder.join(timeout=5)
    if returncode:
        stderr.seek(0)
        logger.warning(
            "git http-backend exited with %s: %s",
            returncode,
            stderr.read().decode(errors="replace").strip(),
        )
    stderr.close()
