"""Role groups: researchers read every study's data; admins create studies, import and manage annotators."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

APPS = ("annotation", "alignment")


def create_roles(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ours = Permission.objects.filter(content_type__app_label__in=APPS)
    researchers, _ = Group.objects.get_or_create(name="researchers")
    researchers.permissions.set(ours.filter(codename__startswith="view_"))
    admins, _ = Group.objects.get_or_create(name="admins")
    admins.permissions.set(
        list(ours) + list(Permission.objects.filter(content_type__app_label="auth", codename__endswith="_user"))
    )


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=["researchers", "admins"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("annotation", "0001_initial"),
        ("alignment", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(create_roles, remove_roles)]
