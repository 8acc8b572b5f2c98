"""A 10,000-character paste into a name field (issue 20): every form refuses it with a form error
that says how long it may be, creates nothing, and its field says the limit (the browser cuts a
paste there: tests/e2e/test_browser_small_screens.py)."""

import re

import pytest

from deploy_tokens.models import DeployToken
from personal_tokens.models import PersonalAccessToken
from tests.factories import once_key
from tokens_site.models import Group, Membership, Project
from tokens_site.once import FIELD_NAME

pytestmark = pytest.mark.django_db

PASTED = "Tanuki " * 1428 + "end!"  # 10,000 characters
assert len(PASTED) == 10_000

PROJECT = "/tanuki/backend/api"
GROUP = "/groups/tanuki/backend"

# (page, where the form posts, the form's fields, the field given the paste, its limit, what
# nothing created means)
FORMS = {
    "personal access token": (
        "/-/user_settings/personal_access_tokens",
        "/-/user_settings/personal_access_tokens",
        {"scopes": ["api"], "expires_at": ""},
        "name",
        255,
        lambda: PersonalAccessToken.objects.count(),
    ),
    "deploy token": (
        f"{PROJECT}/-/settings/repository",
        f"{PROJECT}/-/settings/repository/deploy_token/create",
        {"scopes": ["read_repository"], "expires_at": "", "username": ""},
        "name",
        255,
        lambda: DeployToken.objects.count(),
    ),
    "deploy token username": (
        f"{PROJECT}/-/settings/repository",
        f"{PROJECT}/-/settings/repository/deploy_token/create",
        {"name": "ci", "scopes": ["read_repository"], "expires_at": ""},
        "username",
        255,
        lambda: DeployToken.objects.count(),
    ),
    "project access token": (
        f"{PROJECT}/-/settings/access_tokens",
        f"{PROJECT}/-/settings/access_tokens",
        {"scopes": ["read_api"], "access_level": "30"},
        "name",
        255,
        lambda: PersonalAccessToken.objects.count(),  # a bot's token
    ),
    "group": (
        "/groups/new",
        "/groups/new",
        {"path": "pasted", "visibility": "private"},
        "name",
        255,
        lambda: Group.objects.count(),
    ),
    "project": (
        "/projects/new",
        "/projects/new",
        {"path": "pasted", "visibility": "private"},
        "name",
        255,
        lambda: Project.objects.count(),
    ),
    "member": (
        f"{GROUP}/-/group_members",
        f"{GROUP}/-/group_members",
        {"access_level": "30"},
        "username",
        150,
        lambda: Membership.objects.count(),
    ),
}


@pytest.mark.parametrize("kind", FORMS)
def test_a_pasted_10000_character_name_is_refused_with_its_limit(client, world, kind):
    page, action, fields, field, limit, count = FORMS[kind]
    client.force_login(world["users"]["owner"])
    form_page = client.get(page).content.decode()
    assert re.search(rf'name="{field}"[^>]*maxlength="{limit}"', form_page), "the field's limit"
    data = {**fields, field: PASTED}
    if FIELD_NAME in form_page:
        data[FIELD_NAME] = once_key(client, page)
    if kind == "project":  # the new project form asks where
        data["group"] = str(world["group"].pk)
    before = count()

    response = client.post(action, data)

    assert response.status_code == 200
    text = response.content.decode()
    assert f"Ensure this value has at most {limit} characters (it has 10000)." in text
    assert count() == before
