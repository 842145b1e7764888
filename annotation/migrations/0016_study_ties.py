"""Study.ties: ties count half (default, the behaviour so far) or are left out of every analysis."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("annotation", "0015_pairing_jobs")]
    operations = [
        migrations.AddField(
            model_name="study",
            name="ties",
            field=models.CharField(
                choices=[("half", "Ties count half"), ("drop", "Ties left out")], default="half",
                help_text="Ties count half to each side in dashboards, leaderboards and refits, or are left out of "
                          "them (still stored and exported).",
                max_length=8,
            ),
        ),
    ]
