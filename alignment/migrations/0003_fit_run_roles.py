from django.db import migrations

from annotation.roles import grant_role_permissions


class Migration(migrations.Migration):
    dependencies = [("alignment", "0002_fit_run"), ("annotation", "0002_roles")]
    operations = [migrations.RunPython(grant_role_permissions, migrations.RunPython.noop)]
