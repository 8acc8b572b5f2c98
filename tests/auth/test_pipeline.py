"""The authentication pipeline over HTTP (Git's family, mostly): every shape of credentials, who
may do what, what it costs, and the failed-authentication ban."""

import base64
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deploy_tokens.models import DeployToken
from personal_tokens.models import PersonalAccessToken
from tests.factories import (
    PASSWORD,
    AdminFactory,
    GroupFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    make_deploy_token,
    make_personal_token,
)
from tokens_site.auth.bans import ban_lift
from tokens_site.auth.credentials import parse_basic
from tokens_site.auth.store import store
from tokens_site.models import (
    AccessLevel,
    AuditAction,
    AuditEvent,
    InstanceSettings,
    Project,
    Visibility,
)
from tokens_site.tokens import DEPLOY_TOKEN_PREFIX, token_generate, utc_today

pytestmark = pytest.mark.django_db

CLONE = "/tanuki/app.git/info/refs?service=git-upload-pack"
PUSH = "/tanuki/app.git/info/refs?service=git-receive-pack"
LOCAL_CACHE = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def basic(username: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode()


@pytest.fixture
def project():
    return ProjectFactory(group=GroupFactory(path="tanuki"), path="app")


def get(client, url, authorization=None, **extra):
    if authorization is not None:
        extra["HTTP_AUTHORIZATION"] = authorization
    return client.get(url, **extra)


class TestHeaderShapes:
    """Whatever the Authorization header holds: 401 with a challenge, never a 500."""

    @pytest.mark.parametrize(
        "header",
        [
            "Bearer glpat-abc",
            "Basic",
            "Basic !!!not-base64!!!",
            "Basic " + base64.b64encode(b"no-colon-here").decode(),
            "Basic " + base64.b64encode(b"user:").decode(),
            "Basic " + base64.b64encode(b":").decode(),
            "Basic " + base64.b64encode(b"user:\xff\xfe\xfd").decode(),
            "Basic " + base64.b64encode(b"user:tok\x00en").decode(),
            "Basic " + "A" * 65536,
            "Basic " + base64.b64encode(b"user:" + b"x" * 65536).decode(),
            "Basic \u00e9\u00e8",
            basic("user", "glpat-" + "a" * 32),  # known prefix, wrong checksum
            basic("user", "not-a-token-at-all-but-long"),
        ],
    )
    def test_bad_credentials_get_a_challenge(self, client, project, header):
        response = get(client, CLONE, header)
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == 'Basic realm="Tokens"'
        assert "Access denied" in response.content.decode()

    def test_no_credentials_on_a_private_project_get_a_challenge(self, client, project):
        response = get(client, CLONE)
        assert response.status_code == 401 and "WWW-Authenticate" in response

    def test_unknown_project_answers_like_a_private_one(self, client, project):
        assert get(client, "/tanuki/nope.git/info/refs?service=git-upload-pack").status_code == 401

    headers = st.one_of(
        st.builds(
            lambda scheme, raw: scheme + base64.b64encode(raw).decode(),
            st.sampled_from(["Basic ", "basic ", "BASIC  ", "Bearer ", ""]),
            st.binary(max_size=300),
        ),
        st.builds(
            lambda user, secret: basic(user, secret),
            st.text(max_size=40),
            st.one_of(st.text(max_size=80), st.just("glpat-" + "x" * 32), st.just("gldt-")),
        ),
        st.text(alphabet=st.characters(max_codepoint=255), max_size=300),
    )

    @pytest.fixture
    def no_ban(self):
        """Without the ban, every example reaches the parser (a ban answers before it)."""
        instance = InstanceSettings.current()
        instance.failed_auth_ban_enabled = False
        instance.save()

    @settings(
        max_examples=2000,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(header=headers, on_git=st.booleans())
    def test_no_header_ever_causes_a_500(self, client, project, no_ban, header, on_git):
        response = get(client, CLONE if on_git else "/-/whoami", header)
        assert response.status_code == 401
        assert response["WWW-Authenticate"] == 'Basic realm="Tokens"'

    # Headers that get past the scheme: base64 of any bytes, rich in colons, control
    # characters and invalid UTF-8, so every branch of the parser is taken.
    basic_headers = st.one_of(
        st.builds(
            lambda scheme, raw, padding: scheme + base64.b64encode(raw).decode() + padding,
            st.sampled_from(["Basic ", "basic ", "Basic  ", " Basic "]),
            st.one_of(
                st.binary(max_size=120),
                st.lists(st.sampled_from([b":", b"\x00", b"\x1f", b"\xff", b"a", b"\xc3\xa9"])).map(
                    b"".join
                ),
            ),
            st.sampled_from(["", " ", "=", "\n"]),
        ),
        st.text(max_size=200),
    )

    @settings(max_examples=3000, deadline=None)
    @given(header=basic_headers)
    def test_parser_never_raises_and_returns_only_usable_pairs(self, header):
        result = parse_basic(header)
        if result is not None:
            username, secret = result
            assert secret and not any(ord(c) < 32 or ord(c) == 127 for c in username + secret)
            assert base64.b64decode(header.split()[1]).decode() == f"{username}:{secret}"


class TestProjectPaths:
    def test_paths_match_ignoring_case_as_they_are_unique(self, client, project):
        token, value = make_deploy_token(project, scopes=["read_repository"])
        url = "/Tanuki/APP.git/info/refs?service=git-upload-pack"
        assert get(client, url, basic(token.username, value)).status_code == 200

    def test_the_case_insensitive_lookup_is_served_by_the_unique_index(self, project):
        if connection.vendor != "postgresql":
            pytest.skip("the plan is PostgreSQL's")
        query = Project.objects.by_full_path("Tanuki/App").values("pk").query
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            sql, params = query.sql_with_params()
            cursor.execute(f"EXPLAIN {sql}", params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        assert "project_full_path_ci_unique" in plan, plan


class TestDeployTokens:
    def test_git_answers_with_the_advertisement(self, client, project):
        # Kept whole by the advertisement cache (small); packs stream (tests/e2e).
        token, value = make_deploy_token(project, scopes=["read_repository"])
        response = get(client, CLONE, basic(token.username, value))
        assert response.status_code == 200
        assert b"# service=git-upload-pack" in response.content

    def test_project_token_clones_and_never_pushes(self, client, project):
        token, value = make_deploy_token(project, scopes=["read_repository"])
        assert get(client, CLONE, basic(token.username, value)).status_code == 200
        response = get(client, PUSH, basic(token.username, value))
        assert response.status_code == 403
        assert response.content.decode() == (
            "Deploy tokens cannot push code: they only read the repository.\n"
        )

    def test_wrong_username_is_refused_like_an_unknown_token(self, client, project):
        token, value = make_deploy_token(project)
        wrong = get(client, CLONE, basic("someone-else", value))
        unknown = get(client, CLONE, basic(token.username, value[:-6] + "AAAAAA"))
        assert wrong.status_code == unknown.status_code == 401
        assert wrong.content == unknown.content

    def test_token_of_another_project_gets_404(self, client, project):
        token, value = make_deploy_token(ProjectFactory())
        assert get(client, CLONE, basic(token.username, value)).status_code == 404

    def test_group_token_reaches_a_project_two_subgroups_down(self, client):
        top = GroupFactory(path="top")
        deep = ProjectFactory(group=GroupFactory(parent=GroupFactory(parent=top)), path="deep")
        token, value = make_deploy_token(top)
        url = f"/{deep.full_path}.git/info/refs?service=git-upload-pack"
        assert get(client, url, basic(token.username, value)).status_code == 200

    def test_missing_scope_is_named(self, client, project):
        token, value = make_deploy_token(project, scopes=["read_registry"])
        response = get(client, CLONE, basic(token.username, value))
        assert response.status_code == 403
        assert "needs read_repository" in response.content.decode()

    def test_revoked_and_expired_are_refused(self, client, project):
        token, value = make_deploy_token(project)
        DeployToken.objects.filter(pk=token.pk).update(revoked=True)
        assert get(client, CLONE, basic(token.username, value)).status_code == 401
        token2, value2 = make_deploy_token(project)
        DeployToken.objects.filter(pk=token2.pk).update(expires_at=utc_today())
        assert get(client, CLONE, basic(token2.username, value2)).status_code == 401

    def test_refused_while_external_authorization_is_on(self, client, project):
        token, value = make_deploy_token(project)
        instance = InstanceSettings.current()
        instance.external_authorization_enabled = True
        instance.save()
        response = get(client, CLONE, basic(token.username, value))
        assert response.status_code == 403 and "external authorization" in response.content.decode()

    def test_deploy_tokens_are_never_a_session(self, client, project):
        token, value = make_deploy_token(project)
        response = get(client, CLONE, basic(token.username, value))
        assert "sessionid" not in response.cookies and "csrftoken" not in response.cookies


class TestPersonalTokens:
    @pytest.fixture
    def reporter(self, project):
        user = UserFactory()
        MembershipFactory(user=user, group=project.group, access_level=AccessLevel.REPORTER)
        return user

    @pytest.mark.parametrize("scopes", [["read_repository"], ["write_repository"], ["api"]])
    def test_reporter_clones_with_a_repository_or_api_scope(
        self, client, project, reporter, scopes
    ):
        _, value = make_personal_token(reporter, scopes=scopes)
        assert get(client, CLONE, basic("ignored-username", value)).status_code == 200

    @pytest.mark.parametrize("scopes", [["read_api"], ["read_user"], ["read_registry"]])
    def test_other_scopes_cannot_clone(self, client, project, reporter, scopes):
        _, value = make_personal_token(reporter, scopes=scopes)
        response = get(client, CLONE, basic("x", value))
        assert response.status_code == 403
        assert response.content.decode().startswith("Insufficient scope: this token needs")

    def test_reporter_may_not_push_developer_may(self, client, project, reporter):
        _, value = make_personal_token(reporter, scopes=["write_repository"])
        response = get(client, PUSH, basic("x", value))
        assert response.status_code == 403
        assert "at least the Developer role" in response.content.decode()
        developer = UserFactory()
        MembershipFactory(user=developer, project=project, access_level=AccessLevel.DEVELOPER)
        _, dev_value = make_personal_token(developer, scopes=["write_repository"])
        assert get(client, PUSH, basic("x", dev_value)).status_code == 200

    def test_guest_may_not_read_code(self, client, project):
        guest = UserFactory()
        MembershipFactory(user=guest, group=project.group, access_level=AccessLevel.GUEST)
        _, value = make_personal_token(guest, scopes=["read_repository"])
        assert get(client, CLONE, basic("x", value)).status_code == 403

    @pytest.mark.parametrize("scopes", [["api"], ["read_registry"]])
    def test_non_member_gets_404_on_a_private_project(self, client, project, scopes):
        # Whatever the token's scopes: a 403 for the wrong scope would tell the project exists.
        _, value = make_personal_token(scopes=scopes)
        for url in (CLONE, "/tanuki/nothing-here.git/info/refs?service=git-upload-pack"):
            response = get(client, url, basic("x", value))
            assert response.status_code == 404
            assert response.content == b"The project was not found.\n"

    def test_administrator_token_reaches_everything(self, client, project):
        _, value = make_personal_token(AdminFactory(), scopes=["write_repository"])
        assert get(client, PUSH, basic("x", value)).status_code == 200

    def test_blocked_user_and_revoked_token_are_refused(self, client, project, reporter):
        token, value = make_personal_token(reporter, scopes=["read_repository"])
        reporter.is_active = False
        reporter.save()
        assert get(client, CLONE, basic("x", value)).status_code == 401
        reporter.is_active = True
        reporter.save()
        token.revoke()
        assert get(client, CLONE, basic("x", value)).status_code == 401

    def test_use_records_last_used(self, client, project, reporter):
        token, value = make_personal_token(reporter, scopes=["read_repository"])
        get(client, CLONE, basic("x", value))
        token.refresh_from_db()
        assert token.last_used_at is not None


class TestVisibility:
    def test_public_project_clones_anonymously_but_not_pushes(self, client):
        group = GroupFactory(path="open", visibility=Visibility.PUBLIC)
        ProjectFactory(group=group, path="lib", visibility=Visibility.PUBLIC)
        assert get(client, "/open/lib.git/info/refs?service=git-upload-pack").status_code == 200
        assert get(client, "/open/lib.git/info/refs?service=git-receive-pack").status_code == 401

    def test_internal_project_needs_a_signed_in_user(self, client):
        group = GroupFactory(path="corp", visibility=Visibility.INTERNAL)
        ProjectFactory(group=group, path="tool", visibility=Visibility.INTERNAL)
        url = "/corp/tool.git/info/refs?service=git-upload-pack"
        assert get(client, url).status_code == 401
        _, value = make_personal_token(scopes=["read_repository"])
        assert get(client, url, basic("x", value)).status_code == 200


class TestPasswords:
    def test_password_works_for_git_when_the_instance_allows_it(self, client, project):
        user = UserFactory(username="pat")
        MembershipFactory(user=user, project=project, access_level=AccessLevel.DEVELOPER)
        assert get(client, CLONE, basic("pat", PASSWORD)).status_code == 200
        instance = InstanceSettings.current()
        instance.git_password_authentication_enabled = False
        instance.save()
        assert get(client, CLONE, basic("pat", PASSWORD)).status_code == 401

    def test_a_token_shaped_secret_is_never_tried_as_a_password(self, client, project):
        """A value with a token prefix or shape is a token, right or wrong: the slow
        password hasher never runs for it, even when it is the user's password."""
        for password in ("glpat-" + "P" * 32, "gldt-" + "P" * 32, "custom-" + "Q" * 32):
            user = UserFactory(username=f"u{len(password)}{password[:2]}")
            user.set_password(password)
            user.save()
            MembershipFactory(user=user, project=project, access_level=AccessLevel.DEVELOPER)
            assert get(client, CLONE, basic(user.username, password)).status_code == 401

    def test_a_personal_token_is_tried_before_a_deploy_token_and_a_password(self, client, project):
        """Basic `<a deploy token's username>:<personal token>` is the personal token: its
        username is ignored, and the user is who the request acts as."""
        deploy, _ = make_deploy_token(project)
        owner = UserFactory(username=deploy.username.replace("+", "-"))
        MembershipFactory(user=owner, project=project, access_level=AccessLevel.REPORTER)
        _, value = make_personal_token(owner, scopes=["read_api"])
        response = get(client, "/-/whoami", basic(deploy.username, value))
        assert response.json()["kind"] == "personal_access_token"
        assert response.json()["username"] == owner.username

    def test_wrong_password_and_blocked_user_are_refused(self, client, project):
        UserFactory(username="pat")
        UserFactory(username="blocked", is_active=False)
        assert get(client, CLONE, basic("pat", "wrong password")).status_code == 401
        assert get(client, CLONE, basic("blocked", PASSWORD)).status_code == 401


class TestQueryCounts:
    """DB queries on the authentication path (the cache is kept out of the count). A token's
    lookup reads the address's ban in the same statement."""

    @pytest.fixture(autouse=True)
    def local_cache(self, settings):
        settings.CACHES = LOCAL_CACHE
        InstanceSettings.current()  # this process's copy, as on a warm server

    def test_deploy_token_costs_one_query_once_last_used_is_fresh(
        self, client, project, django_assert_num_queries
    ):
        token, value = make_deploy_token(project)
        with django_assert_num_queries(2):  # the lookup and the first last-used UPDATE
            get(client, "/-/whoami", basic(token.username, value))
        with django_assert_num_queries(1):
            response = get(client, "/-/whoami", basic(token.username, value))
        assert response.json()["kind"] == "deploy_token"
        token.refresh_from_db()
        assert token.last_used_at is not None and token.last_used_ips == ["127.0.0.1"]

    def test_personal_token_costs_one_query_once_last_used_is_fresh(
        self, client, django_assert_num_queries
    ):
        token, value = make_personal_token(scopes=["read_api"])
        with django_assert_num_queries(2):  # the lookup and the first last-used UPDATE
            get(client, "/-/whoami", basic("x", value))
        with django_assert_num_queries(1):
            response = get(client, "/-/whoami", basic("x", value))
        assert response.json() == {
            "kind": "personal_access_token",
            "username": token.user.username,
            "scopes": ["read_api"],
            "expires_at": str(utc_today() + timedelta(days=365)),  # required expiry,
        }

    def test_on_a_project_a_personal_token_adds_the_project_and_the_users_role(
        self, client, project, django_assert_num_queries
    ):
        reporter = UserFactory()
        MembershipFactory(user=reporter, group=project.group, access_level=AccessLevel.REPORTER)
        _, value = make_personal_token(reporter, scopes=["read_repository"])
        get(client, CLONE, basic("x", value))  # first use records last_used_at
        # The token, its user and the project in one statement; the user's role.
        with django_assert_num_queries(2):
            assert get(client, CLONE, basic("x", value)).status_code == 200

    def test_on_a_project_a_deploy_token_adds_only_the_project(
        self, client, project, django_assert_num_queries
    ):
        token, value = make_deploy_token(project.group)  # reach: from the project's group path
        get(client, CLONE, basic(token.username, value))  # last used: written once
        with django_assert_num_queries(1):  # the token and the project, in one statement
            assert get(client, CLONE, basic(token.username, value)).status_code == 200

    @pytest.mark.parametrize("prefix", ["glpat-", "gldt-"])
    @pytest.mark.parametrize("url", ["/-/whoami", CLONE, PUSH])
    def test_bad_checksum_costs_no_lookup(
        self, client, project, prefix, url, django_assert_num_queries
    ):
        """No token is looked up: the queries are the ban's (the address's ban, one more
        failure for it), never a token's or the project's."""
        forged = prefix + "A" * 32
        with django_assert_num_queries(2) as queries:
            response = get(client, url, basic("x", forged))
        assert response.status_code == 401
        sql = " ".join(query["sql"] for query in queries.captured_queries)
        for model in (PersonalAccessToken, DeployToken, Project):
            assert model._meta.db_table not in sql


class TestBan:
    def test_thirty_failures_ban_the_ip_for_everything(self, client, project):
        token, value = make_deploy_token(project)
        for _ in range(29):
            assert get(client, CLONE, basic("x", "glpat-" + "B" * 32)).status_code == 401
        assert not AuditEvent.objects.filter(action=AuditAction.IP_BAN).exists()
        assert get(client, CLONE, basic("x", "glpat-" + "B" * 32)).status_code == 401
        response = get(client, CLONE, basic(token.username, value))  # even valid credentials
        assert response.status_code == 403
        assert "Too many failed authentication attempts" in response.content.decode()
        event = AuditEvent.objects.get(action=AuditAction.IP_BAN)
        assert event.target_label == "127.0.0.1" and event.details["failures"] == 30
        # Another address is not affected.
        assert (
            get(client, CLONE, basic(token.username, value), REMOTE_ADDR="10.0.0.9").status_code
            == 200
        )

    def test_a_ban_made_by_another_process_holds_on_the_next_request(self, client, project):
        """No process remembers "not banned": every request asks the store."""
        token, value = make_deploy_token(project)
        assert get(client, CLONE, basic(token.username, value)).status_code == 200
        store().ban("127.0.0.1", duration_seconds=60, failures=30)  # as another worker would
        assert get(client, CLONE, basic(token.username, value)).status_code == 403

    def test_anonymous_probes_are_not_failures(self, client, project):
        for _ in range(40):
            get(client, CLONE)
        token, value = make_deploy_token(project)
        assert get(client, CLONE, basic(token.username, value)).status_code == 200

    def test_thresholds_and_switch_come_from_instance_settings(self, client, project):
        instance = InstanceSettings.current()
        instance.failed_auth_ban_limit = 3
        instance.save()
        for _ in range(3):
            get(client, CLONE, basic("x", "nope-nope-nope-nope-nope"))
        assert get(client, CLONE).status_code == 403
        instance.failed_auth_ban_enabled = False
        instance.failed_auth_ban_limit = 30
        instance.save()
        ban_lift(ip="127.0.0.1")
        for _ in range(40):
            get(client, CLONE, basic("x", "nope-nope-nope-nope-nope"))
        assert get(client, CLONE).status_code == 401


@pytest.mark.parametrize("kind", ["deploy", "personal"])
def test_a_token_is_refused_from_00_00_utc_on_its_expiry_date(client, project, kind):
    expiry = date(2031, 3, 15)
    with time_machine.travel(datetime(2031, 3, 1, tzinfo=UTC), tick=False):
        if kind == "deploy":
            token, value = make_deploy_token(project, expires_at=expiry)
            username = token.username
        else:
            reporter = UserFactory()
            MembershipFactory(user=reporter, project=project, access_level=AccessLevel.REPORTER)
            _, value = make_personal_token(reporter, scopes=["read_repository"], expires_at=expiry)
            username = "x"
    with time_machine.travel(datetime(2031, 3, 14, 23, 59, 59, tzinfo=UTC), tick=False):
        assert get(client, CLONE, basic(username, value)).status_code == 200
    with time_machine.travel(datetime(2031, 3, 15, 0, 0, 0, tzinfo=UTC), tick=False):
        assert get(client, CLONE, basic(username, value)).status_code == 401


class TestBanQueries:
    """What the ban adds: nothing to a token's lookup; one query where no lookup ran; one
    upsert per failure."""

    @pytest.fixture(autouse=True)
    def local_cache(self, settings):
        settings.CACHES = LOCAL_CACHE
        InstanceSettings.current()

    def test_an_anonymous_request_costs_the_ban_check(self, client, django_assert_num_queries):
        group = GroupFactory(path="open", visibility=Visibility.PUBLIC)
        ProjectFactory(group=group, path="lib", visibility=Visibility.PUBLIC)
        url = "/open/lib.git/info/refs?service=git-upload-pack"
        with django_assert_num_queries(1):  # the address's ban and the project, one statement
            assert get(client, url).status_code == 200
        with django_assert_num_queries(1):  # no such project: the same statement, then 401
            assert get(client, url.replace("lib", "nothing")).status_code == 401

    def test_an_unknown_token_costs_its_lookup_the_ban_check_and_the_count(
        self, client, django_assert_num_queries
    ):
        from tokens_site.tokens import token_generate

        with django_assert_num_queries(3):  # the lookup (no row); the ban; the count
            response = get(client, "/-/whoami", basic("x", token_generate("glpat-")))
        assert response.status_code == 401

    def test_a_banned_address_gets_the_same_answer_for_a_good_and_a_bad_token(self, client):
        token, value = make_deploy_token(ProjectFactory())
        store().ban("127.0.0.1", duration_seconds=60, failures=30)
        good = get(client, "/-/whoami", basic(token.username, value))
        bad = get(client, "/-/whoami", basic(token.username, value[:-6] + "AAAAAA"))
        assert good.status_code == bad.status_code == 403
        assert good.content == bad.content

    def test_a_ban_switched_off_does_not_keep_a_token_from_being_marked_used(self, client):
        token, value = make_personal_token(UserFactory(), scopes=["api"])
        store().ban("127.0.0.1", duration_seconds=60, failures=30)
        instance = InstanceSettings.current()
        instance.failed_auth_ban_enabled = False
        instance.save()
        assert get(client, "/-/whoami", basic("anyone", value)).status_code == 200
        token.refresh_from_db()
        assert token.last_used_at is not None

    @pytest.mark.parametrize("kind", ["deploy", "personal"])
    def test_a_banned_address_spends_the_same_statements_on_a_right_and_a_wrong_token(
        self, client, kind, django_assert_num_queries
    ):
        """Else the time taken would tell a banned guesser which guess was right."""
        if kind == "deploy":
            token, value = make_deploy_token(ProjectFactory())
            username, prefix = token.username, DEPLOY_TOKEN_PREFIX
        else:
            _, value = make_personal_token(UserFactory(), scopes=["api"])
            username = "anyone"
            prefix = InstanceSettings.current().personal_access_token_prefix
        unknown = token_generate(prefix)  # well formed: it is looked up
        store().ban("127.0.0.1", duration_seconds=60, failures=30)
        for secret in (value, unknown):
            with django_assert_num_queries(2) as queries:  # the token lookup; the ban
                response = get(client, "/-/whoami", basic(username, secret))
            assert response.status_code == 403
            assert "UPDATE" not in " ".join(q["sql"] for q in queries.captured_queries)


class TestCaching:
    def test_what_a_credential_opened_is_kept_by_no_shared_cache(self, client, project):
        from tokens_site.packages import services as packages

        packages.generic_file_add(
            project=project, name="tool", version="1.0", file_name="t.txt", chunks=[b"x"]
        )
        _, value = make_deploy_token(project, scopes=["read_package_registry"])
        url = f"/api/v4/projects/{project.pk}/packages/generic/tool/1.0/t.txt"
        response = client.get(url, HTTP_DEPLOY_TOKEN=value)
        assert response.status_code == 200
        assert "private" in response["Cache-Control"]
        reader, reader_value = make_deploy_token(project, scopes=["read_repository"])
        clone = get(client, CLONE, basic(reader.username, reader_value))
        assert clone.status_code == 200
        assert "private" in clone["Cache-Control"] and "no-cache" in clone["Cache-Control"]

    def test_what_anyone_may_read_stays_cacheable(self, client):
        from tokens_site.packages import services as packages

        group = GroupFactory(path="open", visibility=Visibility.PUBLIC)
        public = ProjectFactory(group=group, path="lib", visibility=Visibility.PUBLIC)
        packages.generic_file_add(
            project=public, name="tool", version="1.0", file_name="t.txt", chunks=[b"x"]
        )
        url = f"/api/v4/projects/{public.pk}/packages/generic/tool/1.0/t.txt"
        response = client.get(url)
        assert response.status_code == 200
        assert "private" not in response.get("Cache-Control", "")
