"""Changing and deleting groups, projects and accounts through the services: who may, what is
refused (and then nothing moves), what a new path carries along, what a block stops."""

import base64
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from deploy_tokens.models import DeployToken
from tests.factories import (
    AdminFactory,
    GroupFactory,
    MembershipFactory,
    ProjectFactory,
    UserFactory,
    make_deploy_token,
    make_personal_token,
)
from tokens_site import services
from tokens_site.models import (
    FULL_PATH_MAX_LENGTH,
    AccessLevel,
    AuditAction,
    AuditEvent,
    Group,
    Membership,
    Project,
    Visibility,
)
from tokens_site.registry import listing

pytestmark = pytest.mark.django_db


def basic(username: str, secret: str) -> dict:
    credentials = base64.b64encode(f"{username}:{secret}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {credentials}"}


def clone_status(client, full_path: str, username: str, secret: str) -> int:
    """What Git's first request of a clone gets."""
    url = f"/{full_path}.git/info/refs?service=git-upload-pack"
    return client.get(url, **basic(username, secret)).status_code


def full_paths() -> dict[str, str]:
    """Every group's and project's full path, as the database holds them."""
    return {
        **{f"group {pk}": path for pk, path in Group.objects.values_list("pk", "full_path")},
        **{f"project {pk}": path for pk, path in Project.objects.values_list("pk", "full_path")},
    }


@pytest.fixture
def olga():
    return UserFactory(username="olga")


@pytest.fixture
def tree(olga):
    """tanuki (public) > backend (internal) > app (private project), tanuki > web (public
    project), owned by olga; a sibling group whose path starts like tanuki's."""
    tanuki = GroupFactory(name="Tanuki", path="tanuki", owner=olga, visibility=Visibility.PUBLIC)
    backend = GroupFactory(
        name="Backend", path="backend", parent=tanuki, visibility=Visibility.INTERNAL
    )
    return {
        "tanuki": tanuki,
        "backend": backend,
        "app": ProjectFactory(name="App", path="app", group=backend),
        "web": ProjectFactory(name="Web", path="web", group=tanuki, visibility=Visibility.PUBLIC),
        "sibling": ProjectFactory(path="app", group=GroupFactory(path="tanuki-two")),
    }


def member(group_or_project, level: AccessLevel):
    field = "group" if isinstance(group_or_project, Group) else "project"
    return MembershipFactory(access_level=level, **{field: group_or_project}).user


