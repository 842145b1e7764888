"""Role groups: researchers read every study's data; admins create studies, import and manage annotators."""

from django.db import migrations

from annotation.roles import grant_role_permissions


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=["researchers", "admins"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0001_initial"),
        ("alignment", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(grant_role_permissions, remove_roles)]
