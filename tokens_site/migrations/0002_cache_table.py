"""Create the database cache table (the default shared cache) with the other tables, so
`migrate` is the only setup step. With REDIS_URL set this does nothing; switching back to the
database cache later needs `python manage.py createcachetable`."""

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor) -> None:
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [("tokens_site", "0001_initial")]

    operations = [migrations.RunPython(create_cache_table, migrations.RunPython.noop)]