class TestProjectUpdate:
    def test_a_maintainer_changes_the_given_settings_and_nothing_else(self, tree):
        project = tree["web"]
        maintainer = member(tree["tanuki"], AccessLevel.MAINTAINER)
        services.project_update(
            actor=maintainer,
            project=project,
            name="  Website ",
            description="The public site",
            visibility=Visibility.INTERNAL,
            ip_address="192.0.2.1",
        )
        stored = Project.objects.get(pk=project.pk)
        assert (stored.name, stored.description, stored.visibility) == (
            "Website",
            "The public site",
            Visibility.INTERNAL,
        )
        assert (stored.path, stored.full_path) == ("web", "tanuki/web")
        assert (project.name, project.visibility) == ("Website", Visibility.INTERNAL)
        event = AuditEvent.objects.get(action=AuditAction.PROJECT_UPDATE)
        assert (event.actor, event.target_id, event.target_label, event.ip_address) == (
            maintainer,
            str(project.pk),
            "tanuki/web",
            "192.0.2.1",
        )
        assert event.details == {
            "name": {"from": "Web", "to": "Website"},
            "description": "changed",
            "visibility": {"from": "public", "to": "internal"},
        }

    def test_nothing_given_changes_nothing_and_records_nothing(self, tree, olga):
        services.project_update(actor=olga, project=tree["web"], name="Web", path="web")
        assert not AuditEvent.objects.filter(action=AuditAction.PROJECT_UPDATE).exists()

    def test_a_developer_may_not_change_settings(self, tree):
        developer = member(tree["tanuki"], AccessLevel.DEVELOPER)
        with pytest.raises(PermissionDenied, match="Maintainer role in this project"):
            services.project_update(actor=developer, project=tree["web"], name="Mine now")
        assert Project.objects.get(pk=tree["web"].pk).name == "Web"

    def test_only_an_owner_changes_the_path(self, tree, olga):
        project = tree["app"]
        maintainer = member(project, AccessLevel.MAINTAINER)
        with pytest.raises(PermissionDenied) as refused:
            services.project_update(actor=maintainer, project=project, path="api", name="API")
        assert str(refused.value) == (
            "You need the Owner role in tanuki/backend/app to change its path; Maintainers "
            "change its name, description and visibility."
        )
        assert Project.objects.get(pk=project.pk).name == "App"
        services.project_update(actor=olga, project=project, path="api")
        assert Project.objects.get(pk=project.pk).full_path == "tanuki/backend/api"

    def test_a_new_path_keeps_the_repository_and_the_deploy_tokens(self, tree, olga, client):
        project = tree["app"]
        repository = project.repository_path
        token, value = make_deploy_token(project, username="ci-bot")
        assert clone_status(client, "tanuki/backend/app", "ci-bot", value) == 200
        services.project_update(actor=olga, project=project, path="api", ip_address="192.0.2.1")
        assert project.full_path == "tanuki/backend/api"
        assert Project.objects.get(pk=project.pk).repository_path == repository
        assert repository.is_dir()
        assert DeployToken.objects.get(pk=token.pk).project_id == project.pk
        assert clone_status(client, "tanuki/backend/api", "ci-bot", value) == 200
        assert clone_status(client, "tanuki/backend/app", "ci-bot", value) in (401, 404)
        event = AuditEvent.objects.get(action=AuditAction.PROJECT_UPDATE)
        assert event.details == {
            "path": {"from": "app", "to": "api"},
            "full_path": {"from": "tanuki/backend/app", "to": "tanuki/backend/api"},
        }

    @pytest.mark.parametrize("taken", ["docs", "DOCS", "Backend"])
    def test_a_path_taken_in_the_group_is_refused_and_nothing_changes(self, tree, olga, taken):
        ProjectFactory(group=tree["tanuki"], path="docs")
        before = full_paths()
        with pytest.raises(ValidationError) as refused:
            services.project_update(actor=olga, project=tree["web"], name="New", path=taken)
        assert refused.value.message_dict == {
            "path": [f"The path '{taken}' is already taken in tanuki; choose another."]
        }
        assert Project.objects.get(pk=tree["web"].pk).name == "Web"
        assert (tree["web"].name, tree["web"].path) == ("Web", "web")  # the instance too
        assert full_paths() == before
        assert not AuditEvent.objects.filter(action=AuditAction.PROJECT_UPDATE).exists()

    def test_a_change_of_case_only_is_not_a_taken_path(self, tree, olga):
        services.project_update(actor=olga, project=tree["web"], path="Web")
        assert Project.objects.get(pk=tree["web"].pk).full_path == "tanuki/Web"

    @pytest.mark.parametrize("path", ["-web", "web.git", "we b", ""])
    def test_an_invalid_path_is_refused(self, tree, olga, path):
        with pytest.raises(ValidationError) as refused:
            services.project_update(actor=olga, project=tree["web"], path=path)
        assert list(refused.value.message_dict) == ["path"]
        assert Project.objects.get(pk=tree["web"].pk).full_path == "tanuki/web"

    def test_a_full_path_too_long_is_refused_with_the_room_left(self):
        deep = GroupFactory(path="d" * 255, parent=GroupFactory(path="c" * 255))
        deeper = GroupFactory(path="e" * 255, parent=GroupFactory(path="f" * 250, parent=deep))
        project = ProjectFactory(group=deeper, path="p")
        with pytest.raises(ValidationError) as refused:
            services.project_update(actor=AdminFactory(), project=project, path="p" * 10)
        assert refused.value.message_dict == {
            "path": [
                f"With this path the project's full path would be 1029 characters long; at "
                f"most {FULL_PATH_MAX_LENGTH} are allowed. Use a path of at most 5 characters "
                f"here."
            ]
        }
        assert Project.objects.get(pk=project.pk).path == "p"

    def test_a_project_is_never_more_visible_than_its_group(self, tree, olga):
        with pytest.raises(ValidationError) as refused:
            services.project_update(actor=olga, project=tree["app"], visibility="public")
        assert refused.value.message_dict == {
            "visibility": [
                "A project cannot be more visible than its group: tanuki/backend is internal."
            ]
        }
        with pytest.raises(ValidationError) as refused:
            services.project_update(actor=olga, project=tree["app"], visibility="secret")
        assert list(refused.value.message_dict) == ["visibility"]
        assert Project.objects.get(pk=tree["app"].pk).visibility == Visibility.PRIVATE


