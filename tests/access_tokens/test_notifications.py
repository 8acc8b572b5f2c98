"""Expiry notices of access tokens go to the people who manage them, once."""

import io
from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command

from personal_tokens.models import PersonalAccessToken
from tests.factories import (
    GroupFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    make_access_token,
)
from tokens_site.models import AccessLevel
from tokens_site.tokens import utc_today

pytestmark = pytest.mark.django_db


def test_managers_are_told_once_and_the_bot_never(settings):
    owner = UserFactory(username="olga", email="olga@example.com")
    maintainer = UserFactory(username="max", email="max@example.com")
    developer = UserFactory(username="dev", email="dev@example.com")
    group = GroupFactory(path="tanuki", owner=owner)
    project = ProjectFactory(path="api", group=group)
    MembershipFactory(user=maintainer, project=project, access_level=AccessLevel.MAINTAINER)
    MembershipFactory(user=developer, group=group, access_level=AccessLevel.DEVELOPER)
    soon = utc_today() + timedelta(days=3)
    project_token, _ = make_access_token(project, owner, name="ci", scopes=["api"], expires_at=soon)
    make_access_token(group, owner, name="group-ci", scopes=["read_api"], expires_at=soon)
    call_command("send_token_expiry_notifications", stdout=io.StringIO())
    told = {tuple(message.to): message for message in mail.outbox}
    assert set(told) == {("olga@example.com",), ("max@example.com",)}
    assert "ci of tanuki/api" in told[("olga@example.com",)].body
    assert "group-ci of tanuki" in told[("olga@example.com",)].body
    assert "group-ci" not in told[("max@example.com",)].body  # group tokens: Owners only
    assert "/tanuki/api/-/settings/access_tokens" in told[("max@example.com",)].body
    assert PersonalAccessToken.objects.get(pk=project_token.pk).expiry_warning_sent_at
    mail.outbox.clear()
    call_command("send_token_expiry_notifications", stdout=io.StringIO())
    assert mail.outbox == []


def test_a_token_no_one_could_be_told_about_is_retried_and_managers_are_read_once(
    monkeypatch, django_assert_num_queries
):
    owner = UserFactory(username="olga", email="olga@example.com")
    project = ProjectFactory(path="api", group=GroupFactory(path="tanuki", owner=owner))
    soon = utc_today() + timedelta(days=3)
    for n in range(4):
        make_access_token(project, owner, name=f"ci-{n}", scopes=["api"], expires_at=soon)

    def refuse(self, *args, **kwargs):
        raise ConnectionRefusedError("mail server down")

    monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", refuse)
    call_command("send_token_expiry_notifications", stdout=io.StringIO())
    assert not PersonalAccessToken.objects.filter(expiry_warning_sent_at__isnull=False).exists()
    monkeypatch.undo()
    from access_tokens.notifications import send_access_token_notices
    from personal_tokens.notifications import EXPIRING

    # Four tokens of one project: its managers are read once, not once per token.
    with django_assert_num_queries(6):
        assert send_access_token_notices(EXPIRING) == 1
    [message] = mail.outbox
    assert all(f"ci-{n} of tanuki/api" in message.body for n in range(4))
