"""Admins lose the `auth` user rights earlier role definitions gave them (change_user let an admin make
themselves a superuser): the groups are set again from annotation/roles.py."""

from django.db import migrations

from annotation.roles import grant_role_permissions


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0011_faults_loop_functions"),
        ("alignment", "0004_dashboard_snapshot"),
    ]
    operations = [migrations.RunPython(grant_role_permissions, migrations.RunPython.noop)]
