"""Real git with two-factor authentication on: the account's password is refused with the
one line that says to use a personal access token; a personal access token clones."""

import pytest

from tests.e2e.conftest import git, url
from tests.factories import (
    PASSWORD,
    MembershipFactory,
    UserFactory,
    make_personal_token,
    make_two_factor,
)
from tokens_site.models import AccessLevel

pytestmark = pytest.mark.e2e


def test_git_refuses_the_password_once_two_factor_is_on(site_server, tanuki, tmp_path):
    user = UserFactory(username="alice")
    MembershipFactory(user=user, project=tanuki["project"], access_level=AccessLevel.REPORTER)
    git("ls-remote", url(site_server, tanuki["project"], "alice", PASSWORD))  # before
    make_two_factor(user)
    refused = git(
        "clone",
        url(site_server, tanuki["project"], "alice", PASSWORD),
        str(tmp_path / "refused"),
        check=False,
    )
    assert refused.returncode != 0
    assert (
        "remote: HTTP Basic: Access denied. With two-factor authentication enabled, use a "
        "personal access token" in refused.stderr
    )
    _, token = make_personal_token(user, scopes=["read_repository"])
    git("clone", "-q", url(site_server, tanuki["project"], "oauth2", token), str(tmp_path / "ok"))
    assert (tmp_path / "ok" / "README.md").exists()
