"""The personal access token authenticator: one query, last use recorded at most every ten
minutes, nothing for a bad checksum, nothing for revoked, expired or blocked."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from personal_tokens.authentication import PersonalTokenAuthenticator
from personal_tokens.models import PersonalAccessToken
from personal_tokens.services import personal_token_revoke
from tests.factories import UserFactory, basic_header, make_personal_token, through_pipeline
from tokens_site.access.policy import Denied
from tokens_site.auth.credentials import Presented, Source
from tokens_site.auth.families import GIT
from tokens_site.auth.principal import Kind

pytestmark = pytest.mark.django_db


def authenticate(plaintext: str):
    """The token this value (in Basic) authenticates through the pipeline, or None."""
    try:
        principal = through_pipeline(GIT, HTTP_AUTHORIZATION=basic_header("ignored", plaintext))
    except Denied:
        return None
    return principal.token


class TestAuthentication:
    def test_valid_token_authenticates_and_records_its_first_use(self, django_assert_num_queries):
        token, plaintext = make_personal_token()
        with django_assert_num_queries(2):  # the lookup, then the one UPDATE of last_used_at
            found = authenticate(plaintext)
        assert found == token and found.user == token.user
        assert PersonalAccessToken.objects.get(pk=token.pk).last_used_at is not None

    def test_last_used_is_written_at_most_once_per_ten_minutes(self, django_assert_num_queries):
        start = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)
        with time_machine.travel(start, tick=False):
            token, plaintext = make_personal_token()
            authenticate(plaintext)
        for minutes in (1, 5, 9):
            # Within the interval: the lookup only, no write.
            later = start + timedelta(minutes=minutes)
            with time_machine.travel(later, tick=False), django_assert_num_queries(1):
                authenticate(plaintext)
        later = start + timedelta(minutes=10)
        with time_machine.travel(later, tick=False), django_assert_num_queries(2):
            authenticate(plaintext)
        assert PersonalAccessToken.objects.get(pk=token.pk).last_used_at == start + timedelta(
            minutes=10
        )

    def test_bad_checksum_is_refused_without_a_query(self, django_assert_num_queries):
        _, plaintext = make_personal_token()
        forged = plaintext[:-1] + ("x" if plaintext[-1] != "x" else "y")
        with django_assert_num_queries(0):  # the authenticator's lookup is never made
            for value in (forged, "glpat-short"):
                presented = Presented(username="ignored", secret=value, source=Source.BASIC)
                outcome = PersonalTokenAuthenticator().authenticate(None, presented, "127.0.0.1")
                assert outcome.principal is None

    def test_revoked_expired_and_blocked_are_refused(self):
        revoked, revoked_value = make_personal_token()
        personal_token_revoke(actor=None, token=revoked)
        with time_machine.travel(datetime(2030, 1, 1, tzinfo=UTC), tick=False):
            _, expiring_value = make_personal_token(expires_at=datetime(2030, 1, 2).date())
        blocked_user = UserFactory(is_active=False)
        _, blocked_value = make_personal_token(blocked_user)
        with time_machine.travel(datetime(2030, 1, 2, tzinfo=UTC), tick=False):
            for value in (revoked_value, expiring_value, blocked_value, "unknown-token-value-123"):
                assert authenticate(value) is None

    @pytest.mark.parametrize(
        "source", [Source.PRIVATE_TOKEN_HEADER, Source.BEARER, Source.PRIVATE_TOKEN_PARAMETER]
    )
    def test_the_principal_is_the_tokens_user_with_its_scopes(self, source):
        token, plaintext = make_personal_token(scopes=["read_api", "read_repository"])
        outcome = PersonalTokenAuthenticator().authenticate(
            None, Presented(secret=plaintext, source=source), "127.0.0.1"
        )
        assert outcome.address_banned is False
        principal = outcome.principal
        assert principal.kind is Kind.PERSONAL_TOKEN
        assert principal.user == token.user and principal.username == token.user.username
        assert principal.scopes == {"read_api", "read_repository"}

    def test_the_lookup_reads_the_addresss_ban_in_the_same_query(self, django_assert_num_queries):
        from tokens_site.auth.store import store

        _, plaintext = make_personal_token()
        authenticate(plaintext)  # its first use is recorded
        store().ban("127.0.0.1", duration_seconds=60, failures=30)
        with django_assert_num_queries(1):
            outcome = PersonalTokenAuthenticator().authenticate(
                None, Presented(secret=plaintext, source=Source.BASIC), "127.0.0.1"
            )
        assert outcome.address_banned is True
        other = PersonalTokenAuthenticator().authenticate(
            None, Presented(secret=plaintext, source=Source.BASIC), "192.0.2.1"
        )
        assert other.address_banned is False
