"""Version 2 of the submit and slot-claim functions (annotation/loop_sql/*.v2.sql): the text 0013 installed
(min_view_ms, a lapsed lease still accepted while its slot is free), now from its one versioned source."""

from django.db import migrations

from annotation.loop_functions import loop_functions_install


def install(apps, schema_editor):
    loop_functions_install(schema_editor, {"slot_claim": 2, "judgment_submit": 2})


def restore(apps, schema_editor):
    loop_functions_install(schema_editor, {"slot_claim": 1, "judgment_submit": 1})


class Migration(migrations.Migration):
    dependencies = [("annotation", "0014_faults_loop_functions")]
    operations = [migrations.RunPython(install, restore)]