class TestGroupUpdate:
    def test_a_new_path_moves_every_full_path_below_and_nothing_else(self, tree, olga, client):
        group_token, group_value = make_deploy_token(tree["tanuki"], username="group-bot")
        _, project_value = make_deploy_token(tree["app"], username="app-bot")
        traversals = dict(Group.objects.values_list("pk", "traversal"))
        repositories = {p.pk: p.repository_path for p in Project.objects.all()}
        services.group_update(actor=olga, group=tree["tanuki"], path="kitsune", name="Kitsune")
        assert tree["tanuki"].full_path == "kitsune"
        assert sorted(full_paths().values()) == [
            "kitsune",
            "kitsune/backend",
            "kitsune/backend/app",
            "kitsune/web",
            "tanuki-two",
            "tanuki-two/app",
        ]
        assert dict(Group.objects.values_list("pk", "traversal")) == traversals
        assert {p.pk: p.repository_path for p in Project.objects.all()} == repositories
        assert all(path.is_dir() for path in repositories.values())
        assert DeployToken.objects.get(pk=group_token.pk).group_id == tree["tanuki"].pk
        assert clone_status(client, "kitsune/backend/app", "group-bot", group_value) == 200
        assert clone_status(client, "kitsune/backend/app", "app-bot", project_value) == 200
        assert clone_status(client, "tanuki/backend/app", "app-bot", project_value) in (401, 404)
        # Olga's membership came along: she still owns what is below.
        assert services.group_update(actor=olga, group=tree["backend"], name="Back")
        event = AuditEvent.objects.get(
            action=AuditAction.GROUP_UPDATE, target_id=str(tree["tanuki"].pk)
        )
        assert event.details == {
            "name": {"from": "Tanuki", "to": "Kitsune"},
            "path": {"from": "tanuki", "to": "kitsune"},
            "full_path": {"from": "tanuki", "to": "kitsune"},
        }

    def test_a_subgroup_moves_within_its_parent(self, tree, olga):
        services.group_update(actor=olga, group=tree["backend"], path="server")
        assert sorted(full_paths().values()) == [
            "tanuki",
            "tanuki-two",
            "tanuki-two/app",
            "tanuki/server",
            "tanuki/server/app",
            "tanuki/web",
        ]

    def test_a_new_path_costs_the_same_queries_however_much_is_below(self, olga):
        def rename(descendants: int) -> int:
            top = GroupFactory(owner=olga)
            parent = top
            for _ in range(descendants):
                parent = GroupFactory(parent=parent)
                ProjectFactory(group=parent)
            with CaptureQueriesContext(connection) as queries:
                services.group_update(actor=olga, group=top, path=f"{top.path}-renamed")
            assert Project.objects.filter(full_path__startswith=f"{top.path}/").count() == (
                descendants
            )
            return len(queries)

        assert rename(1) == rename(5)

    @pytest.mark.parametrize(
        ("reserved", "message"),
        [
            ("admin", "'admin' is reserved for the site's own pages; choose another path."),
            ("API", "'API' is reserved for the site's own pages; choose another path."),
            ("users", "'users' is reserved for the site's own pages; choose another path."),
            ("-", "'-' is not a valid path. Use letters, digits,"),  # no path at all
        ],
    )
    def test_a_reserved_top_level_path_is_refused_and_nothing_moves(
        self, tree, olga, reserved, message
    ):
        before = full_paths()
        with pytest.raises(ValidationError) as refused:
            services.group_update(actor=olga, group=tree["tanuki"], path=reserved, name="X")
        assert list(refused.value.message_dict) == ["path"]
        (refusal,) = refused.value.message_dict["path"]
        assert refusal.startswith(message)
        assert full_paths() == before
        assert Group.objects.get(pk=tree["tanuki"].pk).name == "Tanuki"

    def test_reserved_words_are_fine_below_the_top_level(self, tree, olga):
        services.group_update(actor=olga, group=tree["backend"], path="api")
        assert Project.objects.get(pk=tree["app"].pk).full_path == "tanuki/api/app"

    @pytest.mark.parametrize("taken", ["TANUKI-TWO", "tanuki-two"])
    def test_a_taken_path_is_refused_and_nothing_moves(self, tree, olga, taken):
        before = full_paths()
        with pytest.raises(ValidationError) as refused:
            services.group_update(actor=olga, group=tree["tanuki"], path=taken)
        assert refused.value.message_dict == {
            "path": [f"The path '{taken}' is already taken at the top level; choose another."]
        }
        with pytest.raises(ValidationError, match="already taken in tanuki"):
            services.group_update(actor=olga, group=tree["backend"], path="Web")
        assert full_paths() == before

    def test_a_path_that_makes_a_full_path_below_too_long_is_refused(self, olga):
        top = GroupFactory(path="top", owner=olga)
        middle = GroupFactory(path="m" * 255, parent=GroupFactory(path="n" * 255, parent=top))
        ProjectFactory(group=GroupFactory(path="o" * 255, parent=middle), path="p" * 250)
        before = full_paths()
        assert max(len(path) for path in before.values()) == 1022
        with pytest.raises(ValidationError) as refused:
            services.group_update(actor=olga, group=top, path="topsss")
        assert refused.value.message_dict == {
            "path": [
                f"With this path the longest full path below top would be 1025 characters "
                f"long; at most {FULL_PATH_MAX_LENGTH} are allowed. Use a path of at most 5 "
                f"characters here."
            ]
        }
        assert full_paths() == before
        services.group_update(actor=olga, group=top, path="topss")
        assert max(len(path) for path in full_paths().values()) == FULL_PATH_MAX_LENGTH

    def test_the_visibility_stays_within_the_parent(self, tree, olga):
        services.group_update(actor=olga, group=tree["backend"], visibility=Visibility.PUBLIC)
        assert Group.objects.get(pk=tree["backend"].pk).visibility == Visibility.PUBLIC
        private_top = GroupFactory(owner=olga, visibility=Visibility.PRIVATE)
        sub = GroupFactory(parent=private_top, visibility=Visibility.PRIVATE)
        with pytest.raises(ValidationError) as refused:
            services.group_update(actor=olga, group=sub, visibility=Visibility.INTERNAL)
        assert refused.value.message_dict == {
            "visibility": [
                f"A subgroup cannot be more visible than its group: {private_top.full_path} "
                f"is private."
            ]
        }

    def test_the_visibility_may_not_drop_below_what_is_inside(self, tree, olga):
        with pytest.raises(ValidationError) as refused:
            services.group_update(actor=olga, group=tree["tanuki"], visibility=Visibility.PRIVATE)
        assert refused.value.message_dict == {
            "visibility": [
                "tanuki cannot be private while subgroups or projects below it are more "
                "visible: tanuki/backend (internal), tanuki/web (public). Lower their "
                "visibility first."
            ]
        }
        assert Group.objects.get(pk=tree["tanuki"].pk).visibility == Visibility.PUBLIC
        with pytest.raises(ValidationError, match=r"tanuki/web \(public\)\. Lower"):
            services.group_update(actor=olga, group=tree["tanuki"], visibility="internal")
        services.project_update(actor=olga, project=tree["web"], visibility="internal")
        services.group_update(actor=olga, group=tree["tanuki"], visibility="internal")
        assert Group.objects.get(pk=tree["tanuki"].pk).visibility == Visibility.INTERNAL

    def test_many_in_the_way_are_named_by_the_first_few(self, olga):
        top = GroupFactory(owner=olga, path="wide", visibility=Visibility.PUBLIC)
        for number in range(7):
            ProjectFactory(group=top, path=f"p{number}", visibility=Visibility.PUBLIC)
        with pytest.raises(ValidationError) as refused:
            services.group_update(actor=olga, group=top, visibility=Visibility.PRIVATE)
        (message,) = refused.value.message_dict["visibility"]
        assert "wide/p4 (public) and more. Lower their visibility first." in message
        assert "wide/p5" not in message

    @pytest.mark.parametrize("level", [AccessLevel.DEVELOPER, AccessLevel.MAINTAINER])
    def test_only_owners_change_a_group(self, tree, level):
        someone = member(tree["tanuki"], level)
        with pytest.raises(PermissionDenied, match="Owner role in this group"):
            services.group_update(actor=someone, group=tree["tanuki"], name="Mine")
        with pytest.raises(PermissionDenied):
            services.group_update(actor=someone, group=tree["backend"], path="mine")
        assert Group.objects.get(pk=tree["tanuki"].pk).name == "Tanuki"
        assert Group.objects.get(pk=tree["backend"].pk).path == "backend"

    def test_an_owner_of_a_subgroup_changes_it_but_not_its_parent(self, tree):
        owner = member(tree["backend"], AccessLevel.OWNER)
        services.group_update(actor=owner, group=tree["backend"], path="server")
        with pytest.raises(PermissionDenied):
            services.group_update(actor=owner, group=tree["tanuki"], name="Mine")


