"""Rotation without downtime (tokens_site.rotation): the overlap, revoking ends both values,
reuse detection revokes the family, and a rotating token costs no more queries."""

import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings as django_settings
from django.core import mail
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from deploy_tokens.models import DeployToken
from deploy_tokens.services import deploy_token_rotate
from personal_tokens.models import PersonalAccessToken
from personal_tokens.services import personal_token_revoke, personal_token_rotate
from tests.factories import (
    UserFactory,
    make_access_token,
    make_deploy_token,
    make_personal_token,
    once_key,
)
from tokens_site.models import AuditAction, AuditEvent, InstanceSettings
from tokens_site.once import FIELD_NAME
from tokens_site.rotation import ALREADY_ROTATED, detect_reuse

pytestmark = pytest.mark.django_db
NOW = datetime(2030, 3, 10, 12, 0, tzinfo=UTC)
PAGE = "/-/user_settings/personal_access_tokens"


def api(client, token, method="get", path="/api/v4/user", **data):
    call = getattr(client, method)
    return call(path, data, content_type="application/json", HTTP_PRIVATE_TOKEN=token)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def test_the_old_value_works_through_the_overlap_only(client, clock):
    user = UserFactory()
    _, old_value = make_personal_token(user, name="ci", scopes=["api"])
    answer = api(
        client, old_value, "post", "/api/v4/personal_access_tokens/self/rotate", overlap_hours=2
    )
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["rotated_at"] == "2030-03-10T12:00:00Z"
    assert body["previous_expires_at"] == "2030-03-10T14:00:00Z"
    new_value = body["token"]
    assert api(client, old_value).status_code == 200
    assert api(client, new_value).status_code == 200
    old = PersonalAccessToken.objects.get(pk=body["id"]).previous
    assert (
        api(client, new_value, path=f"/api/v4/personal_access_tokens/{old.pk}").json()[
            "works_until"
        ]
        == "2030-03-10T14:00:00Z"
    )
    clock.shift(timedelta(hours=2))
    assert api(client, old_value).status_code == 401
    assert api(client, new_value).status_code == 200
    states = {
        t["id"]: t["active"]
        for t in api(client, new_value, path="/api/v4/personal_access_tokens").json()
    }
    assert states == {old.pk: False, body["id"]: True}


@pytest.mark.parametrize("hours", [-1, 169, "two", True, 1.5])
def test_a_bad_overlap_is_a_400_and_changes_nothing(client, hours):
    _, value = make_personal_token(UserFactory(), scopes=["api"])
    answer = api(
        client, value, "post", "/api/v4/personal_access_tokens/self/rotate", overlap_hours=hours
    )
    assert answer.status_code == 400 and "overlap_hours" in answer.content.decode()
    assert PersonalAccessToken.objects.count() == 1
    assert api(client, value).status_code == 200


def test_the_instance_caps_the_overlap():
    settings = InstanceSettings.current()
    settings.max_rotation_overlap_hours = 24
    settings.save()
    token, _ = make_personal_token(UserFactory())
    with pytest.raises(ValidationError) as refused:
        personal_token_rotate(actor=token.user, token=token, overlap_hours=25)
    assert refused.value.message_dict == {
        "overlap_hours": ["Enter a whole number of hours from 0 to 24."]
    }
    successor, _ = personal_token_rotate(actor=token.user, token=token, overlap_hours=24)
    assert successor.previous_works


def test_revoking_either_token_ends_both(client, clock):
    user = UserFactory()
    token, old_value = make_personal_token(user, scopes=["api"])
    successor, new_value = personal_token_rotate(actor=user, token=token, overlap_hours=5)
    personal_token_revoke(actor=user, token=successor)
    assert api(client, old_value).status_code == 401
    assert api(client, new_value).status_code == 401
    # Revoking the old one during its overlap ends the successor's "rotating" note.
    other, _ = make_personal_token(user, name="other")
    next_one, next_value = personal_token_rotate(actor=user, token=other, overlap_hours=5)
    personal_token_revoke(actor=user, token=PersonalAccessToken.objects.get(pk=other.pk))
    next_one.refresh_from_db()
    assert not next_one.previous_works and next_one.is_active
    assert api(client, next_value).status_code == 200


def test_a_rotated_token_cannot_be_rotated_again_during_its_overlap(client):
    user = UserFactory()
    _, old_value = make_personal_token(user, name="ci", scopes=["api"])
    path = "/api/v4/personal_access_tokens/self/rotate"
    assert api(client, old_value, "post", path, overlap_hours=1).status_code == 200
    again = api(client, old_value, "post", path)
    assert again.status_code == 400 and ALREADY_ROTATED in again.json()["message"]
    assert PersonalAccessToken.objects.filter(name="ci").active().count() == 2  # no family revoke
    assert PersonalAccessToken.objects.count() == 2


