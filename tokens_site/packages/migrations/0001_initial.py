"""The package registry's models, moved here from tokens_site with their tables
(`tokens_site_package`, `tokens_site_packagefile`, created by tokens_site.0004): state only, no
table is touched. Their content types follow them, so admin history and permissions stay
attached."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

import tokens_site.packages.models


def move_content_types(apps, schema_editor):
    content_type = apps.get_model("contenttypes", "ContentType")
    content_type.objects.using(schema_editor.connection.alias).filter(
        app_label="tokens_site", model__in=["package", "packagefile"]
    ).update(app_label="packages")


def move_content_types_back(apps, schema_editor):
    content_type = apps.get_model("contenttypes", "ContentType")
    content_type.objects.using(schema_editor.connection.alias).filter(
        app_label="packages", model__in=["package", "packagefile"]
    ).update(app_label="tokens_site")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("contenttypes", "0002_remove_content_type_name"),
        ("tokens_site", "0006_packages_move_to_their_app"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[
                migrations.CreateModel(
                    name="Package",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "kind",
                            models.CharField(
                                choices=[("pypi", "PyPI"), ("generic", "Generic")],
                                max_length=16,
                            ),
                        ),
                        ("name", models.CharField(max_length=255)),
                        ("display_name", models.CharField(max_length=255)),
                        ("version", models.CharField(max_length=255)),
                        (
                            "created_at",
                            models.DateTimeField(default=django.utils.timezone.now, editable=False),
                        ),
                        (
                            "project",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="packages",
                                to="tokens_site.project",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "tokens_site_package",
                        "ordering": ["kind", "name", "-created_at"],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("project", "kind", "name", "version"),
                                name="package_unique_version",
                            )
                        ],
                    },
                ),
                migrations.CreateModel(
                    name="PackageFile",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("file_name", models.CharField(max_length=255)),
                        (
                            "file",
                            models.FileField(
                                max_length=1024,
                                upload_to=tokens_site.packages.models.package_file_path,
                            ),
                        ),
                        ("size", models.PositiveBigIntegerField()),
                        ("sha256", models.CharField(db_index=True, max_length=64)),
                        ("requires_python", models.CharField(blank=True, max_length=255)),
                        (
                            "created_at",
                            models.DateTimeField(default=django.utils.timezone.now, editable=False),
                        ),
                        (
                            "package",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="files",
                                to="packages.package",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "tokens_site_packagefile",
                        "ordering": ["file_name"],
                        "constraints": [
                            models.UniqueConstraint(
                                fields=("package", "file_name"), name="package_file_unique"
                            )
                        ],
                    },
                ),
            ],
        ),
        migrations.RunPython(move_content_types, move_content_types_back),
    ]
