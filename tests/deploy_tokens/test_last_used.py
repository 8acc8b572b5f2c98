"""Issue 16's last use for deploy tokens, as personal tokens have it (TokenRecord.touch): when,
and the last five distinct addresses, written at most once per ten minutes (no extra write per
request), never for a refused request from a banned address; shown on the page and in the
API."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from deploy_tokens.models import DeployToken
from tests.factories import (
    AdminFactory,
    GroupFactory,
    MembershipFactory,
    ProjectFactory,
    basic_header,
    make_deploy_token,
    make_personal_token,
    through_pipeline,
)
from tokens_site.access.policy import Denied
from tokens_site.auth.families import GIT
from tokens_site.auth.store import store
from tokens_site.models import AccessLevel

pytestmark = pytest.mark.django_db

START = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def project():
    return ProjectFactory(group=GroupFactory(path="tanuki"), path="app")


def authenticate(token, plaintext, address="192.0.2.1"):
    """The principal this deploy token authenticates, through the pipeline, from `address`."""
    header = basic_header(token.username, plaintext)
    return through_pipeline(GIT, address=address, HTTP_AUTHORIZATION=header)


def test_last_use_is_written_at_most_once_per_ten_minutes(project, django_assert_num_queries):
    with time_machine.travel(START, tick=False):
        token, plaintext = make_deploy_token(project)
        with django_assert_num_queries(2):  # the lookup, the one UPDATE
            assert authenticate(token, plaintext).token == token
    nine_minutes = START + timedelta(minutes=9)
    with time_machine.travel(nine_minutes, tick=False), django_assert_num_queries(1):
        authenticate(token, plaintext, address="192.0.2.2")
    with time_machine.travel(START + timedelta(minutes=10), tick=False):
        authenticate(token, plaintext, address="192.0.2.3")
    token.refresh_from_db()
    assert token.last_used_at == START + timedelta(minutes=10)
    assert token.last_used_ips == ["192.0.2.3", "192.0.2.1"]


def test_five_distinct_addresses_newest_first(project):
    with time_machine.travel(START, tick=False):
        token, plaintext = make_deploy_token(project)
    for minute, address in enumerate(["a", "b", "a", "c", "d", "e", "f"]):
        with time_machine.travel(START + timedelta(minutes=10 * minute), tick=False):
            authenticate(token, plaintext, address=f"192.0.2.{ord(address)}")
    token.refresh_from_db()
    assert token.last_used_ips == [f"192.0.2.{ord(a)}" for a in "fedca"]


def test_a_banned_addresss_refused_request_is_no_use(project, settings):
    token, plaintext = make_deploy_token(project)
    store().ban("192.0.2.9", duration_seconds=60, failures=30)
    with pytest.raises(Denied) as refused:
        authenticate(token, plaintext, address="192.0.2.9")
    assert refused.value.status == 403
    assert DeployToken.objects.get(pk=token.pk).last_used_at is None


def test_the_page_and_the_api_show_it(client, project):
    maintainer = AdminFactory()
    MembershipFactory(user=maintainer, project=project, access_level=AccessLevel.MAINTAINER)
    token, plaintext = make_deploy_token(project)
    authenticate(token, plaintext, address="198.51.100.7")
    client.force_login(maintainer)
    page = client.get("/tanuki/app/-/settings/repository").content.decode()
    assert "from 198.51.100.7" in page
    _, api_token = make_personal_token(maintainer, scopes=["api"])
    listed = client.get(
        f"/api/v4/projects/{project.pk}/deploy_tokens", HTTP_PRIVATE_TOKEN=api_token
    ).json()
    assert listed[0]["last_used_ips"] == ["198.51.100.7"] and listed[0]["last_used_at"]
