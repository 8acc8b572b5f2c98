"""`manage.py ci_variables`: the gitlab-deploy-token as CI_DEPLOY_USER / CI_DEPLOY_PASSWORD."""

from datetime import UTC, date, datetime
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command

from deploy_tokens.models import DeployToken
from tests.factories import GroupFactory, ProjectFactory, make_deploy_token

pytestmark = pytest.mark.django_db


def ci_variables(path: str) -> str:
    out = StringIO()
    call_command("ci_variables", path, stdout=out)
    return out.getvalue()


@pytest.fixture
def project():
    top = GroupFactory(path="tanuki")
    sub = GroupFactory(parent=GroupFactory(parent=top, path="a"), path="b")
    return ProjectFactory(group=sub, path="app")


def test_project_level_token(project):
    token, plaintext = make_deploy_token(
        project, name="gitlab-deploy-token", scopes=["read_registry"]
    )
    assert ci_variables("tanuki/a/b/app") == (
        f"CI_DEPLOY_USER={token.username}\nCI_DEPLOY_PASSWORD={plaintext}\n"
    )


def test_group_level_token_two_groups_up(project):
    token, plaintext = make_deploy_token(project.group.parent.parent, name="gitlab-deploy-token")
    assert ci_variables("tanuki/a/b/app").splitlines() == [
        f"CI_DEPLOY_USER={token.username}",
        f"CI_DEPLOY_PASSWORD={plaintext}",
    ]


def test_project_token_wins_over_the_groups(project):
    make_deploy_token(project.group, name="gitlab-deploy-token")
    _token, plaintext = make_deploy_token(project, name="gitlab-deploy-token", username="ci-user")
    assert (
        ci_variables("tanuki/a/b/app")
        == f"CI_DEPLOY_USER=ci-user\nCI_DEPLOY_PASSWORD={plaintext}\n"
    )


def test_nothing_without_an_active_gitlab_deploy_token(project):
    make_deploy_token(project, name="other-name")
    revoked, _ = make_deploy_token(project, name="gitlab-deploy-token")
    DeployToken.objects.filter(pk=revoked.pk).update(revoked=True)
    make_deploy_token(ProjectFactory(), name="gitlab-deploy-token")  # another project's
    assert ci_variables("tanuki/a/b/app") == ""


def test_nothing_once_the_token_expired(project):
    with time_machine.travel(datetime(2030, 1, 1, tzinfo=UTC), tick=False):
        make_deploy_token(project, name="gitlab-deploy-token", expires_at=date(2030, 2, 1))
        assert ci_variables("tanuki/a/b/app") != ""
    with time_machine.travel(datetime(2030, 2, 1, tzinfo=UTC), tick=False):
        assert ci_variables("tanuki/a/b/app") == ""


def test_unknown_project_is_a_clear_error():
    with pytest.raises(CommandError, match="There is no project at 'nope/app'"):
        ci_variables("nope/app")
