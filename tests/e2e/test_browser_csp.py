"""The site's pages, the API's doc page and the Django admin in a real browser under the site's
Content-Security-Policy: every page an administrator reaches loads, carries the policy, and
breaks none of it (the `page` fixture fails the test on any violation, and on any HTML document
without the policy)."""

import json
import re
import urllib.request

import pytest
from django.urls import reverse

from deploy_tokens.models import DeployToken
from personal_tokens.models import PersonalAccessToken
from tests.e2e.conftest import sign_in
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
from tests.site.test_content_security_policy import STRICT_DIRECTIVES
from tokens_site.auth.lockout import lockout_record_failure
from tokens_site.auth.store import store
from tokens_site.models import AuditEvent, InstanceSettings, Membership

pytestmark = pytest.mark.e2e

BANNED_ADDRESS = "203.0.113.7"  # a documentation address: never the browser's own


def assert_strict_policy(response) -> None:
    policy = response.headers.get("content-security-policy", "")
    directives = {part.strip() for part in policy.split(";")}
    missing = [directive for directive in STRICT_DIRECTIVES if directive not in directives]
    assert not missing, f"{response.url}: the policy {policy!r} lacks {missing}"


def visit(page, url: str, *, status: int = 200):
    response = page.goto(url)
    assert response.status == status, f"{url} answered {response.status}"
    assert_strict_policy(response)
    return response


@pytest.fixture
def administrator(transactional_db):
    return AdminFactory(username="root")


def test_the_sites_pages_keep_the_policy(site_server, page, administrator):
    group = GroupFactory(path="tanuki", name="Tanuki", owner=administrator)
    subgroup = GroupFactory(parent=group, path="backend", name="Backend")
    project = ProjectFactory(group=subgroup, path="api", name="API")
    MembershipFactory(user=UserFactory(username="bob"), group=group)
    MembershipFactory(user=UserFactory(username="carol"), project=project)
    make_deploy_token(project, name="existing")
    make_personal_token(administrator, name="existing")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    url = site_server.url

    visit(page, f"{url}/users/sign_in")
    sign_in(page, site_server, "root", PASSWORD)
    for path in [
        "/",
        "/explore",
        "/groups/tanuki",
        "/groups/tanuki/backend",
        "/tanuki/backend/api",
        "/groups/tanuki/-/group_members",
        "/tanuki/backend/api/-/project_members",
        "/tanuki/backend/api/-/packages",
        "/tanuki/backend/api/-/container_registry",
        "/groups/new",
        "/projects/new",
        "/groups/new?parent_id=" + str(group.pk),
        "/-/user_settings/profile",
    ]:
        visit(page, url + path)
    visit(page, f"{url}/no/such/project", status=404)

    # The slug filled from the name (site.js) on the new group page.
    visit(page, f"{url}/groups/new")
    page.get_by_label("Group name").fill("Ops Team")
    assert page.get_by_label("Group URL").input_value() == "ops-team"

    # Settings > Repository: deploy tokens expanded, a token created, copied.
    visit(page, f"{url}/tanuki/backend/api")
    page.locator("nav.sidebar").get_by_role("link", name="Repository").click()
    page.get_by_text("Expand").click()
    page.get_by_text("Add token", exact=True).click()
    page.get_by_label("Name", exact=True).fill("ci")
    page.get_by_role("checkbox", name=re.compile(r"^read_repository\b")).check()
    page.get_by_role("button", name="Create deploy token").click()
    token = page.locator("#new-deploy-token").get_by_label("Token").input_value()
    assert token.startswith("gldt-")
    page.get_by_role("button", name="Copy deploy token").click()
    assert page.evaluate("navigator.clipboard.readText()") == token
    # (From another page: the show-once page's URL is already this one, since site.js replaced
    # its history entry, and going to it again would be no navigation at all.)
    visit(page, f"{url}/tanuki/backend/api")
    visit(page, f"{url}/tanuki/backend/api/-/settings/repository#deploy-tokens")
    assert page.locator("details#deploy-tokens").get_attribute("open") is not None
    visit(page, f"{url}/groups/tanuki/-/settings/repository")

    # The personal access tokens page, a token created and copied.
    visit(page, f"{url}/-/user_settings/personal_access_tokens")
    page.get_by_text("Add new token").click()
    page.get_by_label("Token name").fill("laptop")
    page.get_by_role("checkbox", name=re.compile(r"^read_api\b")).check()
    page.get_by_role("button", name="Create personal access token").click()
    token = page.locator("#new-personal-access-token").get_by_label("Token").input_value()
    assert token.startswith("glpat-")
    page.get_by_role("button", name="Copy personal access token").click()
    assert page.evaluate("navigator.clipboard.readText()") == token

    # The menus of the top bar (details elements) open.
    page.get_by_label("Your avatar menu").click()
    assert page.get_by_role("link", name="Admin area").is_visible()
    assert DeployToken.objects.filter(name="ci").exists()
    assert PersonalAccessToken.objects.filter(name="laptop").exists()


