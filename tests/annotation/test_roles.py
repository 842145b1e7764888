"""Admins manage annotators, not staff rights: no rights on Django's users or tokens."""

import importlib

from django.apps import apps
from django.contrib.auth.models import Group, Permission

from annotation.access import ADMINS
from tests.factories import make_participant


def _staff_admin(client, admin_user):
    admin_user.is_staff = True
    admin_user.save(update_fields=["is_staff"])
    client.force_login(admin_user)


def test_the_admins_group_holds_no_rights_on_users_groups_or_tokens(roles):
    labels = set(Group.objects.get(name=ADMINS).permissions.values_list("content_type__app_label", flat=True))
    assert labels == {"annotation", "alignment"}


def test_an_admin_cannot_make_themselves_a_superuser_in_the_django_admin(client, admin_user):
    _staff_admin(client, admin_user)
    assert client.get(f"/admin/auth/user/{admin_user.pk}/change/").status_code == 403
    response = client.post(f"/admin/auth/user/{admin_user.pk}/change/", {
        "username": admin_user.username, "is_active": "on", "is_staff": "on", "is_superuser": "on",
        "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00",
    })
    assert response.status_code == 403
    admin_user.refresh_from_db()
    assert not admin_user.is_superuser


def test_an_admin_cannot_read_tokens_or_users_in_the_django_admin(client, admin_user):
    _staff_admin(client, admin_user)
    assert client.get("/admin/authtoken/tokenproxy/").status_code == 403
    assert client.get("/admin/auth/user/").status_code == 403
    assert client.get("/admin/auth/group/").status_code == 403


def test_an_admin_still_manages_participants(client, admin_user, study):
    _staff_admin(client, admin_user)
    participant = make_participant(study, party="R", external_id="P-9")
    assert client.get("/admin/annotation/participant/").status_code == 200
    assert client.get(f"/admin/annotation/participant/{participant.pk}/change/").status_code == 200


def test_the_migration_takes_back_user_rights_an_earlier_definition_granted(roles):
    admins = Group.objects.get(name=ADMINS)
    admins.permissions.add(*Permission.objects.filter(content_type__app_label="auth", codename__endswith="_user"))
    migration = importlib.import_module("annotation.migrations.0012_security_admin_rights").Migration
    migration.operations[0].code(apps, None)
    assert not admins.permissions.filter(content_type__app_label="auth").exists()
    assert admins.permissions.filter(codename="change_participant").exists()
