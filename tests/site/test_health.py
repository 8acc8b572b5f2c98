"""/-/liveness, /-/readiness and /-/whoami."""

import base64
from datetime import timedelta

import pytest
from django.db import DatabaseError

from tests.factories import ProjectFactory, make_deploy_token, make_personal_token
from tokens_site.tokens import utc_today


@pytest.mark.django_db
def test_liveness_needs_nothing(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/-/liveness")
    assert response.status_code == 200 and response.content == b"ok\n"


@pytest.mark.django_db
def test_readiness_reads_the_database_once(client, django_assert_num_queries):
    with django_assert_num_queries(1):
        response = client.get("/-/readiness")
    assert response.status_code == 200


@pytest.mark.django_db
def test_readiness_says_when_the_database_is_down(client, monkeypatch):
    from tokens_site import views

    def down(value):
        raise DatabaseError("connection refused")

    monkeypatch.setattr(views._instance_settings_row, "row", down)
    response = client.get("/-/readiness")
    assert response.status_code == 503 and response.content == b"database unavailable\n"


@pytest.mark.django_db
def test_whoami_describes_the_credential(client):
    token, value = make_deploy_token(ProjectFactory(), scopes=["read_repository", "read_registry"])
    header = "Basic " + base64.b64encode(f"{token.username}:{value}".encode()).decode()
    assert client.get("/-/whoami", HTTP_AUTHORIZATION=header).json() == {
        "kind": "deploy_token",
        "username": token.username,
        "scopes": ["read_registry", "read_repository"],
        "expires_at": str(utc_today() + timedelta(days=365)),  # required expiry,
    }
    personal, value = make_personal_token(scopes=["api"])
    header = "Basic " + base64.b64encode(f"anyone:{value}".encode()).decode()
    assert client.get("/-/whoami", HTTP_AUTHORIZATION=header).json()["username"] == (
        personal.user.username
    )
    assert client.get("/-/whoami").status_code == 401