def test_reuse_after_the_overlap_revokes_the_whole_family(client, clock):
    user = UserFactory()
    _, first = make_personal_token(user, name="ci", scopes=["api"])
    path = "/api/v4/personal_access_tokens/self/rotate"
    second = api(client, first, "post", path).json()["token"]  # no overlap: first stops now
    third = api(client, second, "post", path, overlap_hours=1).json()["token"]
    assert api(client, first).status_code == 401  # anything else: a plain 401
    assert api(client, third).status_code == 200
    assert not AuditEvent.objects.filter(action=AuditAction.TOKEN_FAMILY_REVOKE).exists()
    reused = api(client, first, "post", path)
    assert reused.status_code == 401 and reused.json() == {"message": "401 Unauthorized"}
    assert api(client, third).status_code == 401
    assert api(client, second).status_code == 401  # was in its overlap: ended too
    assert not PersonalAccessToken.objects.active().exists()
    [event] = AuditEvent.objects.filter(action=AuditAction.TOKEN_FAMILY_REVOKE)
    assert len(event.details["revoked"]) == 2 and event.details["reused"]
    # The same reuse again (or two at once): 401 again, nothing left to revoke, audited.
    assert api(client, first, "post", path).status_code == 401
    assert AuditEvent.objects.filter(action=AuditAction.TOKEN_FAMILY_REVOKE).count() == 2


def test_reuse_of_an_access_token_at_its_self_rotate(client, world):
    _, first = make_access_token(world["project"], world["users"]["owner"], scopes=["api"])
    path = f"/api/v4/projects/{world['project'].pk}/access_tokens/self/rotate"
    answer = api(client, first, "post", path)
    assert answer.status_code == 200, answer.content
    second = answer.json()["token"]
    assert api(client, first, "post", path).status_code == 401
    assert api(client, second).status_code == 401
    assert AuditEvent.objects.filter(action=AuditAction.TOKEN_FAMILY_REVOKE).count() == 1


def test_concurrent_rotations_one_wins_also_with_an_overlap(world):
    token, _ = make_deploy_token(world["project"])
    stale = DeployToken.objects.get(pk=token.pk)
    deploy_token_rotate(actor=world["users"]["owner"], token=token, overlap_hours=3)
    with pytest.raises(ValidationError) as refused:
        deploy_token_rotate(actor=world["users"]["owner"], token=stale, overlap_hours=3)
    assert refused.value.messages == [ALREADY_ROTATED]
    assert DeployToken.objects.count() == 2
    assert AuditEvent.objects.filter(action=AuditAction.DEPLOY_TOKEN_ROTATE).count() == 1


def test_a_rotating_token_costs_no_more_queries(client):
    """A request with a token whose old value still works, and with that old value, costs
    exactly a plain token's queries (the overlap is read with the token, in one statement)."""
    user = UserFactory()
    _, plain = make_personal_token(user, name="plain", scopes=["api"])
    token, _ = make_personal_token(user, name="ci", scopes=["api"])
    _, rotating = personal_token_rotate(actor=user, token=token, overlap_hours=2)
    old, old_value = make_personal_token(user, name="old", scopes=["api"])
    personal_token_rotate(actor=user, token=old, overlap_hours=2)
    for value in (plain, rotating, old_value):  # the first use records last-used
        api(client, value)
    counts = []
    for value in (plain, rotating, old_value):
        with CaptureQueriesContext(connection) as queries:
            assert api(client, value).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1] == counts[2], counts


def test_the_page_rotates_with_an_overlap_and_shows_it(client, clock):
    user = UserFactory()
    token, _ = make_personal_token(user, name="ci")
    client.force_login(user)
    page = client.get(PAGE).content.decode()
    key = re.search(rf'name="{FIELD_NAME}" value="([^"]+)"', page).group(1)
    assert 'name="overlap_hours"' in page and 'max="168"' in page
    shown = client.post(f"{PAGE}/{token.pk}/rotate", {FIELD_NAME: key, "overlap_hours": "6"})
    text = shown.content.decode()
    assert "The old value of ci works until 2030-03-10 18:00 UTC" in text
    page = client.get(PAGE).content.decode()
    active = page.split('id="active-personal-access-tokens"')[1].split("</table>")[0]
    assert active.count("<tr") == 2  # the header and one row: the old value is on it
    assert "rotating — old value works until" in active and "Mar 10, 2030 18:00 UTC" in active
    clock.shift(timedelta(hours=6))
    page = client.get(PAGE).content.decode()
    inactive = page.split('id="inactive-personal-access-tokens"')[1].split("</table>")[0]
    assert "Rotated" in inactive and "rotating" not in page.split("inactive-personal")[0]


