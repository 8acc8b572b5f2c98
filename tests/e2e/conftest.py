"""Live servers and real programs for the end-to-end tests.

`site_server` runs the site under gunicorn (the README's server) in its own processes, against
the test database, on a free loopback port, and stops it after the test. The tests drive it with
the real programs users run (Chromium through Playwright, git, pip, ...). A missing program skips
its tests, unless TOKENS_E2E_REQUIRED=1 (CI sets it), which turns the skip into a failure.
"""

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.cache import cache

from tests.factories import GroupFactory, ProjectFactory, UserFactory
from tests.processes import BASE_DIR, process_env

# Playwright's sync API keeps an event loop in this thread; the ORM calls the tests make
# between browser steps are still plain synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

SERVER_START_TIMEOUT_SECONDS = 30
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def require_program(path_or_name: str) -> str:
    found = shutil.which(path_or_name)
    if found:
        return found
    message = f"{path_or_name} is not installed (Debian package; see README, Tests)"
    if os.environ.get("TOKENS_E2E_REQUIRED") == "1":
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen
    log_path: Path

    @property
    def host(self) -> str:
        return self.url.removeprefix("http://")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def start_server(
    tmp_path: Path,
    *,
    extra_env: dict[str, str] | None = None,
    host: str = "127.0.0.1",
    wrapper: list[str] | None = None,
) -> LiveServer:
    """gunicorn on a free loopback port, serving the site as http://<host>:<port> (`host`
    "localhost" for what browsers refuse at an IP address: WebAuthn), started through
    `wrapper` (a command that ends by running its arguments) if given."""
    port = free_port()
    log_path = tmp_path / f"gunicorn-{port}.log"
    env = process_env(EXTERNAL_URL=f"http://{host}:{port}", **(extra_env or {}))
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                *(wrapper or []),
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                "tokens_site/gunicorn.conf.py",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "tokens_site.wsgi",
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = LiveServer(url=f"http://{host}:{port}", process=process, log_path=log_path)
    deadline = time.monotonic() + SERVER_START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited at start:\n{server.log()}")
        try:
            urllib.request.urlopen(f"{server.url}/users/sign_in", timeout=2)  # noqa: S310
            return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    stop_server(server)
    raise RuntimeError(f"gunicorn did not answer within {SERVER_START_TIMEOUT_SECONDS}s")


def stop_server(server: LiveServer) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()


@pytest.fixture
def site_server(transactional_db, tmp_path):
    """The site under gunicorn, sharing this test's (committed) database."""
    cache.clear()
    server = start_server(tmp_path)
    yield server
    stop_server(server)


@pytest.fixture(scope="session")
def chromium_browser():
    require_program(CHROMIUM)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


def sign_in(page, server: LiveServer, username: str, password: str) -> None:
    page.goto(f"{server.url}/users/sign_in")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server.url}/")


# Every document reports the Content-Security-Policy violations it sees to the test (the
# `reportCspViolation` binding), whatever page it is and however it was reached.
CSP_VIOLATION_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.reportCspViolation(
    `${event.effectiveDirective} refused ${event.blockedURI || "(inline)"} on ` +
    `${document.location.href} (${event.sourceFile || "the page"}, line ${event.lineNumber})`
  );
}, true);
"""
CSP_CONSOLE_MARKERS = ("Content Security Policy", "Refused to")


def is_html_document(response) -> bool:
    """A response a tab shows as a page (or a frame): HTML fetched as a document."""
    content_type = response.headers.get("content-type", "")
    return response.request.resource_type == "document" and content_type.startswith("text/html")


@pytest.fixture
def page(chromium_browser):
    """A new browser tab. The test fails at teardown if any page it showed broke the site's
    Content-Security-Policy, seen either in the browser's console or as a
    `securitypolicyviolation` event, or came without the policy (an HTML document without a
    Content-Security-Policy header): every browser test checks the policy holds."""
    from playwright.sync_api import Error as PlaywrightError

    context = chromium_browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    violations: list[str] = []

    def console_message(message) -> None:
        if any(marker in message.text for marker in CSP_CONSOLE_MARKERS):
            violations.append(f"console: {message.text}")

    def response_received(response) -> None:
        if is_html_document(response) and not response.headers.get("content-security-policy"):
            violations.append(f"no policy: {response.status} {response.url}")

    context.on("console", console_message)
    context.on("response", response_received)
    context.expose_binding("reportCspViolation", lambda source, text: violations.append(text))
    context.add_init_script(CSP_VIOLATION_LISTENER)
    page = context.new_page()
    yield page
    # A round trip, so that reports already on their way arrive first (unless the page is
    # closed or crashed: then what arrived is what there is).
    with contextlib.suppress(PlaywrightError):
        page.evaluate("0")
    context.close()
    if violations:
        pytest.fail("Content-Security-Policy violations:\n" + "\n".join(violations))


# Git: the real client, and a group with projects that have commits (tests of Git over HTTP).
GIT_ENV = {
    **os.environ,
    "GIT_TERMINAL_PROMPT": "0",  # fail instead of asking for a password
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


def git(*args, cwd=None, check=True) -> subprocess.CompletedProcess:
    result = subprocess.run(
        ["git", *args], cwd=cwd, env=GIT_ENV, capture_output=True, text=True, timeout=120
    )
    if check and result.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed:\n{result.stderr}")
    return result


def url(server, project, username=None, secret=None) -> str:
    auth = f"{quote(username, safe='')}:{quote(secret, safe='')}@" if secret else ""
    return f"http://{auth}{server.host}/{project.full_path}.git"


@pytest.fixture
def tanuki(transactional_db):
    """tanuki/awesome_project with one commit on main, and tanuki/a/b/deep (two subgroups down)."""
    require_program("git")
    owner = UserFactory()
    top = GroupFactory(path="tanuki", owner=owner)
    project = ProjectFactory(group=top, path="awesome_project")
    deep = ProjectFactory(group=GroupFactory(parent=GroupFactory(parent=top, path="a"), path="b"))
    for repository in (project, deep):
        seed = repository.repository_path.parent / f"seed-{repository.pk}"
        git("init", "-q", "-b", "main", str(seed))
        (seed / "README.md").write_text(f"# {repository.name}\n")
        git("add", "README.md", cwd=seed)
        git("commit", "-q", "-m", "Initial commit", cwd=seed)
        git("push", "-q", str(repository.repository_path), "main", cwd=seed)
    return {"group": top, "project": project, "deep": deep, "owner": owner}


def start_docker_registry(tmp_path: Path, name: str, extra_config: str = ""):
    """Debian's docker-registry on a free loopback port (`extra_config`: more of its YAML, e.g.
    an `auth:` section); returns (process, "127.0.0.1:<port>"). The caller stops it."""
    program = require_program("docker-registry")
    port = free_port()
    config = tmp_path / f"{name}.yml"
    config.write_text(
        f"""version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {tmp_path / f"{name}-data"}
http:
  addr: 127.0.0.1:{port}
{extra_config}"""
    )
    log_path = tmp_path / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [program, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, f"127.0.0.1:{port}"
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError(log_path.read_text()) from None
            time.sleep(0.1)


def stop_process(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        process.wait(timeout=10)
