"""`./dev serve --port N` as a new user runs it (issue 20): in a fresh clone of this repository
(sharing this virtualenv), the banner names the real address once gunicorn listens, and the
project page's clone URL follows the port. Mistakes are one line and a non-zero status."""

import os
import re
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from tests.e2e.conftest import free_port
from tests.processes import BASE_DIR

pytestmark = pytest.mark.e2e


def clean_env(**extra) -> dict:
    """A user's environment: none of the test run's settings (database, settings module)."""
    return {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), **extra}


@pytest.fixture
def clone(tmp_path):
    target = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(BASE_DIR), str(target)], check=True)
    (target / ".venv").symlink_to(BASE_DIR / ".venv")
    # The shared virtualenv is up to date: the clone's newer pyproject.toml must not reinstall
    # it (that would point its editable install at the clone).
    os.utime(target / "pyproject.toml", (0, 0))
    return target


def test_serve_on_another_port_and_the_clone_url_follows(clone):
    port = free_port()
    log = (clone / "serve.log").open("w")
    server = subprocess.Popen(
        ["./dev", "serve", "--port", str(port)],
        cwd=clone,
        env=clean_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while f"Serving on http://127.0.0.1:{port}" not in (clone / "serve.log").read_text():
            assert server.poll() is None, (clone / "serve.log").read_text()
            assert time.monotonic() < deadline, (clone / "serve.log").read_text()
            time.sleep(0.5)
        created = subprocess.run(
            [str(clone / ".venv" / "bin" / "python"), "manage.py", "shell", "-c", CREATE_PROJECT],
            cwd=clone,
            env=clean_env(),
            capture_output=True,
            text=True,
        )
        assert created.returncode == 0, created.stderr
        page = urllib.request.urlopen(f"http://127.0.0.1:{port}/tanuki/web").read().decode()
        assert re.search(rf'value="http://127\.0\.0\.1:{port}/tanuki/web\.git"', page), page[:2000]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        log.close()


CREATE_PROJECT = """
from django.contrib.auth import get_user_model
from tokens_site.models import Visibility
from tokens_site.services import group_create, project_create
root = get_user_model().objects.get(username="root")
group = group_create(actor=root, name="Tanuki", path="tanuki", visibility=Visibility.PUBLIC)
project_create(actor=root, group=group, name="Web", path="web", visibility=Visibility.PUBLIC)
"""


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--port", "0"], "The port must be a number from 1 to 65535, not '0'."),
        (["--port", "70000"], "The port must be a number from 1 to 65535, not '70000'."),
        (["--port", "eighty"], "The port must be a number from 1 to 65535, not 'eighty'."),
        (["--host", "192.0.2.1"], "Cannot listen on 192.0.2.1:8000"),
        (["--verbose"], "Unknown option for serve: --verbose"),
    ],
)
def test_serve_mistakes_are_one_line(arguments, message):
    done = subprocess.run(
        ["./dev", "serve", *arguments],
        cwd=BASE_DIR,
        env=clean_env(),
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0
    assert done.stderr.strip().startswith(message)
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_busy_port_says_how_to_pick_another():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            ["./dev", "serve", "--port", str(port)],
            cwd=BASE_DIR,
            env=clean_env(),
            capture_output=True,
            text=True,
        )
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"Port {port} on 127.0.0.1 is in use: pick another with ./dev serve --port {port + 1}."
    )


def test_help_lists_the_commands_and_options():
    done = subprocess.run(["./dev", "--help"], cwd=BASE_DIR, capture_output=True, text=True)
    assert done.returncode == 0
    for word in ("serve [--port N] [--host H]", "test", "setup", "PORT and HOST"):
        assert word in done.stdout


def test_a_configuration_error_stops_it_once_with_the_message(clone):
    done = subprocess.run(
        ["./dev", "serve", "--port", str(free_port())],
        cwd=clone,
        env=clean_env(REGISTRY_URL="127.0.0.1:0"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert output.count("Configuration error: REGISTRY_URL must start with http://") == 1
    assert "Booting worker" not in output