def test_the_api_doc_page_keeps_the_policy(site_server, page):
    """Swagger UI (/api/v4/docs, open to anyone): its bundle, styles, start script and the
    OpenAPI document it fetches all load under the policy, and it renders every operation."""
    url = site_server.url
    with urllib.request.urlopen(f"{url}/api/v4/openapi.json", timeout=30) as answer:  # noqa: S310
        document = json.load(answer)
    methods = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
    operations = sum(len(methods & set(item)) for item in document["paths"].values())
    assert operations > 10, operations

    visit(page, f"{url}/api/v4/docs")
    rendered = page.locator("#swagger-ui .swagger-ui .opblock")
    rendered.first.wait_for()
    page.wait_for_function(
        f"document.querySelectorAll('.swagger-ui .opblock').length >= {operations}"
    )
    assert rendered.count() == operations
    assert (
        page.locator(".swagger-ui .info .title").inner_text().startswith(document["info"]["title"])
    )

    # An operation opens, with its parameters and responses.
    first = rendered.first
    first.locator(".opblock-summary").click()
    first.locator(".opblock-body").wait_for()
    assert first.locator(".responses-wrapper").is_visible()


def test_the_admin_keeps_the_policy(site_server, page, administrator):
    owner = UserFactory(username="olga")
    group = GroupFactory(path="tanuki", owner=owner)
    project = ProjectFactory(group=group, path="api")
    membership = MembershipFactory(user=UserFactory(username="bob"), project=project)
    deploy_token, _ = make_deploy_token(project, name="existing", creator=administrator)
    personal_token, _ = make_personal_token(owner, name="existing")
    lockout_record_failure(owner, ip_address=BANNED_ADDRESS)
    store().ban(BANNED_ADDRESS, duration_seconds=3600, failures=10)
    settings_row = InstanceSettings.current()
    url = site_server.url

    def admin(name: str, *args) -> str:
        return url + reverse(f"admin:{name}", args=args)

    visit(page, admin("login"))
    sign_in(page, site_server, "root", PASSWORD)

    pages = [
        admin("index"),
        admin("app_list", "tokens_site"),
        admin("app_list", "auth"),
        admin("app_list", "deploy_tokens"),
        admin("app_list", "personal_tokens"),
        admin("auth_user_changelist"),
        admin("auth_user_add"),
        admin("auth_user_change", owner.pk),
        admin("auth_user_password_change", owner.pk),
        admin("auth_user_history", owner.pk),
        admin("tokens_site_group_changelist"),
        admin("tokens_site_group_changelist") + "?visibility__exact=private&q=tanuki",
        admin("tokens_site_group_change", group.pk),
        admin("tokens_site_project_changelist"),
        admin("tokens_site_project_change", project.pk),
        admin("tokens_site_membership_changelist"),
        admin("tokens_site_membership_change", membership.pk),
        admin("tokens_site_membership_delete", membership.pk),
        admin("tokens_site_auditevent_changelist"),
        admin("tokens_site_auditevent_change", AuditEvent.objects.first().pk),
        admin("tokens_site_addressban_changelist"),
        admin("tokens_site_accountlockout_changelist"),
        admin("tokens_site_accountlockout_change", owner.pk),
        admin("deploy_tokens_deploytoken_changelist"),
        admin("deploy_tokens_deploytoken_change", deploy_token.pk),
        admin("personal_tokens_personalaccesstoken_changelist"),
        admin("personal_tokens_personalaccesstoken_change", personal_token.pk),
    ]
    for address in pages:
        visit(page, address)

    # The instance settings' list is its one row's change form.
    response = visit(page, admin("tokens_site_instancesettings_changelist"))
    assert response.url == admin("tokens_site_instancesettings_change", settings_row.pk)
    assert BANNED_ADDRESS in visit(page, admin("tokens_site_addressban_changelist")).text()

    # A changelist's script: select every row.
    visit(page, admin("deploy_tokens_deploytoken_changelist"))
    page.locator("#action-toggle").check()
    assert page.locator("input.action-select:checked").count() == 1

    # The token kinds' add pages, each answered by the page that shows the new token once.
    visit(page, admin("deploy_tokens_deploytoken_add"))
    page.locator("#id_project").select_option(str(project.pk))
    page.locator("#id_name").fill("from-admin")
    page.get_by_role("checkbox", name=re.compile(r"^read_repository\b")).check()
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_text("was created.").wait_for()
    assert page.locator("#new-token-value").input_value().startswith("gldt-")

    visit(page, admin("personal_tokens_personalaccesstoken_add"))
    page.locator("#id_user").select_option(str(owner.pk))
    page.locator("#id_name").fill("from-admin")
    page.get_by_role("checkbox", name=re.compile(r"^read_api\b")).check()
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_text("was created.").wait_for()
    assert page.locator("#new-token-value").input_value().startswith("glpat-")

    assert DeployToken.objects.filter(name="from-admin").exists()
    assert PersonalAccessToken.objects.filter(name="from-admin").exists()
    assert Membership.objects.filter(pk=membership.pk).exists()  # only its delete page was seen
