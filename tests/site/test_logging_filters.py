"""Refusals are logged in one line; server errors keep their traceback
(tokens_site.logging_filters, installed on `django.request` by settings.LOGGING). A refusal of
credentials is logged by the site itself, once, without the credentials
(tokens_site.auth.refusals.log_refusal)."""

import base64
import logging
import sys

import pytest
from django.test import Client

from tests.broken_urls import BROKEN, Bug
from tests.factories import make_personal_token
from tests.roles import visit
from tokens_site.logging_filters import ClientErrorsInOneLine
from tokens_site.tokens import PERSONAL_TOKEN_PREFIX, token_generate

pytestmark = pytest.mark.django_db

PROJECT_SETTINGS = "/tanuki/backend/api/-/settings/repository"


def request_records(caplog) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == "django.request"]


@pytest.mark.parametrize(
    ("role", "status", "line"),
    [
        ("developer", 403, f"Forbidden (Permission denied): {PROJECT_SETTINGS}"),
        ("non_member", 404, f"Not Found: {PROJECT_SETTINGS}"),
    ],
)
def test_a_refusal_is_logged_in_one_line_without_a_traceback(
    client, world, caplog, role, status, line
):
    caplog.set_level(logging.INFO)
    response = visit(client, world, role, "get", PROJECT_SETTINGS)
    assert response.status_code == status
    [record] = request_records(caplog)
    assert record.status_code == status
    assert record.getMessage() == line
    assert record.exc_info is None
    assert "Traceback" not in caplog.text


def test_an_unreadable_request_is_logged_in_one_line_without_a_traceback(client, caplog):
    caplog.set_level(logging.INFO)
    response = client.post(
        "/users/sign_in", data=b"not multipart", content_type="multipart/form-data"
    )
    assert response.status_code == 400
    [record] = request_records(caplog)
    assert record.getMessage() == "Bad request (Unable to parse request body): /users/sign_in"
    assert record.exc_info is None
    assert "Traceback" not in caplog.text


@pytest.mark.urls("tests.broken_urls")
def test_a_server_error_keeps_its_traceback(caplog):
    caplog.set_level(logging.INFO)
    response = Client(raise_request_exception=False).get(BROKEN)
    assert response.status_code == 500
    [record] = request_records(caplog)
    assert record.getMessage() == f"Internal Server Error: {BROKEN}"
    assert record.exc_info[0] is Bug
    assert "Traceback" in caplog.text and "a bug in a page" in caplog.text


@pytest.mark.parametrize(("status", "kept"), [(400, False), (404, False), (500, True), (503, True)])
def test_the_filter_keeps_tracebacks_of_server_errors_only(status, kept):
    try:
        raise Bug("a bug")
    except Bug:
        record = logging.makeLogRecord(
            {"msg": "an answer", "exc_info": sys.exc_info(), "status_code": status}
        )
    assert ClientErrorsInOneLine().filter(record) is True  # the line itself is always kept
    assert (record.exc_info is not None) == kept


def test_records_without_a_status_are_left_as_they_are():
    record = logging.makeLogRecord({"msg": "something else", "exc_info": (Bug, Bug(), None)})
    assert ClientErrorsInOneLine().filter(record) is True
    assert record.exc_info is not None


@pytest.fixture
def console():
    """What the site's console log handler writes, for the duration of a test."""
    import io

    [handler] = [
        handler
        for handler in logging.getLogger().handlers
        if isinstance(handler, logging.StreamHandler)
        and any(isinstance(f, ClientErrorsInOneLine) for f in handler.filters)
    ]
    written = io.StringIO()
    previous = handler.setStream(written)
    yield written
    handler.setStream(previous)


@pytest.mark.parametrize(
    ("extra", "line"),
    [
        ({"HTTP_HOST": "evil.example"}, "Invalid HTTP_HOST header: 'evil.example'"),
        ({"QUERY_STRING": "&".join(f"f{n}=x" for n in range(1100))}, "The number of GET/POST"),
    ],
)
def test_a_suspicious_request_is_logged_in_one_line_too(client, console, extra, line):
    response = client.get("/", **extra)
    assert response.status_code == 400
    log = console.getvalue()
    assert line in log
    assert "Traceback" not in log and len(log.strip().splitlines()) == 1


# --- Refusals of credentials (tokens_site.auth.refusals.log_refusal) ------------------------------

GIT_PROBE = "/tanuki/backend/api.git/info/refs"
GIT_READ = "read_repository or write_repository."


def basic(username: str, secret: str) -> str:
    return "Basic " + b64(f"{username}:{secret}")


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def wrong_token(world) -> str:
    """A well-formed token (its checksum holds) that was never issued: looked up, not found."""
    return token_generate(PERSONAL_TOKEN_PREFIX)


def mistyped_token(world) -> str:
    """A real token with its last character changed: refused on its checksum, in memory."""
    _, value = make_personal_token(world["users"]["developer"], scopes=["read_repository"])
    return value[:-1] + ("A" if value[-1] != "A" else "B")


def token_without_the_scope(world) -> str:
    """A developer's own token, valid, but for the registry only: no Git."""
    _, value = make_personal_token(world["users"]["developer"], scopes=["read_registry"])
    return value


@pytest.mark.parametrize(
    ("credential", "status", "reason"),
    [
        (wrong_token, 401, "no usable credentials"),
        (mistyped_token, 401, "no usable credentials"),
        (token_without_the_scope, 403, "Insufficient scope: this token needs api or " + GIT_READ),
    ],
)
def test_a_refused_git_request_is_logged_once_by_the_site_and_never_by_django(
    client, world, caplog, credential, status, reason
):
    """One INFO line on `tokens_site.auth` with method, path, status and reason, and no token;
    none on `django.request`, which the site's line stands for."""
    secret = credential(world)
    caplog.set_level(logging.DEBUG)
    response = client.get(
        GIT_PROBE,
        {"service": "git-upload-pack"},
        HTTP_AUTHORIZATION=basic("developer", secret),
    )
    assert response.status_code == status
    [line] = [record for record in caplog.records if record.name == "tokens_site.auth"]
    assert line.levelno == logging.INFO
    message = line.getMessage()
    assert message == f"Refused GET {GIT_PROBE} (git) from 127.0.0.1: {status} {reason}"
    assert line.exc_info is None
    assert request_records(caplog) == []
    for shown in (secret, b64(secret), b64(f"developer:{secret}"), basic("developer", secret)):
        assert shown not in caplog.text
        assert all(shown not in record.getMessage() for record in caplog.records)
