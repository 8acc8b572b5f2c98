"""The failed-authentication ban and its store: nothing evicts a ban (whatever the cache, the
database's or an evicting Redis), counting is exact across threads, a ban holds on the next
request, trusted proxies are never banned, and bans can be listed and lifted (command and
admin)."""

import base64
import ipaddress
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.db import connection

from tests.factories import AdminFactory, GroupFactory, ProjectFactory, make_deploy_token
from tokens_site.auth.bans import BANNED_MESSAGE, is_banned, record_failure
from tokens_site.auth.store import store
from tokens_site.models import AddressBan, AuditAction, AuditEvent, InstanceSettings

CLONE = "/tanuki/app.git/info/refs?service=git-upload-pack"
FORGED = "glpat-" + "B" * 32


def basic(username: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode()


@pytest.fixture(params=["database cache", "redis cache"])
def any_cache(request, db, settings):
    """Each test runs with both caches the site may have: the database's, and Redis (as with
    REDIS_URL; here a small one that evicts). Neither holds a ban."""
    if request.param == "redis cache":
        settings.CACHES = {
            "default": {
                "BACKEND": "tokens_site.cache.ReusingRedisCache",
                "LOCATION": request.getfixturevalue("redis_url"),
                "KEY_PREFIX": f"tokens-test-{uuid.uuid4().hex}:",
            }
        }
    cache.clear()
    return request.param


@pytest.fixture
def limit(db):
    """A ban after 3 failures within 3 minutes, for an hour."""
    instance = InstanceSettings.current()
    instance.failed_auth_ban_limit = 3
    instance.save()
    return 3


@pytest.fixture
def project(db):
    return ProjectFactory(group=GroupFactory(path="tanuki"), path="app")


def fail(client, address: str = "127.0.0.1", **extra):
    response = client.get(
        CLONE, HTTP_AUTHORIZATION=basic("x", FORGED), REMOTE_ADDR=address, **extra
    )
    assert response.status_code in (401, 403)
    return response


def test_a_ban_survives_thousands_of_one_off_failures_and_a_full_cache(
    client, any_cache, limit, project
):
    """Bans and failure counts live in the database (AddressBan, FailedAuthCounter; see
    tokens_site.auth.store), never in the cache, whichever it is: nothing here depends on the
    cache holding anything. The "redis cache" variant therefore does not test Redis keeping a
    ban: it guards against a regression that would move bans (or counts) into the cache, where
    a small evicting Redis (redis_url's own: 4 MB, allkeys-lru) would drop them under this
    pressure, as the database's cache would by culling a third of its entries past
    MAX_ENTRIES. The ban must be a row of its table, and hold."""
    token, value = make_deploy_token(project)
    for _ in range(limit):
        fail(client, "198.51.100.7")
    for number in range(3000):  # one failure each from 3,000 other addresses
        record_failure(str(ipaddress.ip_address("10.0.0.0") + number))
    for number in range(1000):  # and a cache that culls or evicts what it holds
        cache.set(f"pressure-{number}", "x" * 10_000)
    response = client.get(
        CLONE, HTTP_AUTHORIZATION=basic(token.username, value), REMOTE_ADDR="198.51.100.7"
    )
    assert response.status_code == 403
    assert response.content.decode() == BANNED_MESSAGE + "\n"
    assert is_banned("198.51.100.7")
    assert AddressBan.objects.filter(ip_address="198.51.100.7").exists()  # in the database
    assert not is_banned("10.0.0.1")  # one failure is not a ban


def test_the_limit_th_failure_bans_and_is_audited_once(client, limit, project):
    fail(client)
    fail(client)
    assert not is_banned("127.0.0.1")
    assert fail(client).status_code == 401  # the failure that reaches the limit is answered
    assert fail(client).status_code == 403
    events = AuditEvent.objects.filter(action=AuditAction.IP_BAN)
    assert [(event.target_label, event.details["failures"]) for event in events] == [
        ("127.0.0.1", 3)
    ]


def test_banned_requests_are_not_counted_and_other_addresses_are_not_affected(
    client, limit, project
):
    for _ in range(limit + 5):
        fail(client)
    token, value = make_deploy_token(project)
    response = client.get(
        CLONE, HTTP_AUTHORIZATION=basic(token.username, value), REMOTE_ADDR="192.0.2.44"
    )
    assert response.status_code == 200
    assert AuditEvent.objects.filter(action=AuditAction.IP_BAN).count() == 1


def test_an_ended_ban_lets_the_address_in_and_a_new_one_can_be_made(client, limit, project):
    start = datetime(2031, 1, 1, 12, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        for _ in range(limit):
            fail(client)
        assert is_banned("127.0.0.1")
    with time_machine.travel(start + timedelta(hours=1, seconds=1), tick=False):
        assert not is_banned("127.0.0.1")
        for _ in range(limit):
            fail(client)
        assert is_banned("127.0.0.1")
    assert AuditEvent.objects.filter(action=AuditAction.IP_BAN).count() == 2


# 12:00 UTC starts a 3-minute period (periods are counted from the epoch).
PERIOD_START = datetime(2031, 1, 1, 12, 0, tzinfo=UTC)


def at(seconds: float):
    return time_machine.travel(PERIOD_START + timedelta(seconds=seconds), tick=False)


def test_a_burst_across_the_end_of_a_period_counts_as_one(client, limit, project):
    """The window slides: failures just before a period ends and just after add up (a fixed
    window would let twice the limit through around its edge)."""
    with at(0):
        fail(client)
    with at(179):
        fail(client)
    with at(181):
        fail(client)
        assert not is_banned("127.0.0.1")
    with at(182):
        fail(client)
        assert is_banned("127.0.0.1")


def test_failures_of_more_than_a_period_ago_no_longer_count(client, limit, project):
    with at(0):
        fail(client)
        fail(client)
    with at(361):  # two periods on
        fail(client)
        fail(client)
        assert not is_banned("127.0.0.1")
        fail(client)
        assert is_banned("127.0.0.1")


def test_switching_the_ban_off_stops_counting_and_refusing(client, limit, project):
    for _ in range(limit):
        fail(client)
    instance = InstanceSettings.current()
    instance.failed_auth_ban_enabled = False
    instance.save()
    token, value = make_deploy_token(project)
    response = client.get(CLONE, HTTP_AUTHORIZATION=basic(token.username, value))
    assert response.status_code == 200


class TestTrustedProxies:
    @pytest.fixture(autouse=True)
    def proxy(self, settings):
        settings.TRUSTED_PROXY_NETWORKS = [ipaddress.ip_network("10.1.0.0/16")]

    @pytest.mark.parametrize("forwarded", [None, "", "garbage", "1.2.3.4:abc, ???", "[zz::1]"])
    def test_a_malformed_forwarded_for_never_bans_the_proxy(
        self, client, limit, project, forwarded
    ):
        extra = {} if forwarded is None else {"HTTP_X_FORWARDED_FOR": forwarded}
        for _ in range(limit * 3):
            assert fail(client, "10.1.0.2", **extra).status_code == 401
        assert not is_banned("10.1.0.2")
        token, value = make_deploy_token(project)
        response = client.get(
            CLONE,
            HTTP_AUTHORIZATION=basic(token.username, value),
            REMOTE_ADDR="10.1.0.2",
            HTTP_X_FORWARDED_FOR="203.0.113.5",
        )
        assert response.status_code == 200

    def test_the_client_behind_the_proxy_is_banned(self, client, limit, project):
        for _ in range(limit):
            fail(client, "10.1.0.2", HTTP_X_FORWARDED_FOR="203.0.113.9, 10.1.0.3")
        assert is_banned("203.0.113.9")
        assert not is_banned("10.1.0.2") and not is_banned("10.1.0.3")

    def test_a_proxy_seen_through_a_dual_stack_socket_is_trusted_alike(
        self, client, limit, project
    ):
        """gunicorn bound to [::] sees an IPv4 proxy as ::ffff:10.1.0.2."""
        for _ in range(limit):
            fail(client, "::ffff:10.1.0.2", HTTP_X_FORWARDED_FOR="203.0.113.30")
        for _ in range(limit * 2):
            fail(client, "::ffff:10.1.0.2", HTTP_X_FORWARDED_FOR="garbage")
        assert is_banned("203.0.113.30")
        assert [ban.ip_address for ban in store().bans()] == ["203.0.113.30"]


class TestOtherSites:
    """A page elsewhere makes its visitors' browsers send a token in the URL: never checked,
    never counted."""

    def test_a_page_elsewhere_cannot_get_its_visitors_banned(self, client, limit):
        for number in range(limit * 3):
            response = client.get(
                f"/api/v4/user?private_token=guess-{number}-{'x' * 20}",
                HTTP_SEC_FETCH_SITE="cross-site",
                HTTP_SEC_FETCH_MODE="no-cors",
            )
            assert response.status_code == 401
        assert store().bans() == []

    @pytest.mark.parametrize("site", ["cross-site", "same-site"])
    def test_not_even_a_valid_token_is_taken_from_another_site(self, client, db, site):
        from tests.factories import make_personal_token

        _, value = make_personal_token(scopes=["read_api"])
        assert client.get(f"/api/v4/user?private_token={value}").status_code == 200
        other = client.get(f"/api/v4/user?private_token={value}", HTTP_SEC_FETCH_SITE=site)
        assert other.status_code == 401
        own = client.get(f"/api/v4/user?private_token={value}", HTTP_SEC_FETCH_SITE="same-origin")
        assert own.status_code == 200


class TestUnixSocket:
    """gunicorn on a unix socket: requests have no peer address (REMOTE_ADDR is empty)."""

    def test_without_unix_in_trusted_proxies_no_one_is_counted_and_the_log_says_why(
        self, client, limit, project, caplog, monkeypatch
    ):
        from tokens_site import audit

        monkeypatch.setattr(audit, "_unknown_client_reported", False)
        for _ in range(limit * 2):
            assert fail(client, "", HTTP_X_FORWARDED_FOR="203.0.113.41").status_code == 401
        assert store().bans() == []
        warnings = [r for r in caplog.records if "without a client address" in r.getMessage()]
        assert len(warnings) == 1

    def test_with_unix_in_trusted_proxies_the_forwarded_client_is_banned(
        self, client, limit, project, settings
    ):
        settings.TRUSTED_UNIX_SOCKET_PROXY = True
        for _ in range(limit):
            fail(client, "", HTTP_X_FORWARDED_FOR="203.0.113.40")
        assert is_banned("203.0.113.40")


def test_an_ipv6_client_is_banned_with_its_whole_64(client, limit, project, capsys):
    token, value = make_deploy_token(project)
    for number in range(limit):  # a new address of the same /64 for every guess
        fail(client, f"2001:db8:1:2::{number + 1:x}")

    def clone(address):
        authorization = basic(token.username, value)
        return client.get(CLONE, HTTP_AUTHORIZATION=authorization, REMOTE_ADDR=address)

    assert clone("2001:db8:1:2:ffff::9").status_code == 403
    assert clone("2001:db8:1:3::1").status_code == 200  # another /64
    event = AuditEvent.objects.get(action=AuditAction.IP_BAN)
    assert (event.target_label, event.ip_address) == ("2001:db8:1:2::/64", "2001:db8:1:2::")
    call_command("bans")
    assert capsys.readouterr().out.startswith("2001:db8:1:2::/64  banned ")
    call_command("bans", "--lift", "2001:DB8:1:2::77")
    assert clone("2001:db8:1:2:ffff::9").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_concurrent_failures_are_counted_exactly_and_ban_once():
    """16 threads, each with its own database connection, fail 25 times each at once."""
    instance = InstanceSettings.current()
    instance.failed_auth_ban_limit = 100
    instance.save()
    barrier = threading.Barrier(16)
    errors = []

    def worker() -> None:
        try:
            barrier.wait()
            for _ in range(25):
                record_failure("192.0.2.1")
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert store().count_failure("192.0.2.1", period_seconds=180) == 16 * 25 + 1
    assert AuditEvent.objects.filter(action=AuditAction.IP_BAN).count() == 1
    assert is_banned("192.0.2.1")


def test_form_keys_are_single_use_whatever_the_cache_holds(any_cache):
    assert store().claim_once("form-key-1", ttl_seconds=60)
    for number in range(1000):
        cache.set(f"pressure-{number}", "x" * 10_000)
    cache.clear()
    assert not store().claim_once("form-key-1", ttl_seconds=60)
    assert store().claim_once("form-key-2", ttl_seconds=60)


def test_housekeeping_purges_what_no_longer_counts(client, limit, project):
    with time_machine.travel(datetime(2025, 1, 1, tzinfo=UTC), tick=False):  # in the past
        for _ in range(limit):
            fail(client)
        store().claim_once("old-form", ttl_seconds=60)
    assert store().purge(counter_age_seconds=180) == 3  # the ban, the form key, the counter
    assert not AddressBan.objects.exists()


class TestListingAndLifting:
    @pytest.fixture
    def banned(self, client, limit, project):
        for _ in range(limit):
            fail(client, "203.0.113.20")
        return "203.0.113.20"

    def test_the_command_lists_and_lifts(self, capsys, banned):
        call_command("bans")
        listing = capsys.readouterr().out
        assert listing.startswith("203.0.113.20  banned ") and "after 3 failures" in listing
        call_command("bans", "--lift", banned)
        assert capsys.readouterr().out == "Lifted the ban of 203.0.113.20.\n"
        assert not is_banned(banned)
        call_command("bans")
        assert capsys.readouterr().out == "No address is banned.\n"
        event = AuditEvent.objects.get(action=AuditAction.IP_UNBAN)
        assert event.target_label == banned and event.actor is None

    def test_lifting_forgets_the_failures(self, client, banned):
        call_command("bans", "--lift", banned)
        fail(client, banned)
        assert not is_banned(banned)

    def test_the_command_refuses_what_is_not_banned_or_not_an_address(self, banned):
        with pytest.raises(CommandError, match=r"Not banned: 192\.0\.2\.99"):
            call_command("bans", "--lift", "192.0.2.99")
        with pytest.raises(CommandError, match="'nope' is not an IP address"):
            call_command("bans", "--lift", "nope", banned)
        assert is_banned(banned)

    def test_the_admin_lists_and_lifts(self, client, banned):
        admin = AdminFactory()
        client.force_login(admin)
        page = client.get("/admin/tokens_site/addressban/")
        assert page.status_code == 200
        assert "203.0.113.20" in page.content.decode()
        response = client.post("/admin/tokens_site/addressban/", {"lift": banned}, follow=True)
        assert "Lifted the ban of 203.0.113.20." in response.content.decode()
        assert not is_banned(banned)
        assert AuditEvent.objects.get(action=AuditAction.IP_UNBAN).actor == admin
        index = client.get("/admin/").content.decode()
        assert "/admin/tokens_site/addressban/" in index

    def test_the_admin_page_is_for_administrators_only(self, client, banned):
        from tests.factories import UserFactory

        client.force_login(UserFactory(is_staff=True))
        assert client.get("/admin/tokens_site/addressban/").status_code == 403
        assert client.post("/admin/tokens_site/addressban/", {"lift": banned}).status_code == 403
        assert is_banned(banned)
