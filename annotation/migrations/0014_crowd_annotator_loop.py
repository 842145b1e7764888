"""crowd (issue 10): annotator-facing settings, and the submit function that enforces them.

pluralweb_judgment_submit and pluralweb_slot_claim become version 2 of their one source
(annotation/loop_sql/*.v2.sql, annotation/loop_functions.py); the rules are the same as in
annotation/judgments.py, which SQLite runs statement by statement.
"""

import django.db.models.deletion
from django.db import migrations, models

from annotation.loop_functions import loop_functions_install
from annotation.roles import grant_role_permissions


# slot_claim v2: the same pair never comes back to a participant with its sides swapped (a new lease of a
# pair they held before keeps the sides they saw). judgment_submit v2: min_view_ms, and a lapsed lease
# still accepted while its slot is free.
def create_functions(apps, schema_editor):
    loop_functions_install(schema_editor, {"judgment_submit": 2, "slot_claim": 2})


def restore_functions(apps, schema_editor):
    loop_functions_install(schema_editor, {"judgment_submit": 1, "slot_claim": 1})


class Migration(migrations.Migration):
    dependencies = [("annotation", "0013_quality_gold_screening_exclusion")]
    operations = [
        migrations.AddField(
            model_name="study",
            name="min_view_ms",
            field=models.PositiveIntegerField(
                default=0, help_text="A choice is refused until the pair has been on screen this long (0: off)."
            ),
        ),
        migrations.AddField(
            model_name="study",
            name="instructions",
            field=models.TextField(blank=True, help_text="Markdown, shown in a panel on the annotate page."),
        ),
        migrations.AddField(
            model_name="study",
            name="attribute_labels",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.AddField(
            model_name="study",
            name="practice",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AlterField(
            model_name="assignment",
            name="status",
            field=models.CharField(
                choices=[("active", "Active"), ("judged", "Judged"), ("expired", "Expired"), ("skipped", "Skipped")],
                default="active", max_length=8,
            ),
        ),
        migrations.CreateModel(
            name="Skip",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("created_at", models.DateTimeField()),
                ("assignment", models.OneToOneField(
                    on_delete=django.db.models.deletion.CASCADE, related_name="skip", to="annotation.assignment")),
                ("pair", models.ForeignKey(
                    on_delete=django.db.models.deletion.CASCADE, related_name="skips", to="annotation.pair")),
                ("participant", models.ForeignKey(
                    on_delete=django.db.models.deletion.CASCADE, related_name="skips", to="annotation.participant")),
            ],
        ),
        migrations.RunPython(create_functions, restore_functions),
        migrations.RunPython(grant_role_permissions, migrations.RunPython.noop),  # Skip's view/change rights
    ]
