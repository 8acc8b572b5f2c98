"""Refusals are logged in one line; server errors keep their traceback
(tokens_site.logging_filters, installed on `django.request` by settings.LOGGING)."""

import logging
import sys

import pytest
from django.test import Client

from tests.broken_urls import BROKEN, Bug
from tests.roles import visit
from tokens_site.logging_filters import ClientErrorsInOneLine

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
