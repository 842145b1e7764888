"""Adaptive allocation (issue 14): study settings, slot priorities, per-(pair, group) counts filled from the
judgments already stored, and the loop functions that keep them (annotation/loop_sql: pair_next v2,
judgment_submit v3, pair_allocate v1 and its two helpers)."""

import django.db.models.deletion
from django.db import migrations, models

from annotation.loop_functions import loop_functions_install

# The same rule as judgment_submit v3: preference judgments only, wins for the pair's own candidate A.
COUNTS_FROM_JUDGMENTS_SQL = """
INSERT INTO annotation_pairgroupcount (pair_id, study_id, group_key, n, wins)
SELECT j.pair_id, pr.study_id, j.group_key, count(*),
       sum(CASE WHEN j.choice = 'tie' THEN 0.5
                WHEN (j.choice = 'A') = (j.candidate_a_id = p.candidate_a_id) THEN 1.0 ELSE 0.0 END)
FROM annotation_judgment j
JOIN annotation_pair p ON p.id = j.pair_id
JOIN annotation_prompt pr ON pr.id = p.prompt_id
WHERE j.choice IN ('A', 'B', 'tie')
GROUP BY j.pair_id, pr.study_id, j.group_key"""


def counts_fill(apps, schema_editor) -> None:
    schema_editor.execute(COUNTS_FROM_JUDGMENTS_SQL)


def create_functions(apps, schema_editor) -> None:
    loop_functions_install(schema_editor, {
        "folded_variance": 1, "divergence_variance": 1, "pair_allocate": 1,
        "pair_next": 2, "judgment_submit": 3,
    })


def restore_functions(apps, schema_editor) -> None:
    loop_functions_install(schema_editor, {"pair_next": 1, "judgment_submit": 2})
    if schema_editor.connection.vendor == "postgresql":
        for name in ("pluralweb_pair_allocate(bigint, bigint, integer, double precision)",
                     "pluralweb_divergence_variance(double precision[], double precision[], integer)",
                     "pluralweb_folded_variance(double precision, double precision)"):
            schema_editor.execute(f"DROP FUNCTION IF EXISTS {name}")


class Migration(migrations.Migration):

    dependencies = [
        ('annotation', '0017_study_languages'),
    ]

    operations = [
        migrations.CreateModel(
            name='PairGroupCount',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('group_key', models.CharField(max_length=255)),
                ('n', models.PositiveIntegerField(default=0)),
                ('wins', models.FloatField(default=0.0)),
            ],
        ),
        migrations.AddField(
            model_name='slot',
            name='priority',
            field=models.FloatField(db_default=0.0, default=0.0),
        ),
        migrations.AddField(
            model_name='study',
            name='allocation',
            field=models.CharField(choices=[('uniform', 'Uniform: k judgments per pair'), ('adaptive', "Adaptive: judgments where groups' divergence is uncertain")], default='uniform', help_text="uniform: every pair gets k judgments, lowest pair first. adaptive: the next annotator of a group gets the pair where one more judgment of theirs narrows the groups' divergence most; a pair stops once it is precise, and gets at most k_max.", max_length=8),
        ),
        migrations.AddField(
            model_name='study',
            name='k_max',
            field=models.PositiveSmallIntegerField(blank=True, help_text='Adaptive: most judgments of a pair, split across groups like k (empty: 3k).', null=True),
        ),
        migrations.AddField(
            model_name='study',
            name='k_min',
            field=models.PositiveSmallIntegerField(default=2, help_text='Adaptive: judgments per group before a pair may stop for being precise.'),
        ),
        migrations.AddField(
            model_name='study',
            name='precision',
            field=models.FloatField(default=0.1, help_text='Adaptive: a pair stops once the posterior sd of every |p_g - p_h| is below this.'),
        ),
        migrations.AlterField(
            model_name='slot',
            name='status',
            field=models.CharField(choices=[('open', 'Open'), ('leased', 'Leased'), ('done', 'Done'), ('closed', 'Closed')], default='open', max_length=8),
        ),
        migrations.AddIndex(
            model_name='slot',
            index=models.Index(condition=models.Q(('priority__gt', 0), ('status__in', ['open', 'leased'])), fields=['study', '-priority', 'pair', '-group_key', 'id'], name='slot_claimable_priority_idx'),
        ),
        migrations.AddConstraint(
            model_name='study',
            constraint=models.CheckConstraint(condition=models.Q(('k_min__gte', 1)), name='study_k_min_positive'),
        ),
        migrations.AddConstraint(
            model_name='study',
            constraint=models.CheckConstraint(condition=models.Q(('k_max__isnull', True), ('k_max__gte', models.F('overlap')), _connector='OR'), name='study_k_max_at_least_k'),
        ),
        migrations.AddConstraint(
            model_name='study',
            constraint=models.CheckConstraint(condition=models.Q(('precision__gt', 0), ('precision__lt', 1)), name='study_precision_range'),
        ),
        migrations.AddField(
            model_name='pairgroupcount',
            name='pair',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='annotation.pair'),
        ),
        migrations.AddField(
            model_name='pairgroupcount',
            name='study',
            field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='annotation.study'),
        ),
        migrations.AddConstraint(
            model_name='pairgroupcount',
            constraint=models.UniqueConstraint(fields=('pair', 'group_key'), name='pair_group_count_unique'),
        ),
        migrations.RunPython(counts_fill, migrations.RunPython.noop),
        migrations.RunPython(create_functions, restore_functions),
    ]
