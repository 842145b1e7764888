import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('alignment', '0005_faults_fit_snapshot'),
    ]

    operations = [
        migrations.AddField(
            model_name='dashboardsnapshot',
            name='source',
            field=models.JSONField(blank=True, help_text="the study's change marker when computed", null=True),
        ),
        migrations.CreateModel(
            name='DashboardRefresh',
            fields=[
                ('study', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='+', serialize=False, to='annotation.study')),
                ('lease_until', models.DateTimeField(blank=True, help_text='a refresh holds the study until then', null=True)),
                ('lease_holder', models.CharField(blank=True, max_length=64)),
                ('last_started_at', models.DateTimeField(blank=True, null=True)),
                ('last_seconds', models.FloatField(default=0.0, help_text='how long the last recomputation took')),
                ('checked_at', models.DateTimeField(blank=True, help_text='last time beat compared the marker', null=True)),
            ],
        ),
    ]