def test_a_bad_overlap_on_the_page_says_why(client):
    user = UserFactory()
    token, _ = make_personal_token(user, name="ci")
    client.force_login(user)
    key = once_key(client, PAGE)
    answer = client.post(
        f"{PAGE}/{token.pk}/rotate", {FIELD_NAME: key, "overlap_hours": "500"}, follow=True
    )
    assert "Enter a whole number of hours from 0 to 168." in answer.content.decode()
    assert PersonalAccessToken.objects.count() == 1


@pytest.mark.skipif(
    "postgresql" not in django_settings.DATABASES["default"]["ENGINE"],
    reason="two connections writing at once: PostgreSQL (SQLite serializes writers)",
)
@pytest.mark.django_db(transaction=True)
def test_two_reuses_at_once_revoke_the_family_once_and_fail_nothing():
    """A family-reuse race: the same rotated-out value presented twice at once. Both are
    refused, every token of the family ends, nothing is left half-done."""
    user = UserFactory()
    first, _ = make_personal_token(user, name="ci")
    second, _ = personal_token_rotate(actor=user, token=first)
    personal_token_rotate(actor=user, token=second, overlap_hours=1)
    reused = PersonalAccessToken.objects.get(pk=first.pk)
    start, errors, results = threading.Barrier(2), [], []

    def reuse() -> None:
        try:
            start.wait(timeout=10)
            results.append(detect_reuse(PersonalAccessToken.objects.get(pk=reused.pk)))
        except Exception as error:  # reported by the test, not lost in the thread
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=reuse) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == [] and results == [True, True]
    assert not PersonalAccessToken.objects.active().exists()
    assert PersonalAccessToken.objects.filter(previous_expires_at__gt=timezone.now()).count() == 0
    assert AuditEvent.objects.filter(action=AuditAction.TOKEN_FAMILY_REVOKE).count() == 2


@pytest.mark.parametrize("kind", ["personal", "deploy", "access"])
def test_the_old_value_can_be_stopped_early_from_the_page(client, world, kind):
    owner = world["users"]["owner"]
    if kind == "personal":
        token, _ = make_personal_token(owner, name="ci")
        successor, _ = personal_token_rotate(actor=owner, token=token, overlap_hours=4)
        page = PAGE
    elif kind == "deploy":
        token, _ = make_deploy_token(world["project"], name="ci")
        successor, _ = deploy_token_rotate(actor=owner, token=token, overlap_hours=4)
        page = "/tanuki/backend/api/-/settings/repository"
    else:
        from access_tokens.services import access_token_rotate

        token, _ = make_access_token(world["project"], owner, name="ci")
        successor, _ = access_token_rotate(
            actor=owner, source=world["project"], token=token, overlap_hours=4
        )
        page = "/tanuki/backend/api/-/settings/access_tokens"
    client.force_login(owner)
    html = client.get(page).content.decode()
    assert "Stop the old value of ci" in html
    [end_url] = re.findall(rf'action="([^"]+/{token.pk}/revoke)"', html)
    assert client.post(end_url).status_code == 303
    token.refresh_from_db()
    successor.refresh_from_db()
    assert not token.is_active and successor.is_active and not successor.previous_works
    assert "Stop the old value" not in client.get(page).content.decode()


def test_revoking_ends_every_old_value_still_in_its_overlap(client):
    user = UserFactory()
    first, first_value = make_personal_token(user, name="ci", scopes=["api"])
    second, second_value = personal_token_rotate(actor=user, token=first, overlap_hours=3)
    third, third_value = personal_token_rotate(actor=user, token=second, overlap_hours=3)
    assert all(api(client, v).status_code == 200 for v in (first_value, second_value, third_value))
    personal_token_revoke(actor=user, token=third)
    assert all(api(client, v).status_code == 401 for v in (first_value, second_value, third_value))
    assert not PersonalAccessToken.objects.filter(previous_expires_at__gt=timezone.now()).exists()


def test_revoking_reaches_an_old_value_past_an_ended_link(client):
    """T rotated to S with a week's overlap, S to S2 at once: revoking S2 stops T too, though
    S's own overlap is over."""
    user = UserFactory()
    t, t_value = make_personal_token(user, name="ci", scopes=["api"])
    s, _ = personal_token_rotate(actor=user, token=t, overlap_hours=168)
    s2, s2_value = personal_token_rotate(actor=user, token=s, overlap_hours=0)
    assert api(client, t_value).status_code == 200
    personal_token_revoke(actor=user, token=s2)
    assert api(client, t_value).status_code == 401
    assert api(client, s2_value).status_code == 401