@pytest.fixture
def registry(settings):
    """A container registry's listing API, holding {repository name: tags}: the catalog in
    pages (`n`, `last`), and 404 for the tags of a repository that has none left."""
    images: dict[str, list[str]] = {}

    class Registry(BaseHTTPRequestHandler):
        def do_GET(self):
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            name = unquote(url.path.removeprefix("/v2/").removesuffix("/tags/list"))
            if url.path == "/v2/_catalog":
                last = query.get("last", [""])[0]
                names = [name for name in sorted(images) if name > last]
                body = {"repositories": names[: int(query["n"][0])]}
            elif url.path.endswith("/tags/list") and images.get(name):
                body = {"name": name, "tags": images[name]}
            else:
                self.send_error(404)
                return
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Registry)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.REGISTRY_URL = f"http://127.0.0.1:{server.server_port}"
    yield images
    server.shutdown()
    server.server_close()
    thread.join()


class TestRegistryImagesOnANewPath:
    def test_a_project_with_tagged_images_keeps_its_path(self, tree, olga, registry):
        registry["tanuki/backend/app/web"] = ["v1"]
        with pytest.raises(ValidationError) as refused:
            services.project_update(actor=olga, project=tree["app"], path="api")
        assert refused.value.message_dict == {
            "path": [
                "The path cannot change while the container registry holds images under "
                "tanuki/backend/app (tanuki/backend/app/web has tags): they are named by the "
                "path and would be left behind. Delete the images first."
            ]
        }
        assert Project.objects.get(pk=tree["app"].pk).full_path == "tanuki/backend/app"
        # Its other settings, and a change of case (image names are lowercase), are fine.
        services.project_update(actor=olga, project=tree["app"], name="API", path="App")
        assert Project.objects.get(pk=tree["app"].pk).full_path == "tanuki/backend/App"

    def test_a_group_with_images_below_keeps_its_path(self, tree, olga, registry):
        registry["tanuki-two/app"] = ["latest"]  # a sibling's: not below tanuki
        registry["tanuki/backend/app"] = ["latest"]
        before = full_paths()
        with pytest.raises(ValidationError, match=r"\(tanuki/backend/app has tags\)"):
            services.group_update(actor=olga, group=tree["tanuki"], path="kitsune")
        with pytest.raises(ValidationError, match="under tanuki/backend "):
            services.group_update(actor=olga, group=tree["backend"], path="server")
        assert full_paths() == before
        del registry["tanuki/backend/app"]
        services.group_update(actor=olga, group=tree["tanuki"], path="kitsune")
        assert Project.objects.get(pk=tree["app"].pk).full_path == "kitsune/backend/app"

    def test_repositories_without_tags_left_do_not_hold_the_path(self, tree, olga, registry):
        registry["tanuki/web"] = []  # in the catalog; its tags answer 404
        services.project_update(actor=olga, project=tree["web"], path="site")
        assert Project.objects.get(pk=tree["web"].pk).full_path == "tanuki/site"

    def test_every_page_of_the_catalog_is_read(self, tree, olga, registry, monkeypatch):
        monkeypatch.setattr(listing, "CATALOG_PAGE", 2)
        for number in range(5):
            registry[f"aaa/{number}"] = ["v1"]
        registry["tanuki/web"] = ["v1"]
        with pytest.raises(ValidationError, match="tanuki/web has tags"):
            services.project_update(actor=olga, project=tree["web"], path="site")
        assert [r.name for r in listing.project_repositories(tree["web"])] == ["tanuki/web"]

    def test_an_unreachable_registry_holds_the_path_but_not_the_rest(self, tree, olga, settings):
        settings.REGISTRY_URL = "http://127.0.0.1:9"  # nothing listens there
        with pytest.raises(ValidationError) as refused:
            services.project_update(actor=olga, project=tree["web"], path="site")
        (message,) = refused.value.message_dict["path"]
        assert message.startswith("The path was not changed: the container registry could not")
        services.project_update(actor=olga, project=tree["web"], name="Site")
        assert Project.objects.get(pk=tree["web"].pk).full_path == "tanuki/web"

    def test_without_a_registry_nothing_is_asked(self, tree, olga, settings, monkeypatch):
        settings.REGISTRY_URL = ""
        monkeypatch.setattr(listing, "_get", lambda *args, **kwargs: pytest.fail("asked"))
        services.project_update(actor=olga, project=tree["web"], path="site")
        assert Project.objects.get(pk=tree["web"].pk).full_path == "tanuki/site"


