"""Leaked tokens (issue 17, first part): the scan, `find_tokens`, and `POST/DELETE /admin/token`."""

import io
import random
import re
import string

import pytest
from django.core import mail
from django.core.management import call_command

from deploy_tokens.models import DeployToken
from personal_tokens.models import PersonalAccessToken
from tests.factories import (
    AdminFactory,
    UserFactory,
    make_access_token,
    make_deploy_token,
    make_personal_token,
)
from tests.processes import manage
from tokens_site.models import AuditAction, AuditEvent, InstanceSettings
from tokens_site.token_scan import scan
from tokens_site.tokens import token_generate

pytestmark = pytest.mark.django_db


def look_alikes(n: int) -> str:
    rng = random.Random(7)  # noqa: S311  (look-alikes, not secrets)
    alphabet = string.ascii_letters + string.digits
    return " ".join("glpat-" + "".join(rng.choice(alphabet) for _ in range(32)) for _ in range(n))


def test_the_scan_finds_every_format_and_skips_look_alikes():
    personal, deploy = token_generate("glpat-"), token_generate("gldt-")
    custom = token_generate("mycompany-glpat-")
    text = f"a=1\nAuthorization: Bearer {personal}\n  x {deploy},\n{custom}\n" + look_alikes(2000)
    found = scan(text)
    assert [(f.prefix, f.line) for f in found] == [
        ("glpat-", 2),
        ("gldt-", 3),
        ("mycompany-glpat-", 4),
    ]
    assert found[0].masked == f"glpat-…{personal[-4:]}" and personal not in repr(found[0])


def test_line_numbers_are_right_for_many_hits():
    values = [token_generate("glpat-") for _ in range(300)]
    text = "".join(f"line {n}\n{value} and {value}\n" for n, value in enumerate(values))
    found = scan(text)
    assert [f.line for f in found] == [2 * n + 2 for n in range(300)]
    assert [f.value for f in found] == values


@pytest.mark.parametrize(
    "text", ["", "\x00" * 1000, bytes(range(256)).decode("latin-1") * 4000, "glpat-" * 10000]
)
def test_the_scan_takes_anything(text):
    assert scan(text) == []


@pytest.fixture
def leaks(world):
    owner = world["users"]["owner"]
    _, personal = make_personal_token(world["users"]["developer"], name="laptop")
    _, deploy = make_deploy_token(world["project"], name="ci")
    _, access = make_access_token(world["project"], owner, name="bot")
    revoked, revoked_value = make_personal_token(world["users"]["developer"], name="old")
    revoked.revoke()
    foreign = token_generate("glpat-")  # well formed, but not this instance's
    log = (
        f"2030-01-01 GET /api?private_token={personal}\n"
        f"deploy: {deploy}\naccess {access}\nold {revoked_value}\nother {foreign}\n"
        + look_alikes(500)
    )
    return {"log": log, "values": [personal, deploy, access, revoked_value, foreign]}


@pytest.mark.django_db(transaction=True)
def test_find_tokens_names_every_kind_never_the_secret(leaks):
    done = manage("find_tokens", stdin=leaks["log"])
    out = done.stdout
    assert done.returncode == 1, done.stderr
    assert "line 1: glpat-…" in out and "personal access token 'laptop' of user" in out
    assert "deploy token 'ci' of project tanuki/backend/api, active" in out
    assert "project access token 'bot' of project tanuki/backend/api, active" in out
    assert "personal access token 'old'" in out and ", revoked" in out
    assert "line 5: glpat-…" in out and "not a token of this instance" in out
    assert all(value not in out + done.stderr for value in leaks["values"])
    assert "5 token(s) found, 3 live." in done.stderr
    assert AuditEvent.objects.filter(action=AuditAction.TOKEN_LEAK_FIND).count() == 4
    assert manage("find_tokens", stdin="nothing here\n").returncode == 0


def test_find_tokens_revoke_revokes_and_tells_the_owners(leaks, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(leaks["log"].encode())))
    out = io.StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("find_tokens", "--revoke", stdout=out, stderr=io.StringIO())
    assert exited.value.code == 1
    assert out.getvalue().count("revoked now") == 3
    assert not PersonalAccessToken.objects.active().exists()
    assert not DeployToken.objects.active().exists()
    assert AuditEvent.objects.filter(action=AuditAction.TOKEN_LEAK_REVOKE).count() == 3
    subjects = sorted(m.subject for m in mail.outbox)
    assert "Your personal access token 'laptop' was found and revoked" in subjects
    assert any("deploy token 'ci'" in s for s in subjects)
    assert all("manage.py find_tokens" in m.body for m in mail.outbox)


def test_a_custom_prefix_is_found(world):
    settings = InstanceSettings.current()
    settings.personal_access_token_prefix = "acme-glpat-"
    settings.save()
    _, value = make_personal_token(world["users"]["developer"], name="acme")
    assert value.startswith("acme-glpat-")
    [found] = scan(f"x={value};")
    assert found.prefix == "acme-glpat-"


