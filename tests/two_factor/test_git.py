"""The seeds' rule: with two-factor authentication on, Git over HTTP refuses the account's
password with a one-line message that says to use a personal access token; tokens work."""

import base64

import pytest

from tests.factories import (
    PASSWORD,
    GroupFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    make_personal_token,
    make_two_factor,
)
from tokens_site.models import AccessLevel, AccountLockout

pytestmark = pytest.mark.django_db

CLONE = "/tanuki/app.git/info/refs?service=git-upload-pack"


def basic(username: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode()


@pytest.fixture
def user():
    user = UserFactory(username="gita")
    project = ProjectFactory(group=GroupFactory(path="tanuki"), path="app")
    MembershipFactory(user=user, project=project, access_level=AccessLevel.DEVELOPER)
    return user


def clone(client, secret: str, username: str = "gita"):
    return client.get(CLONE, HTTP_AUTHORIZATION=basic(username, secret))


def test_password_is_refused_after_enrolment_with_the_token_message(client, user):
    assert clone(client, PASSWORD).status_code == 200
    make_two_factor(user)
    response = clone(client, PASSWORD)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic")
    message = response.content.decode()
    assert message.count("\n") == 1  # one line: git prints it as `remote: ...`
    assert "two-factor authentication" in message
    assert "personal access token with the read_repository scope" in message


def test_right_and_wrong_passwords_get_the_same_answer(client, user):
    make_two_factor(user)
    right, wrong = clone(client, PASSWORD), clone(client, "not-the-password")
    assert (right.status_code, right.content) == (wrong.status_code, wrong.content)


def test_personal_token_keeps_working(client, user):
    make_two_factor(user)
    _, token = make_personal_token(user, scopes=["read_repository"])
    response = clone(client, token)
    assert response.status_code == 200
    assert b"# service=git-upload-pack" in response.content


def test_a_refused_right_password_does_not_reset_failed_codes(client, user):
    make_two_factor(user)
    AccountLockout.objects.create(user=user, failed_attempts=3)
    clone(client, PASSWORD)
    assert AccountLockout.objects.get(user=user).failed_attempts == 3


def test_password_works_again_after_disabling(client, user):
    from two_factor.services import two_factor_disable

    make_two_factor(user)
    two_factor_disable(user=user)
    assert clone(client, PASSWORD).status_code == 200


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("/jwt/auth?service=container_registry", "personal access token with the read_registry"),
        ("/api/v4/projects/{id}/packages/pypi/simple/", "personal access token with the read_api"),
    ],
)
def test_the_registry_and_packages_refuse_the_password_and_say_to_use_a_token(
    client, user, path, says
):
    """Neither ever takes an account password; the refusal says what to use instead."""
    make_two_factor(user)
    project_id = user.memberships.get().project_id
    response = client.get(path.format(id=project_id), HTTP_AUTHORIZATION=basic("gita", PASSWORD))
    assert response.status_code == 401
    assert says in response.content.decode()
    _, token = make_personal_token(user, scopes=["read_registry", "read_api"])
    assert (
        client.get(path.format(id=project_id), HTTP_AUTHORIZATION=basic("gita", token)).status_code
        == 200
    )


def test_the_api_refuses_a_password_and_says_to_send_a_token(client, user):
    """GitLab's "401 Unauthorized", with what to do instead; a token works."""
    make_two_factor(user)
    response = client.get("/api/v4/user", HTTP_AUTHORIZATION=basic("gita", PASSWORD))
    assert response.status_code == 401
    message = response.json()["message"]
    assert message.startswith("401 Unauthorized - The API does not take HTTP Basic")
    assert "personal access token with the api or read_api scope" in message
    assert client.get("/api/v4/user").json() == {"message": "401 Unauthorized"}
    _, token = make_personal_token(user, scopes=["read_api"])
    assert client.get("/api/v4/user", HTTP_PRIVATE_TOKEN=token).status_code == 200