class TestDelete:
    def test_only_an_owner_deletes_a_project_and_its_repository_goes(
        self, tree, olga, django_capture_on_commit_callbacks
    ):
        project = tree["app"]
        repository = project.repository_path
        maintainer = member(tree["tanuki"], AccessLevel.MAINTAINER)
        with pytest.raises(PermissionDenied, match="Owner role in tanuki/backend/app"):
            services.project_delete(actor=maintainer, project=project)
        assert Project.objects.filter(pk=project.pk).exists() and repository.is_dir()
        pk = project.pk
        with django_capture_on_commit_callbacks(execute=True):
            services.project_delete(actor=olga, project=project, ip_address="192.0.2.1")
        assert not Project.objects.filter(pk=pk).exists()
        assert not repository.exists()
        event = AuditEvent.objects.get(action=AuditAction.PROJECT_DELETE)
        assert (event.actor, event.target_id, event.target_label, event.ip_address) == (
            olga,
            str(pk),
            "tanuki/backend/app",
            "192.0.2.1",
        )

    def test_deleting_a_group_takes_everything_below_off_the_disk(
        self, tree, olga, django_capture_on_commit_callbacks
    ):
        maintainer = member(tree["tanuki"], AccessLevel.MAINTAINER)
        make_deploy_token(tree["app"])
        make_deploy_token(tree["backend"])
        repositories = [tree["app"].repository_path, tree["web"].repository_path]
        with pytest.raises(PermissionDenied, match="Owner role in tanuki to delete it"):
            services.group_delete(actor=maintainer, group=tree["tanuki"])
        pk = tree["tanuki"].pk
        with django_capture_on_commit_callbacks(execute=True):
            services.group_delete(actor=olga, group=tree["tanuki"])
        assert sorted(full_paths().values()) == ["tanuki-two", "tanuki-two/app"]
        assert not any(path.exists() for path in repositories)
        assert tree["sibling"].repository_path.is_dir()
        assert not DeployToken.objects.exists()
        assert not Membership.objects.filter(user=maintainer).exists()
        event = AuditEvent.objects.get(action=AuditAction.GROUP_DELETE)
        assert (event.target_id, event.target_label) == (str(pk), "tanuki")
        assert event.details == {"subgroups": 1, "projects": 2}

    def test_an_owner_of_a_subgroup_deletes_it_but_not_its_parent(self, tree):
        owner = member(tree["backend"], AccessLevel.OWNER)
        with pytest.raises(PermissionDenied):
            services.group_delete(actor=owner, group=tree["tanuki"])
        services.group_delete(actor=owner, group=tree["backend"])
        assert not Project.objects.filter(pk=tree["app"].pk).exists()
        assert Project.objects.filter(pk=tree["web"].pk).exists()


