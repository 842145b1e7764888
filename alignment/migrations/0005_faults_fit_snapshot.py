from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('alignment', '0004_dashboard_snapshot'),
    ]

    operations = [
        migrations.AddField(
            model_name='fitrun',
            name='last_rating_id',
            field=models.BigIntegerField(blank=True, null=True),
        ),
    ]
