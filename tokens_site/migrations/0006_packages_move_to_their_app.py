"""The package registry's models move to their own app (`packages`). Their tables stay as they
are, rows and all: this migration only takes the models out of tokens_site's state, and
packages.0001 takes them in (see there)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("tokens_site", "0005_instance_settings_ranges"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="PackageFile"),
                migrations.DeleteModel(name="Package"),
            ],
            database_operations=[],
        ),
    ]