class TestUserUpdate:
    @pytest.fixture
    def admin(self):
        return AdminFactory(username="root")

    @pytest.fixture
    def dev(self):
        return UserFactory(username="dev", email="dev@example.com", first_name="Dev")

    def test_an_administrator_changes_what_is_given(self, admin, dev):
        services.user_update(
            actor=admin,
            user=dev,
            email="devon@example.com",
            name="Devon Eloper",
            ip_address="192.0.2.1",
        )
        dev.refresh_from_db()
        assert (dev.username, dev.email, dev.first_name, dev.last_name) == (
            "dev",
            "devon@example.com",
            "Devon",
            "Eloper",
        )
        assert not dev.is_superuser
        services.user_update(actor=admin, user=dev, is_admin=True, username="devon")
        dev.refresh_from_db()
        assert (dev.username, dev.is_staff, dev.is_superuser) == ("devon", True, True)
        first, second = AuditEvent.objects.filter(action=AuditAction.USER_UPDATE).order_by("pk")
        assert first.details == {
            "email": {"from": "dev@example.com", "to": "devon@example.com"},
            "name": {"from": "Dev", "to": "Devon Eloper"},
        }
        assert second.details == {
            "username": {"from": "dev", "to": "devon"},
            "admin": {"from": False, "to": True},
        }
        assert (second.actor, second.target_label, second.ip_address) == (admin, "devon", None)

    def test_only_administrators_change_users(self, dev):
        with pytest.raises(PermissionDenied, match="Only administrators"):
            services.user_update(actor=dev, user=dev, is_admin=True)
        dev.refresh_from_db()
        assert not dev.is_superuser

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            ({"username": "OLGA"}, "Username has already been taken"),
            ({"email": "Olga@Example.com"}, "Email has already been taken"),
        ],
    )
    def test_taken_usernames_and_emails_are_refused_ignoring_case(
        self, admin, dev, change, message
    ):
        UserFactory(username="olga", email="olga@example.com")
        with pytest.raises(ValidationError) as refused:
            services.user_update(actor=admin, user=dev, **change)
        assert refused.value.messages == [message] and refused.value.code == "exists"
        assert (dev.username, dev.email) == ("dev", "dev@example.com")
        dev.refresh_from_db()
        assert (dev.username, dev.email) == ("dev", "dev@example.com")

    def test_a_change_of_case_of_ones_own_username_is_fine(self, admin, dev):
        services.user_update(actor=admin, user=dev, username="Dev", email="DEV@example.com")
        dev.refresh_from_db()
        assert (dev.username, dev.email) == ("Dev", "DEV@example.com")

    def test_an_email_is_required_and_the_model_rules_apply(self, admin, dev):
        with pytest.raises(ValidationError) as refused:
            services.user_update(actor=admin, user=dev, email="", username="no spaces please")
        assert refused.value.message_dict["email"] == ["Email is required."]
        assert list(refused.value.message_dict) == ["username", "email"]
        with pytest.raises(ValidationError) as refused:
            services.user_update(actor=admin, user=dev, email="not-an-address")
        assert list(refused.value.message_dict) == ["email"]
        dev.refresh_from_db()
        assert (dev.username, dev.email) == ("dev", "dev@example.com")

    def test_an_administrator_keeps_their_own_administrator_access(self, admin):
        with pytest.raises(ValidationError) as refused:
            services.user_update(actor=admin, user=admin, is_admin=False)
        assert refused.value.message_dict == {
            "is_admin": [
                "You cannot remove your own administrator access; ask another administrator "
                "to do it."
            ]
        }
        admin.refresh_from_db()
        assert admin.is_superuser
        services.user_update(actor=AdminFactory(), user=admin, is_admin=False)
        admin.refresh_from_db()
        assert not admin.is_superuser and not admin.is_staff

    def test_user_create_checks_the_same(self, admin, dev):
        with pytest.raises(ValidationError, match="Username has already been taken"):
            services.user_create(actor=admin, username="DEV", email="other@example.com")
        with pytest.raises(ValidationError, match="Email has already been taken"):
            services.user_create(actor=admin, username="new", email="DEV@example.com")
        with pytest.raises(ValidationError) as refused:
            services.user_create(actor=admin, username="new", email="")
        assert refused.value.message_dict == {"email": ["Email is required."]}


