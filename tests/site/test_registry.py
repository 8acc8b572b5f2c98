"""The container registry token service (/jwt/auth) in process: credentials, scopes, claims."""

import base64
import hashlib
import re
import stat
import textwrap
import threading
import time
from io import StringIO

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
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
from tokens_site.registry import keys
from tokens_site.registry.keys import certificate_pem, signing_key
from tokens_site.registry.service import project_for

pytestmark = pytest.mark.django_db
LIBTRUST_KEY_ID = re.compile(r"[A-Z2-7]{4}(?::[A-Z2-7]{4}){11}")


def basic(username, secret):
    return {
        "HTTP_AUTHORIZATION": "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode()
    }


def token_for(client, *scopes, **auth):
    query = "&".join(f"scope={scope}" for scope in scopes)
    response = client.get(f"/jwt/auth?service=container_registry&{query}", **auth)
    return response


def libtrust_key_id(certificate: bytes) -> str:
    """What the registry computes from its rootcertbundle: base32 of the first 240 bits of the
    SHA-256 of the certificate's public key (DER), in 12 groups of 4 joined by ':'."""
    public = x509.load_pem_x509_certificate(certificate).public_key()
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    encoded = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode()
    return ":".join(textwrap.wrap(encoded, 4))


def claims(response) -> dict:
    value = response.json()["token"]
    assert response.json()["access_token"] == value
    header = jwt.get_unverified_header(value)
    assert header == {"alg": "RS256", "kid": libtrust_key_id(certificate_pem()), "typ": "JWT"}
    assert LIBTRUST_KEY_ID.fullmatch(header["kid"])
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
    assert granted["nbf"] <= granted["iat"] <= time.time() + 1
    assert granted["iss"] == "tokens-site" and granted["aud"] == "container_registry"
    again = claims(token_for(client, "repository:tanuki/app:pull", **basic(token.username, value)))
    assert granted["jti"] and again["jti"] and granted["jti"] != again["jti"]


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


def test_too_many_scopes_at_once_get_400(client, project):
    token, value = make_deploy_token(project, scopes=["read_registry"])
    scopes = [f"repository:tanuki/app/image{n}:pull" for n in range(20)]
    assert token_for(client, *scopes, **basic(token.username, value)).status_code == 200
    response = token_for(client, *scopes, "repository:tanuki/app:pull")
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == "Ask for at most 20 scopes at once."


def test_a_personal_token_with_only_read_api_pulls(client, project):
    reporter = UserFactory()
    MembershipFactory(user=reporter, project=project, access_level=AccessLevel.REPORTER)
    _, value = make_personal_token(reporter, scopes=["read_api"])
    response = token_for(client, "repository:tanuki/app:pull,push", **basic("x", value))
    assert claims(response)["access"][0]["actions"] == ["pull"]


def test_a_developers_personal_token_with_only_write_registry_pushes(client, project):
    developer = UserFactory()
    MembershipFactory(user=developer, project=project, access_level=AccessLevel.DEVELOPER)
    _, value = make_personal_token(developer, scopes=["write_registry"])
    response = token_for(client, "repository:tanuki/app:push", **basic("x", value))
    assert claims(response)["access"][0]["actions"] == ["push"]


@pytest.mark.parametrize(
    "name", ["a__b/c--d", "a_b.c", "a---b/c.d_e", "x" * 255, "/".join(["a"] * 128)]
)
def test_valid_repository_names_are_accepted(client, name):
    response = token_for(client, f"repository:{name}:pull")
    assert response.status_code == 200
    assert claims(response)["access"] == [{"type": "repository", "name": name, "actions": []}]


@pytest.mark.parametrize(
    "name", ["a___b", "a_.b", "a..b", "a/-b", "a-", "_a", "a//b", "a/", "/a", "A", "a b"]
)
def test_malformed_repository_names_get_400(client, name):
    response = token_for(client, f"repository:{name}:pull")
    assert response.status_code == 400
    assert "is not a valid repository name" in response.json()["errors"][0]["message"]


def test_repository_names_over_255_characters_get_400(client):
    for name in ("x" * 256, "/".join(["a"] * 129)):
        response = token_for(client, f"repository:{name}:pull")
        assert response.status_code == 400
        assert response.json()["errors"][0] == {
            "code": "INVALID_SCOPE",
            "message": "The repository name is too long: at most 255 characters.",
        }


