"""The container registry token service (/jwt/auth) in process: credentials, scopes, claims."""

import base64
from io import StringIO

import jwt
import pytest
from django.core.management import call_command

from tests.factories import (
    AdminFactory,
    GroupFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    make_deploy_token,
    make_personal_token,
)
from tokens_site.models import AccessLevel, InstanceSettings, Visibility
from tokens_site.registry.keys import key_id, signing_key

pytestmark = pytest.mark.django_db


def basic(username, secret):
    return {
        "HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode()
    }


def token_for(client, *scopes, **auth):
    query = "&".join(f"scope={scope}" for scope in scopes)
    response = client.get(f"/jwt/auth?service=container_registry&{query}", **auth)
    return response


def claims(response) -> dict:
    value = response.json()["token"]
    assert response.json()["access_token"] == value
    header = jwt.get_unverified_header(value)
    assert header == {"alg": "RS256", "kid": key_id(), "typ": "JWT"}
    return jwt.decode(
        value,
        signing_key().public_key(),
        algorithms=["RS256"],
        audience="container_registry",
        issuer="tokens-site",
    )


@pytest.fixture
def project():
    return ProjectFactory(group=GroupFactory(path="tanuki"), path="app")


def test_deploy_token_scopes_become_actions(client, project):
    token, value = make_deploy_token(project, scopes=["read_registry"])
    response = token_for(
        client, "repository:tanuki/app/web:pull,push", **basic(token.username, value)
    )
    assert response.status_code == 200
    granted = claims(response)
    assert granted["sub"] == token.username
    assert granted["access"] == [
        {"type": "repository", "name": "tanuki/app/web", "actions": ["pull"]}
    ]
    assert granted["exp"] - granted["iat"] == 300


def test_personal_token_needs_role_and_scope(client, project):
    developer, reporter = UserFactory(), UserFactory()
    MembershipFactory(user=developer, project=project, access_level=AccessLevel.DEVELOPER)
    MembershipFactory(user=reporter, project=project, access_level=AccessLevel.REPORTER)
    _, dev = make_personal_token(developer, scopes=["api"])
    _, rep = make_personal_token(reporter, scopes=["write_registry", "read_registry"])
    _, wrong_scope = make_personal_token(developer, scopes=["read_repository"])
    scope = "repository:tanuki/app:pull,push"
    assert claims(token_for(client, scope, **basic("x", dev)))["access"][0]["actions"] == [
        "pull",
        "push",
    ]
    assert claims(token_for(client, scope, **basic("x", rep)))["access"][0]["actions"] == ["pull"]
    assert claims(token_for(client, scope, **basic("x", wrong_scope)))["access"][0]["actions"] == []


def test_good_credentials_without_rights_get_a_token_with_no_actions(client, project):
    other, value = make_deploy_token(ProjectFactory(), scopes=["read_registry", "write_registry"])
    response = token_for(client, "repository:tanuki/app:pull,push", **basic(other.username, value))
    assert response.status_code == 200 and claims(response)["access"][0]["actions"] == []


def test_bad_credentials_get_401(client, project):
    token, value = make_deploy_token(project, scopes=["read_registry"])
    for auth in (basic("someone-else", value), basic(token.username, "gldt-" + "B" * 32)):
        response = token_for(client, "repository:tanuki/app:pull", **auth)
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == 'Basic realm="Tokens"'
        assert response.json()["errors"][0]["code"] == "UNAUTHORIZED"


def test_docker_login_without_scope_checks_the_credentials(client, project):
    token, value = make_deploy_token(project, scopes=["read_registry"])
    ok = client.get(
        "/jwt/auth?service=container_registry&account=x&offline_token=true",
        **basic(token.username, value),
    )
    assert ok.status_code == 200 and claims(ok)["access"] == []


def test_anonymous_pulls_public_projects_only(client, project):
    public = ProjectFactory(
        group=GroupFactory(path="open", visibility=Visibility.PUBLIC),
        path="lib",
        visibility=Visibility.PUBLIC,
    )
    assert public
    response = token_for(client, "repository:open/lib:pull,push", "repository:tanuki/app:pull")
    assert [grant["actions"] for grant in claims(response)["access"]] == [["pull"], []]


@pytest.mark.parametrize(
    "scope",
    [
        "repository",
        "repository:tanuki/app",
        "repository:Tanuki/App:pull",
        "image:tanuki/app:pull",
        "repository:tanuki/app:steal",
        "repository::pull",
    ],
)
def test_malformed_scopes_get_400(client, project, scope):
    response = token_for(client, scope)
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "INVALID_SCOPE"


def test_unknown_service_gets_400(client):
    assert client.get("/jwt/auth?service=other").status_code == 400


def test_external_authorization_refuses_deploy_tokens(client, project):
    token, value = make_deploy_token(project, scopes=["read_registry"])
    instance = InstanceSettings.current()
    instance.external_authorization_enabled = True
    instance.save()
    for scopes in (["repository:tanuki/app:pull"], []):  # a pull, and `docker login`
        response = token_for(client, *scopes, **basic(token.username, value))
        assert response.status_code == 403
        assert "external authorization" in response.json()["errors"][0]["message"]


def test_catalog_is_for_administrators(client, project):
    _, admin_value = make_personal_token(AdminFactory(), scopes=["api"])
    _, user_value = make_personal_token(UserFactory(), scopes=["api"])
    assert claims(token_for(client, "registry:catalog:*", **basic("x", admin_value)))["access"][0][
        "actions"
    ] == ["*"]
    assert (
        claims(token_for(client, "registry:catalog:*", **basic("x", user_value)))["access"][0][
            "actions"
        ]
        == []
    )


def test_registry_config_command_prints_the_settings_and_writes_the_certificate(tmp_path):
    out = StringIO()
    certificate = tmp_path / "token.crt"
    call_command("registry_config", "--certificate", str(certificate), stdout=out)
    text = out.getvalue()
    assert "realm: http://127.0.0.1:8000/jwt/auth" in text
    assert "service: container_registry" in text and "issuer: tokens-site" in text
    assert f"rootcertbundle: {certificate}" in text
    assert certificate.read_text().startswith("-----BEGIN CERTIFICATE-----")