class TestBlock:
    @pytest.fixture
    def admin(self):
        return AdminFactory()

    def test_a_block_stops_every_credential_and_an_unblock_restores_them(self, client, admin):
        user = UserFactory()
        _, value = make_personal_token(user, scopes=["read_user"])

        def authenticates() -> bool:
            status = client.get("/api/v4/user", HTTP_PRIVATE_TOKEN=value).status_code
            assert status in (200, 401)
            return status == 200

        session = type(client)()
        session.force_login(user)

        def signed_in() -> bool:
            return session.get("/").wsgi_request.user.is_authenticated

        assert authenticates() and signed_in()
        assert services.user_block(actor=admin, user=user, ip_address="192.0.2.1") is True
        assert not authenticates() and not signed_in()
        assert services.user_unblock(actor=admin, user=user) is True
        assert authenticates()
        events = AuditEvent.objects.filter(target_id=str(user.pk)).order_by("pk")
        assert [(e.action, e.actor, e.target_type) for e in events] == [
            (AuditAction.USER_BLOCK, admin, "user"),
            (AuditAction.USER_UNBLOCK, admin, "user"),
        ]

    def test_blocking_twice_changes_nothing_the_second_time(self, admin):
        user = UserFactory()
        assert services.user_block(actor=admin, user=user) is True
        assert services.user_block(actor=admin, user=user) is False
        assert services.user_unblock(actor=admin, user=user) is True
        assert services.user_unblock(actor=admin, user=user) is False
        assert AuditEvent.objects.filter(target_id=str(user.pk)).count() == 2

    def test_only_administrators_block_and_not_themselves(self, admin):
        user, other = UserFactory(), UserFactory()
        with pytest.raises(PermissionDenied, match="Only administrators can block users"):
            services.user_block(actor=other, user=user)
        with pytest.raises(PermissionDenied, match="You cannot block your own account"):
            services.user_block(actor=admin, user=admin)
        services.user_block(actor=admin, user=user)
        with pytest.raises(PermissionDenied, match="Only administrators can unblock users"):
            services.user_unblock(actor=other, user=user)
        user.refresh_from_db()
        admin.refresh_from_db()
        assert not user.is_active and admin.is_active
