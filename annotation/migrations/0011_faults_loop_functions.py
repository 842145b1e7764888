"""Re-install the annotation loop's PostgreSQL functions from their versioned files (annotation/loop_sql/).

0008 was edited after it had been applied, so a database migrated before that edit kept the old functions;
this installs version 1 (0008's final text) everywhere. From here on, every change to a function is a new file version
and a new migration like this one (annotation/loop_functions.py says how).
"""

from django.db import migrations

from annotation.loop_functions import loop_functions_install


def install(apps, schema_editor):
    loop_functions_install(schema_editor, {"slot_claim": 1, "pair_next": 1, "judgment_submit": 1})


class Migration(migrations.Migration):
    dependencies = [("annotation", "0010_fewer_foreign_key_indexes")]
    # Backwards: 0008's text is version 1, so there is nothing to restore.
    operations = [migrations.RunPython(install, migrations.RunPython.noop)]