def test_a_value_stopped_early_is_rotated_out_for_reuse_detection(client):
    user = UserFactory()
    first, first_value = make_personal_token(user, name="ci", scopes=["api"])
    _successor, new_value = personal_token_rotate(actor=user, token=first, overlap_hours=24)
    personal_token_revoke(actor=user, token=PersonalAccessToken.objects.get(pk=first.pk))
    first.refresh_from_db()
    assert first.works_until <= timezone.now() and first.ended_by == "rotated"
    path = "/api/v4/personal_access_tokens/self/rotate"
    assert api(client, first_value, "post", path).status_code == 401
    assert api(client, new_value).status_code == 401  # the family is revoked
    assert AuditEvent.objects.filter(action=AuditAction.TOKEN_FAMILY_REVOKE).count() == 1


def test_a_long_rotated_token_is_not_listed_again_when_its_date_passes(clock):
    user = UserFactory()
    token, _ = make_personal_token(user, name="ci", expires_at=NOW.date() + timedelta(days=40))
    personal_token_rotate(actor=user, token=token, overlap_hours=1)
    clock.shift(timedelta(days=35))
    assert list(user.personal_access_tokens.recently_inactive()) == []
    clock.shift(timedelta(days=6))  # past the old token's expiry date (its successor's too)
    listed = user.personal_access_tokens.recently_inactive()
    assert token.pk not in [t.pk for t in listed] and len(listed) == 1


def test_a_line_break_in_a_name_does_not_stop_the_emails(world):
    """A name holding a line break (the API's text fields allow one) goes into the subjects of
    the expiry and leak emails as a space: the emails go out, nothing fails."""
    from tokens_site.expiry_notices import send_expiry_notices
    from tokens_site.token_inventory import revoke_found

    token, _ = make_personal_token(
        world["users"]["developer"], expires_at=timezone.now().date() + timedelta(days=3)
    )
    PersonalAccessToken.objects.filter(pk=token.pk).update(name="two\nlines")
    token.refresh_from_db()
    assert send_expiry_notices().emails == 1
    assert revoke_found(token, actor=None, where="a test")
    assert [m.subject for m in mail.outbox] == [
        "Personal access token 'two lines' expires in 3 days",
        "Your personal access token 'two lines' was found and revoked",
    ]


def test_deploy_token_lists_filter_by_state(client, world):
    owner = world["users"]["owner"]
    active, _ = make_deploy_token(world["project"], name="kept")
    revoked, _ = make_deploy_token(world["project"], name="gone")
    revoked.revoke_once()
    old, _ = make_deploy_token(world["project"], name="ci")
    successor, _ = deploy_token_rotate(actor=owner, token=old)
    _, value = make_personal_token(owner, scopes=["api"])
    path = f"/api/v4/projects/{world['project'].pk}/deploy_tokens"

    def ids(query: str) -> set[int]:
        answer = api(client, value, path=f"{path}?{query}")
        assert answer.status_code == 200, answer.content
        return {token["id"] for token in answer.json()}

    assert ids("state=active") == ids("active=true") == {active.pk, successor.pk}
    assert ids("state=inactive") == ids("active=false") == {revoked.pk, old.pk}
    assert ids("state=active&active=false") == {active.pk, successor.pk}  # state wins
    assert api(client, value, path=f"{path}?state=sideways").status_code == 400


def test_reuse_at_a_deploy_token_rotate_endpoint_revokes_the_family_too(client, world):
    """Any rotate endpoint of the API detects the reuse of a rotated-out personal token."""
    owner = world["users"]["owner"]
    first, first_value = make_personal_token(owner, name="ci", scopes=["api"])
    _, second_value = personal_token_rotate(actor=owner, token=first)
    deploy, _ = make_deploy_token(world["project"])
    path = f"/api/v4/projects/{world['project'].pk}/deploy_tokens/{deploy.pk}/rotate"
    assert api(client, first_value, "post", path).status_code == 401
    assert api(client, second_value).status_code == 401
    assert not DeployToken.objects.get(pk=deploy.pk).works_until  # nothing rotated


def test_a_failed_family_revocation_still_refuses(client, monkeypatch):
    from django.db import DatabaseError

    def fail(*args, **kwargs):
        raise DatabaseError("lock timeout")

    user = UserFactory()
    first, first_value = make_personal_token(user, name="ci", scopes=["api"])
    _, second_value = personal_token_rotate(actor=user, token=first)
    monkeypatch.setattr("tokens_site.auth.pipeline.detect_reuse", fail)
    reused = api(client, first_value, "post", "/api/v4/personal_access_tokens/self/rotate")
    assert reused.status_code == 401 and reused.json() == {"message": "401 Unauthorized"}
    assert api(client, second_value).status_code == 200  # the next attempt revokes it
