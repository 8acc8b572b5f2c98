"""A crash while a secret is in hand never shows the secret in Django's error report (the
email to ADMINS, the DEBUG page): every function that holds one is @sensitive_variables."""

import base64
import functools
import secrets
import sys

import pytest
from django.test import RequestFactory
from django.views.debug import ExceptionReporter

from tests.factories import GroupFactory, ProjectFactory, make_deploy_token, make_personal_token
from tokens_site.auth.families import GIT
from tokens_site.auth.pipeline import authenticate

pytestmark = pytest.mark.django_db


def report_of_a_crash_in(monkeypatch, target: str, request) -> str:
    """The error report of a request whose authentication crashes in `target`."""

    def crash(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(target, crash)
    try:
        authenticate(request, GIT)
    except RuntimeError:
        reporter = ExceptionReporter(request, *sys.exc_info())
        return reporter.get_traceback_text() + reporter.get_traceback_html()
    raise AssertionError("it did not crash")


@pytest.mark.parametrize(
    "target",
    [
        "tokens_site.token_format.hmac.new",  # digesting the value, before the lookup
        "tokens_site.models.tokens.TokenRecord.touch",  # after the token was found
    ],
)
def test_a_personal_token_never_shows_in_a_crash_report(monkeypatch, target):
    _, value = make_personal_token(scopes=["read_repository"])
    request = RequestFactory().get("/", HTTP_AUTHORIZATION=basic("someone", value))
    report = report_of_a_crash_in(monkeypatch, target, request)
    assert "the database went away" in report
    assert_absent(report, "someone", value)


def test_a_deploy_token_never_shows_in_a_crash_report(monkeypatch):
    token, value = make_deploy_token(ProjectFactory(group=GroupFactory()))
    request = RequestFactory().get("/", HTTP_AUTHORIZATION=basic(token.username, value))
    report = report_of_a_crash_in(monkeypatch, "tokens_site.token_format.hmac.new", request)
    assert "the database went away" in report
    assert_absent(report, token.username, value)


def basic(username: str, secret: str) -> str:
    return "Basic " + b64(f"{username}:{secret}")


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def assert_absent(report: str, username: str, secret: str) -> None:
    """Neither the secret nor the Authorization header that carried it, base64'd, shows: not
    the value, not its base64, not the `username:secret` pair's (the header's credentials)."""
    assert secret not in report
    assert b64(secret) not in report
    assert b64(f"{username}:{secret}") not in report
    assert basic(username, secret) not in report


def report_of_a_crash(monkeypatch, target: str, action) -> str:
    """The error report of `action()` crashing in `target`."""

    def crash(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(target, crash)
    try:
        action()
    except RuntimeError:
        kind, error, traceback = sys.exc_info()
        # From the code under test down: this helper's own frame (holding `action`) is not
        # the site's.
        reporter = ExceptionReporter(None, kind, error, traceback.tb_next)
        return reporter.get_traceback_text() + reporter.get_traceback_html()
    raise AssertionError("it did not crash")


def test_a_rotated_tokens_new_value_never_shows_in_a_crash_report(monkeypatch):
    from personal_tokens.services import personal_token_rotate

    token, _ = make_personal_token()
    generated = []
    real_generate = __import__("tokens_site.tokens", fromlist=["token_generate"]).token_generate

    def remember(prefix):
        generated.append(real_generate(prefix))
        return generated[-1]

    monkeypatch.setattr("tokens_site.rotation.token_generate", remember)
    report = report_of_a_crash(
        monkeypatch,
        "tokens_site.rotation.audit_event_record",
        functools.partial(personal_token_rotate, actor=None, token=token),
    )
    assert generated and generated[0] not in report


def test_a_new_users_password_never_shows_in_a_crash_report(monkeypatch):
    from tests.factories import AdminFactory
    from tokens_site.services import user_create

    password = secrets.token_urlsafe(24)  # not in this file's source, which reports show
    report = report_of_a_crash(
        monkeypatch,
        "django.contrib.auth.base_user.AbstractBaseUser.save",
        # No frame of the test's own holds it: partial calls user_create directly.
        functools.partial(
            user_create,
            actor=AdminFactory(),
            username="newbie",
            email="n@example.com",
            password=password,
        ),
    )
    assert password not in report
