"""Role groups and their permissions, the one place they are defined: researchers view every model of
ours; admins may do everything on ours (participants included) and nothing on Django's own `auth` and
`authtoken` models, so that they can neither grant staff or superuser rights (themselves included) nor
read tokens. Migrations call this whenever our models or these rules change."""

from django.contrib.auth.management import create_permissions

APPS = ("annotation", "alignment")


def grant_role_permissions(apps, schema_editor=None) -> None:
    """For migrations: `apps` is the historical registry, whose permissions may not exist yet."""
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, verbosity=0)
        app_config.models_module = None
    _assign(apps)


def ensure_roles() -> None:
    """At run time (demo loading, tests after a flush): the groups exist with their permissions."""
    from django.apps import apps

    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0)
    _assign(apps)


def _assign(apps) -> None:
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    ours = permission_model.objects.filter(content_type__app_label__in=APPS)
    researchers, _ = group_model.objects.get_or_create(name="researchers")
    researchers.permissions.set(ours.filter(codename__startswith="view_"))
    admins, _ = group_model.objects.get_or_create(name="admins")
    admins.permissions.set(ours)  # set(): also takes back rights an earlier definition granted