def test_a_repository_belongs_to_the_project_with_the_longest_path(
    project, django_assert_num_queries
):
    deeper = ProjectFactory(group=GroupFactory(path="Web", parent=project.group), path="Img")
    with django_assert_num_queries(1):
        assert project_for("tanuki/app/web") == project
    assert project_for("tanuki/web/img/cache") == deeper  # case does not matter
    assert project_for("tanuki") is None and project_for("tanuki/other") is None
    with django_assert_num_queries(1):
        assert project_for("tanuki/app/" + "/".join(["a"] * 120)) == project


def run_together(function, threads: int = 16) -> list[Exception]:
    """`function()` in `threads` threads released at the same moment; what they raised."""
    start, errors = threading.Barrier(threads), []

    def run():
        start.wait()
        try:
            function()
        except Exception as error:  # reported by the caller
            errors.append(error)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return errors


ROUNDS = 5  # a race shows only when the threads' writes overlap: give it several chances


def test_the_signing_key_is_made_once_when_threads_first_need_it_together(settings, tmp_path):
    for round_number in range(ROUNDS):
        key_file = tmp_path / str(round_number) / "signing-key.pem"
        settings.REGISTRY_SIGNING_KEY = key_file
        found = []
        assert run_together(lambda found=found: found.append(signing_key().private_numbers())) == []
        assert len(found) == 16 and all(numbers == found[0] for numbers in found)
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert list(key_file.parent.iterdir()) == [key_file]  # no temporary file left behind


def test_processes_making_the_key_at_once_all_end_with_the_first_one(tmp_path, monkeypatch):
    """Each process has its own lock: `_generate` itself must be safe to run side by side."""
    monkeypatch.setattr(keys, "KEY_SIZE", 1024)  # faster, and the threads finish closer together
    for round_number in range(ROUNDS):
        path = tmp_path / str(round_number) / "signing-key.pem"
        assert run_together(lambda path=path: keys._generate(path)) == []
        assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
        assert list(path.parent.iterdir()) == [path]


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


def no_store(response) -> bool:
    directives = {part.strip().lower() for part in response["Cache-Control"].split(",")}
    return "no-store" in directives


def test_no_answer_of_the_token_service_may_be_stored(client, project):
    """A token issued is a bearer credential, and a refusal is about one credential at one
    moment: neither may be kept by a cache, shared or private (Cache-Control: no-store)."""
    token, value = make_deploy_token(project, scopes=["read_registry"])
    issued = token_for(client, "repository:tanuki/app:pull", **basic(token.username, value))
    assert issued.status_code == 200 and claims(issued)["access"][0]["actions"] == ["pull"]
    nothing_granted = token_for(
        client, "repository:tanuki/app:push", **basic(token.username, value)
    )
    assert nothing_granted.status_code == 200
    assert claims(nothing_granted)["access"][0]["actions"] == []
    login = client.get("/jwt/auth?service=container_registry", **basic(token.username, value))
    assert login.status_code == 200
    unauthorized = token_for(client, "repository:tanuki/app:pull", **basic("someone", value))
    assert unauthorized.status_code == 401
    anonymous = token_for(client, "repository:tanuki/app:pull")  # an anonymous pull
    assert anonymous.status_code == 200 and claims(anonymous)["access"][0]["actions"] == []
    malformed = token_for(client, "repository:Tanuki/App:pull", **basic(token.username, value))
    assert malformed.status_code == 400
    instance = InstanceSettings.current()
    instance.external_authorization_enabled = True
    instance.save()
    forbidden = token_for(client, "repository:tanuki/app:pull", **basic(token.username, value))
    assert forbidden.status_code == 403
    answers = [issued, nothing_granted, login, unauthorized, anonymous, malformed, forbidden]
    for response in answers:
        assert no_store(response), (response.status_code, response.get("Cache-Control"))


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


def test_pull_and_push_read_the_users_role_once(client, project, django_assert_num_queries):
    developer = UserFactory()
    MembershipFactory(user=developer, project=project, access_level=AccessLevel.DEVELOPER)
    _, value = make_personal_token(developer, scopes=["api"])
    token_for(client, "repository:tanuki/app:pull", **basic("x", value))  # last-used written
    with django_assert_num_queries(3) as queries:  # the token; the project; the role
        response = token_for(client, "repository:tanuki/app:pull,push", **basic("x", value))
    assert claims(response)["access"][0]["actions"] == ["pull", "push"]
    roles = [q for q in queries.captured_queries if "membership" in q["sql"].lower()]
    assert len(roles) == 1
