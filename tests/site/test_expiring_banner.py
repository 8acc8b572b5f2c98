"""Issue 16's in-app warning: every token page shows a banner naming the active tokens that
expire within 7 days, soonest first; none when there are none (revoked ones do not count)."""

import re
from datetime import timedelta

import pytest

from tests.factories import (
    GroupFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    make_access_token,
    make_deploy_token,
    make_personal_token,
)
from tokens_site.models import AccessLevel
from tokens_site.tokens import utc_today

pytestmark = pytest.mark.django_db


def banner(page: str) -> str:
    """The banner's text (tags dropped)."""
    if "expiring-tokens" not in page:
        return ""
    return re.sub(
        r"<[^>]+>", "", page.split('class="flash warning expiring-tokens"')[1].split("</div>")[0]
    )


def in_days(days):
    return utc_today() + timedelta(days=days)


def test_personal_access_tokens(client):
    user = UserFactory()
    make_personal_token(user, name="later", expires_at=in_days(8))
    client.force_login(user)
    assert banner(client.get("/-/user_settings/personal_access_tokens").content.decode()) == ""
    make_personal_token(user, name="soon", expires_at=in_days(6))
    make_personal_token(user, name="sooner", expires_at=in_days(1))
    gone, _ = make_personal_token(user, name="gone", expires_at=in_days(2))
    gone.revoke()
    text = banner(client.get("/-/user_settings/personal_access_tokens").content.decode())
    assert "2 personal access tokens expire within 7 days" in text
    assert text.index("sooner") < text.index("soon (") and "gone" not in text
    assert "later" not in text


@pytest.fixture
def project_and_owner():
    owner = UserFactory()
    project = ProjectFactory(group=GroupFactory(path="tanuki"), path="app")
    MembershipFactory(user=owner, project=project, access_level=AccessLevel.OWNER)
    return project, owner


def test_deploy_tokens_outside_the_collapsed_section(client, project_and_owner):
    project, owner = project_and_owner
    make_deploy_token(project, name="ci", expires_at=in_days(3))
    client.force_login(owner)
    page = client.get("/tanuki/app/-/settings/repository").content.decode()
    assert "1 deploy token expires within 7 days" in banner(page)
    assert page.index("expiring-tokens") < page.index('class="settings-section"')


def test_access_tokens(client, project_and_owner):
    project, owner = project_and_owner
    make_access_token(project, owner, name="bot", expires_at=in_days(7))
    client.force_login(owner)
    page = client.get("/tanuki/app/-/settings/access_tokens").content.decode()
    assert "1 project access token expires within 7 days" in banner(page)
