"""Revoked tokens and demoted admins lose their rights at once; only the annotation loop caches tokens."""

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotation.access import ADMINS


@pytest.fixture
def annotator_api(study):
    api = APIClient()
    token = api.post("/api/studies/s1/join/", {"consent": True, "attributes": {"party": "D"}}, format="json")
    api.credentials(HTTP_AUTHORIZATION=f"Token {token.json()['token']}")
    assert api.post("/api/studies/s1/next/").status_code == 200  # the token is cached from here on
    return api


def _token_client(user) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return api


def test_a_deleted_token_stops_working_in_the_annotation_loop_at_once(
    annotator_api, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        Token.objects.get().delete()
    assert annotator_api.post("/api/studies/s1/next/").status_code == 401
    assert annotator_api.post("/api/judgments/", {"assignment": 1, "choice": "A", "client_id": "c"},
                              format="json").status_code == 401


def test_a_token_deleted_in_the_django_admin_stops_working_at_once(
    annotator_api, client, django_user_model, django_capture_on_commit_callbacks
):
    client.force_login(django_user_model.objects.create_superuser("root", password="pw-root-12345"))
    token = Token.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/admin/authtoken/tokenproxy/{token.user_id}/delete/", {"post": "yes"})
    assert response.status_code == 302 and not Token.objects.exists()
    assert annotator_api.post("/api/studies/s1/next/").status_code == 401


def test_a_deleted_annotator_account_stops_working_at_once(annotator_api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        Token.objects.get().user.delete()
    assert annotator_api.post("/api/studies/s1/next/").status_code == 401


def _admin_call(api):
    # Admin-only: past the permission check an upload without a file is a 400 naming the field.
    return api.post("/api/studies/", {}, format="multipart")


def test_a_demoted_admin_loses_admin_api_rights_at_once(admin_user, django_capture_on_commit_callbacks):
    api = _token_client(admin_user)
    assert _admin_call(api).status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        admin_user.groups.remove(Group.objects.get(name=ADMINS))
    assert _admin_call(api).status_code == 403


def test_an_admin_removed_from_the_group_side_loses_rights_at_once(admin_user, django_capture_on_commit_callbacks):
    api = _token_client(admin_user)
    assert _admin_call(api).status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        Group.objects.get(name=ADMINS).user_set.remove(admin_user)
    assert _admin_call(api).status_code == 403


def test_a_demoted_superuser_loses_admin_rights_at_once(django_user_model, django_capture_on_commit_callbacks):
    boss = django_user_model.objects.create_superuser("boss", password="pw-boss-12345")
    api = _token_client(boss)
    assert _admin_call(api).status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        boss.is_superuser = False
        boss.save(update_fields=["is_superuser"])
    assert _admin_call(api).status_code == 403


def test_views_outside_the_annotation_loop_read_the_token_table_on_every_call(admin_user):
    api = _token_client(admin_user)
    assert _admin_call(api).status_code == 400
    # A deletion no signal reports: only an uncached lookup can notice it.
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM authtoken_token")
    assert _admin_call(api).status_code == 401
