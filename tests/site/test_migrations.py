from io import StringIO

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor


@pytest.mark.django_db
def test_models_and_migrations_agree():
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


# Before the package registry became its own app, the security tables came and tokens had a
# description.
BEFORE = [
    ("tokens_site", "0005_instance_settings_ranges"),
    ("packages", None),
    ("deploy_tokens", "0001_initial"),
    ("personal_tokens", "0001_initial"),
]


def migrate(targets) -> None:
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)


@pytest.mark.django_db(transaction=True)
def test_the_migrations_keep_every_row_of_a_populated_database():
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    try:
        migrate(BEFORE)
        applied = [(app, name) for app, name in BEFORE if name is not None]
        old = MigrationExecutor(connection).loader.project_state(applied).apps
        user = old.get_model("auth", "User").objects.create(username="ann")
        group = old.get_model("tokens_site", "Group").objects.create(
            name="Tanuki", path="tanuki", full_path="tanuki", traversal="/"
        )
        project = old.get_model("tokens_site", "Project").objects.create(
            name="App", path="app", full_path="tanuki/app", group=group
        )
        old.get_model("tokens_site", "Membership").objects.create(
            user=user, group=group, access_level=50
        )
        package = old.get_model("tokens_site", "Package").objects.create(
            project=project, kind="generic", name="tool", display_name="tool", version="1.0"
        )
        old.get_model("tokens_site", "PackageFile").objects.create(
            package=package, file_name="tool.txt", file="packages/x/tool.txt", size=4, sha256="0"
        )
        package_type, _ = ContentType.objects.get_or_create(
            app_label="tokens_site", model="package"
        )
        Permission.objects.get_or_create(
            content_type=package_type, codename="view_package", defaults={"name": "Can view"}
        )
        LogEntry.objects.create(
            user_id=user.pk,
            content_type_id=package_type.pk,
            object_id=str(package.pk),
            object_repr="tool 1.0",
            action_flag=2,
        )
        old.get_model("tokens_site", "InstanceSettings").objects.create(
            pk=1, failed_auth_ban_limit=7, package_file_max_size_mb=3
        )
        old.get_model("tokens_site", "AuditEvent").objects.create(
            actor_username="ann",
            action="deploy_token.create",
            target_type="deploy_token",
            target_label="ci",
            ip_address="2001:db8::1",
        )
        old.get_model("deploy_tokens", "DeployToken").objects.create(
            name="ci",
            username="gitlab+deploy-token-1",
            token_digest="d" * 64,
            project=project,
            read_repository=True,
        )
        old.get_model("personal_tokens", "PersonalAccessToken").objects.create(
            name="laptop", token_digest="p" * 64, user=user, scopes=["api"]
        )

        migrate(latest)

        from deploy_tokens.models import DeployToken
        from personal_tokens.models import PersonalAccessToken
        from tokens_site.models import AuditEvent, Group, InstanceSettings, Membership, Project
        from tokens_site.packages.models import Package, PackageFile

        assert Group.objects.get().full_path == "tanuki"
        assert Project.objects.get().full_path == "tanuki/app"
        assert Membership.objects.get().access_level == 50
        assert Package.objects.get().project.full_path == "tanuki/app"
        assert PackageFile.objects.get().package.name == "tool"
        assert ContentType.objects.get_for_model(Package).app_label == "packages"
        assert not ContentType.objects.filter(app_label="tokens_site", model="package").exists()
        # What pointed at the package model's type follows it: permissions, admin history.
        assert Permission.objects.get(codename="view_package").content_type.app_label == "packages"
        assert LogEntry.objects.get().get_edited_object() == Package.objects.get()
        instance = InstanceSettings.objects.get()
        assert (instance.failed_auth_ban_limit, instance.package_file_max_size_mb) == (7, 3)
        assert instance.git_push_max_size_mb == 1024  # the new setting's default, 1 GiB
        assert AuditEvent.objects.get().ip_address == "2001:db8::1"
        deploy_token = DeployToken.objects.get()
        assert (deploy_token.name, deploy_token.project.full_path) == ("ci", "tanuki/app")
        assert deploy_token.description == ""  # the new field's default, nothing else changed
        personal_token = PersonalAccessToken.objects.get()
        assert (personal_token.name, personal_token.user.username) == ("laptop", "ann")
        assert personal_token.scopes == ["api"] and personal_token.description == ""
    finally:
        migrate(latest)
        ContentType.objects.clear_cache()
