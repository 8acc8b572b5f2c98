"""Issue 16's inactive tables: every token page lists, under the active tokens, those revoked
or expired in the last 30 days (most recent first), with when they stopped; older ones and
active ones are not there. Revocation records its time (`revoked_at`). The clock is moved."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from personal_tokens.models import PersonalAccessToken
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

pytestmark = pytest.mark.django_db

NOW = datetime(2031, 6, 15, 12, 0, tzinfo=UTC)
TODAY = NOW.date()


def inactive_rows(page: str, table_id: str) -> list[str]:
    if f'id="{table_id}"' not in page:
        return []
    table = page.split(f'id="{table_id}"')[1].split("</table>")[0]
    return re.findall(r'<tr data-token="([^"]+)">', table)


def revoke_at(token, when):
    with time_machine.travel(when, tick=False):
        assert token.revoke_once()


def set_up(make):
    """Five tokens of one owner, made with `make(name, expires_at)`: active, revoked 2 and 40
    days ago, expired 10 and 31 days ago."""
    with time_machine.travel(NOW - timedelta(days=60), tick=False):
        make("active", TODAY + timedelta(days=30))
        recent = make("revoked-recently", TODAY + timedelta(days=30))
        old = make("revoked-long-ago", TODAY + timedelta(days=30))
        make("expired-recently", TODAY - timedelta(days=10))
        make("expired-long-ago", TODAY - timedelta(days=31))
    revoke_at(recent, NOW - timedelta(days=2))
    revoke_at(old, NOW - timedelta(days=40))


EXPECTED = ["revoked-recently", "expired-recently"]


def test_revoking_records_when(client):
    token, _ = make_personal_token(UserFactory())
    with time_machine.travel(NOW, tick=False):
        assert token.revoke_once()
        assert not token.revoke_once()  # a second time changes nothing
    token.refresh_from_db()
    assert token.revoked and token.revoked_at == NOW


def test_personal_access_tokens_page(client):
    user = UserFactory()
    set_up(lambda name, expires: make_personal_token(user, name=name, expires_at=expires)[0])
    with time_machine.travel(NOW, tick=False):
        client.force_login(user)
        page = client.get("/-/user_settings/personal_access_tokens").content.decode()
    assert inactive_rows(page, "inactive-personal-access-tokens") == EXPECTED
    assert "Inactive personal access tokens (2)" in page
    assert "Revoked <time" in page and "Expired <time" in page


def test_deploy_tokens_page(client):
    owner = UserFactory()
    project = ProjectFactory(group=GroupFactory(path="tanuki"), path="app")
    MembershipFactory(user=owner, project=project, access_level=AccessLevel.MAINTAINER)
    set_up(lambda name, expires: make_deploy_token(project, name=name, expires_at=expires)[0])
    with time_machine.travel(NOW, tick=False):
        client.force_login(owner)
        page = client.get("/tanuki/app/-/settings/repository").content.decode()
    assert inactive_rows(page, "inactive-deploy-tokens") == EXPECTED


def test_access_tokens_page(client):
    owner = UserFactory()
    project = ProjectFactory(group=GroupFactory(path="tanuki"), path="app")
    MembershipFactory(user=owner, project=project, access_level=AccessLevel.OWNER)
    set_up(
        lambda name, expires: make_access_token(project, owner, name=name, expires_at=expires)[0]
    )
    with time_machine.travel(NOW, tick=False):
        client.force_login(owner)
        page = client.get("/tanuki/app/-/settings/access_tokens").content.decode()
    assert inactive_rows(page, "inactive-access-tokens") == EXPECTED


def test_tokens_revoked_before_times_were_recorded_are_left_out(client):
    user = UserFactory()
    token, _ = make_personal_token(user, name="legacy")
    PersonalAccessToken.objects.filter(pk=token.pk).update(revoked=True, revoked_at=None)
    client.force_login(user)
    page = client.get("/-/user_settings/personal_access_tokens").content.decode()
    assert inactive_rows(page, "inactive-personal-access-tokens") == []
