"""PostgreSQL only: statistics on the judgment day/hour expressions the progress dashboard groups by.

Without them the planner expects a million groups and will not aggregate in parallel; with them it
expects about a hundred and does (0.8 s -> 0.5 s on 1M judgments, 2 cores).
"""

from django.db import migrations

STATEMENTS = [
    "CREATE STATISTICS IF NOT EXISTS judgment_created_day "
    "ON (date_trunc('day', created_at AT TIME ZONE 'UTC')) FROM annotation_judgment",
    "CREATE STATISTICS IF NOT EXISTS judgment_created_hour "
    "ON (date_trunc('hour', created_at AT TIME ZONE 'UTC')) FROM annotation_judgment",
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in STATEMENTS:
            schema_editor.execute(statement)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP STATISTICS IF EXISTS judgment_created_day, judgment_created_hour")


class Migration(migrations.Migration):
    dependencies = [("annotation", "0006_study_open_slots_after")]
    operations = [migrations.RunPython(create, drop)]