class TestAdminTokenApi:
    def call(self, client, method, value, *, user=None, scopes=("api",)):
        _, api_token = make_personal_token(user or AdminFactory(), scopes=list(scopes))
        return getattr(client, method)(
            "/api/v4/admin/token",
            {"token": value},
            content_type="application/json",
            HTTP_PRIVATE_TOKEN=api_token,
        )

    def test_an_administrator_learns_what_a_token_is(self, client, world):
        token, value = make_deploy_token(world["project"], name="ci")
        answer = self.call(client, "post", value)
        assert answer.status_code == 200 and answer["Cache-Control"] == "no-store"
        body = answer.json()
        assert (body["id"], body["kind"], body["owner"], body["state"]) == (
            token.pk,
            "deploy token",
            "project tanuki/backend/api",
            "active",
        )
        assert value not in answer.content.decode()
        assert AuditEvent.objects.filter(action=AuditAction.TOKEN_LEAK_FIND).count() == 1

    def test_delete_revokes_and_tells_the_owner(self, client, world):
        token, value = make_personal_token(world["users"]["developer"], name="laptop")
        assert self.call(client, "delete", value).status_code == 204
        token.refresh_from_db()
        assert token.revoked
        [message] = mail.outbox
        assert "the token information API" in message.body
        again = self.call(client, "delete", value)
        assert again.status_code == 400 and "not active" in again.json()["message"]

    def test_refusals(self, client, world):
        _, value = make_personal_token(world["users"]["developer"])
        assert self.call(client, "post", value, user=UserFactory()).status_code == 403
        assert client.post("/api/v4/admin/token", {"token": value}).status_code == 401
        assert self.call(client, "post", token_generate("glpat-")).status_code == 404
        assert self.call(client, "post", "x" * 2000).status_code == 400
        assert self.call(client, "post", f"{value} {value}").status_code == 404
        assert self.call(client, "post", value, scopes=["read_api"]).status_code == 403
        assert self.call(client, "post", "gldt-" + value[6:]).status_code == 404
        assert not PersonalAccessToken.objects.filter(revoked=True).exists()

    def test_a_predetermined_value_is_found_too(self, client, world):
        token, value = make_personal_token(
            world["users"]["developer"], name="chosen", token="my-own-chosen-value-1234"
        )
        answer = self.call(client, "post", value)
        assert answer.status_code == 200 and answer.json()["id"] == token.pk
        assert self.call(client, "delete", value).status_code == 204


class TestTokenInformationPage:
    URL = "/admin/token-information/"

    def test_paste_see_and_revoke(self, client, leaks):
        admin = AdminFactory()
        client.force_login(admin)
        page = client.get(self.URL)
        assert page.status_code == 200 and "Text to search" in page.content.decode()
        shown = client.post(self.URL, {"text": leaks["log"]})
        html = shown.content.decode()
        assert "5 tokens found" in html
        assert all(value not in html for value in leaks["values"])
        assert "deploy token" in html and "project access token" in html and "revoked" in html
        assert "Not a token of this instance" in html
        shown_fields = re.findall(r'name="shown" value="([^"]+)"', html)
        one = re.search(r'name="revoke" value="(deploy:\d+)"', html).group(1)
        after = client.post(self.URL, {"shown": shown_fields, "revoke": one})
        assert "Revoked 1 token(s)" in after.content.decode()
        assert not DeployToken.objects.active().exists()
        assert PersonalAccessToken.objects.active().count() == 2
        everything = client.post(self.URL, {"shown": shown_fields, "revoke_all": "1"})
        assert "Revoked 2 token(s)" in everything.content.decode()
        assert not PersonalAccessToken.objects.active().exists()
        assert AuditEvent.objects.filter(action=AuditAction.TOKEN_LEAK_REVOKE).count() == 3

    def test_bad_input_and_refusals(self, client):
        staff = UserFactory(is_staff=True)
        client.force_login(staff)
        assert client.get(self.URL).status_code == 404
        client.force_login(AdminFactory())
        assert "Paste the text" in client.post(self.URL, {"text": "  "}).content.decode()
        big = client.post(self.URL, {"text": "a" * (1024 * 1024 + 1)}).content.decode()
        assert "paste at most 1,048,576" in big
        noise = client.post(self.URL, {"text": look_alikes(20000)})
        assert noise.status_code == 200 and "0 tokens found" in noise.content.decode()
        make_personal_token(UserFactory(), name="live")
        forged = client.post(
            self.URL,
            {"shown": ["x|99999999999999|personal:abc", "y|²|personal:²"], "revoke": "z:1"},
        )
        page = forged.content.decode()
        assert forged.status_code == 200 and "Revoked 0 token(s)" in page
        assert page.count("Not a token of this instance") == 2
        assert PersonalAccessToken.objects.active().count() == 1

    def test_at_most_500_rows(self, client, monkeypatch):
        monkeypatch.setattr("tokens_site.admin_token_information.MAX_ROWS", 3)
        client.force_login(AdminFactory())
        text = " ".join(token_generate("glpat-") for _ in range(5))
        page = client.post(self.URL, {"text": text}).content.decode()
        assert "5 tokens found: the first 3 are shown." in page
        assert page.count('name="shown"') == 3
