"""Hostile values at every door (loop API, pages, REST API, admin upload, management command): each is a 4xx
(or a message) naming the field, never a 5xx."""

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from annotation.models import Judgment, Participant
from tests.factories import client_for, jsonl_bytes, study_lines

pytestmark = pytest.mark.django_db

DEEP = "[" * 100_000 + "]" * 100_000
HUGE_INT = "9" * 5000


def joined(party="D") -> APIClient:
    api = APIClient()
    token = api.post("/api/studies/s1/join/", {"consent": True, "attributes": {"party": party}},
                     format="json").json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return api


def raw_post(api: APIClient, url: str, text: str):
    return api.generic("POST", url, text.encode(), content_type="application/json")


@pytest.fixture
def leased(study):
    api = joined()
    task = api.post("/api/studies/s1/next/").json()
    return api, {"assignment": task["assignment_id"], "choice": "A", "client_id": "c-1"}


# --- the loop API ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("change", "field"), [
    ({"assignment": 2**63}, "assignment"),
    ({"assignment": "9" * 30}, "assignment"),
    ({"assignment": "²"}, "assignment"),
    ({"time_taken_ms": 2**31}, "time_taken_ms"),
    ({"client_id": "c\x00"}, "client_id"),
    ({"rationale": "fine\x00"}, "rationale"),
    ({"choice": ["A"]}, "choice"),
])
def test_a_hostile_submit_value_is_a_400_naming_the_field(leased, change, field):
    api, body = leased
    response = api.post("/api/judgments/", {**body, **change}, format="json")
    assert response.status_code == 400 and response.json()["field"] == field
    assert not Judgment.objects.exists()


@pytest.mark.parametrize(("literal", "field", "message"), [
    (HUGE_INT, "assignment", "5000 digits"),
    ("1e400", "assignment", "finite"),
    ("NaN", "assignment", "finite"),
])
def test_numbers_json_cannot_carry_in_a_column_are_a_400(leased, literal, field, message):
    api, body = leased
    text = json.dumps({**body, "assignment": 0}).replace('"assignment": 0', f'"assignment": {literal}')
    response = raw_post(api, "/api/judgments/", text)
    assert response.status_code == 400 and response.json()["field"] == field
    assert message in response.json()["detail"]


def test_deeply_nested_json_to_the_loop_is_a_400(leased):
    api, _ = leased
    response = raw_post(api, "/api/judgments/", '{"assignment": ' + DEEP + "}")
    assert response.status_code == 400 and "nested deeper" in response.json()["detail"]


def test_a_submit_body_over_the_limit_is_a_413(leased, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    api, body = leased
    response = api.post("/api/judgments/", {**body, "rationale": "x" * 5000}, format="json")
    assert response.status_code == 413


def test_the_valid_submit_still_lands_after_the_refusals(leased):
    api, body = leased
    assert api.post("/api/judgments/", {**body, "client_id": "c\x00"}, format="json").status_code == 400
    assert api.post("/api/judgments/", {**body, "time_taken_ms": 2**31 - 1}, format="json").status_code == 201


# --- the annotator pages -----------------------------------------------------------------------------------


def _page_task(client) -> dict:
    client.get("/s/s1/")
    client.post("/s/s1/", {"consent": "yes"})
    client.post("/s/s1/profile/", {"party": "D"})
    page = client.get("/s/s1/annotate/").content.decode()
    assignment = page.split('name="assignment" value="')[1].split('"')[0]
    client_id = page.split('name="client_id" value="')[1].split('"')[0]
    return {"assignment": assignment, "client_id": client_id, "choice": "A"}


@pytest.mark.parametrize("change", [
    {"assignment": str(2**63)}, {"assignment": "1e400"}, {"assignment": "9" * 5000}, {"client_id": "x\x00"},
    {"rationale": "a\x00b"},
])
def test_a_hostile_form_value_is_refused_on_the_page_without_a_5xx(client, study, change):
    fields = _page_task(client)
    response = client.post("/s/s1/judge/", {**fields, **change})
    assert response.status_code == 400
    assert not Judgment.objects.exists()


@pytest.mark.parametrize("value", ["1e400", "nan", "-5", str(2**31), "9" * 5000])
def test_a_tampered_time_taken_is_dropped_and_the_judgment_kept(client, study, value):
    fields = _page_task(client)
    response = client.post("/s/s1/judge/", {**fields, "time_taken_ms": value})
    assert response.status_code == 200
    assert Judgment.objects.get().time_taken_ms is None


def test_a_nul_crowd_id_in_the_link_is_a_400_and_leaves_the_session_usable(client, study):
    response = client.get("/s/s1/?PROLIFIC_PID=abc%00def")
    assert response.status_code == 400 and "PROLIFIC_PID" in response.content.decode()
    assert client.get("/s/s1/?PROLIFIC_PID=abc").status_code == 200
    assert client.post("/s/s1/", {"consent": "yes"}).status_code == 302


def test_a_javascript_completion_url_is_never_rendered_as_a_link(client, study):
    study.completion_url = "javascript:alert(1)"
    study.save(update_fields=["completion_url"])
    _page_task(client)
    page = client.get("/s/s1/done/").content.decode()
    assert "javascript:" not in page


# --- the REST API ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("body", "field"), [
    ({"consent": True, "attributes": {"party": "D", "age\x00": "30"}}, "attributes"),
    ({"consent": True, "attributes": {"party": "D", "age": "3\x000"}}, "attributes.age"),
    ({"consent": True, "attributes": {"party": "D"}, "external_id": "w\x00"}, "external_id"),
])
def test_nul_characters_in_a_join_are_a_400(study, body, field):
    response = APIClient().post("/api/studies/s1/join/", body, format="json")
    assert response.status_code == 400
    assert field in json.dumps(response.json())
    assert not Participant.objects.exists()


def test_deeply_nested_json_to_a_drf_view_is_a_400(study):
    response = raw_post(APIClient(), "/api/studies/s1/join/", '{"attributes": ' + DEEP + "}")
    assert response.status_code == 400 and "nested deeper" in response.json()["detail"]


def test_a_json_body_over_the_limit_to_a_drf_view_is_a_413(study, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    body = {"consent": True, "attributes": {"party": "D"}, "external_id": "x" * 5000}
    assert APIClient().post("/api/studies/s1/join/", body, format="json").status_code == 413


@pytest.mark.parametrize(("params", "field"), [
    ({"model": []}, "params.model"),
    ({"model": {"a": 1}}, "params.model"),
    ({"k": [2]}, "params.k"),
    ({"k": "9" * 5000}, "params.k"),
    ({"unseen_fraction": "1e400"}, "params.unseen_fraction"),
])
def test_a_fit_parameter_of_the_wrong_shape_is_a_400(study, admin_user, params, field):
    response = client_for(admin_user).post("/api/studies/s1/fits/", {"kind": "pal", "params": params}, format="json")
    assert response.status_code == 400 and response.json()["field"] == field


def test_a_non_finite_fit_parameter_in_json_is_a_400(study, admin_user):
    response = raw_post(client_for(admin_user), "/api/studies/s1/fits/", '{"kind": "pal", "params": {"k": 1e400}}')
    assert response.status_code == 400 and response.json()["field"] == "params.k"


def test_a_reward_call_with_too_many_texts_is_a_400(study, researcher, settings):
    settings.PLURALWEB_MAX_REWARD_TEXTS = 10
    item = {"turns": [{"role": "user", "content": "q"}], "responses": [f"r{i}" for i in range(6)]}
    response = client_for(researcher).post("/api/studies/s1/reward/", {"items": [item, item], "group": "party=D"},
                                           format="json")
    assert response.status_code == 400 and response.json()["field"] == "items"
    assert "at most 10" in response.json()["detail"]


def test_a_reward_text_over_the_limit_is_a_400(study, researcher, settings):
    settings.PLURALWEB_MAX_TEXT_CHARS = 50
    item = {"turns": [{"role": "user", "content": "q"}], "responses": ["ok", "z" * 51]}
    response = client_for(researcher).post("/api/studies/s1/reward/", {"items": [item], "group": "party=D"},
                                           format="json")
    assert response.status_code == 400 and response.json()["field"] == "items[0].responses[1]"


def test_an_examples_query_over_the_limit_is_a_400(study, researcher, settings):
    settings.PLURALWEB_MAX_TEXT_CHARS = 50
    response = client_for(researcher).post("/api/studies/s1/examples/", {"query": "q" * 51, "group": "party=D"},
                                           format="json")
    assert response.status_code == 400 and response.json()["field"] == "query"


def test_an_upload_over_the_request_limit_is_a_413_before_it_is_read(study, admin_user, settings):
    settings.PLURALWEB_MAX_REQUEST_BYTES = 4096
    upload = SimpleUploadedFile("j.jsonl", b"{}\n" * 3000)
    response = client_for(admin_user).post("/api/studies/s1/judgments/import/", {"file": upload})
    assert response.status_code == 413 and response.json()["code"] == "too_large"


def test_an_empty_judgment_upload_is_a_400(study, admin_user):
    response = client_for(admin_user).post("/api/studies/s1/judgments/import/",
                                           {"file": SimpleUploadedFile("j.jsonl", b"")})
    assert response.status_code == 400 and "nothing was imported" in response.json()["detail"]


# --- admin upload and management commands ------------------------------------------------------------------


def test_the_admin_study_upload_reports_a_nul_with_line_and_field(client, admin_user):
    lines = study_lines()
    lines[2]["candidates"][0]["text"] = "bad\x00text"
    admin_user.is_staff = True
    admin_user.save(update_fields=["is_staff"])
    client.force_login(admin_user)
    upload = SimpleUploadedFile("s.jsonl", jsonl_bytes(lines).getvalue())
    response = client.post("/admin/annotation/study/import/", {"file": upload})
    page = response.content.decode()
    assert response.status_code == 200 and "s.jsonl:3" in page and "candidates[0].text" in page


def test_the_import_command_reports_a_poisoned_timestamp_with_its_line(study, tmp_path):
    path = tmp_path / "j.jsonl"
    path.write_text(json.dumps({"annotator_id": "w1", "attributes": {"party": "D"}, "prompt_id": "p0", "a": "p0c0",
                                "b": "p0c1", "choice": "A", "created_at": "0001-01-01T00:00:00+01:00"}) + "\n")
    with pytest.raises(CommandError, match=r"j.jsonl:1: field 'created_at'"):
        call_command("import_judgments", "s1", str(path), stdout=io.StringIO())


@pytest.mark.parametrize("url", ["javascript:alert(1)", "ftp://files.test/x", "data:text/html,hi"])
def test_the_admin_refuses_a_completion_url_that_is_not_http(client, study, admin_user, url):
    from django.contrib.auth.models import Permission
    from django.forms.models import model_to_dict

    admin_user.is_staff = True
    admin_user.save(update_fields=["is_staff"])
    admin_user.user_permissions.add(*Permission.objects.filter(codename="change_study"))
    client.force_login(admin_user)
    form = {k: v for k, v in model_to_dict(study).items() if v is not None}
    form |= {"group_attributes": json.dumps(study.group_attributes), "completion_url": url}
    response = client.post(f"/admin/annotation/study/{study.pk}/change/", form)
    assert response.status_code == 200
    assert list(response.context_data["adminform"].form.errors) == ["completion_url"]
    study.refresh_from_db()
    assert study.completion_url == ""


def test_an_api_url_that_matches_nothing_is_a_json_404(researcher):
    response = client_for(researcher).get("/api/fits/null,null/")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


# --- 20 MB strings at each door ----------------------------------------------------------------------------

TWENTY_MB = "x" * 20_000_000


def test_a_20_mb_submit_is_a_413(leased):
    api, body = leased
    assert api.post("/api/judgments/", {**body, "rationale": TWENTY_MB}, format="json").status_code == 413


def test_a_20_mb_join_is_a_413(study):
    body = {"consent": True, "attributes": {"party": "D"}, "external_id": TWENTY_MB}
    assert APIClient().post("/api/studies/s1/join/", body, format="json").status_code == 413


def test_a_20_mb_form_field_on_the_judge_page_is_refused(client, study):
    fields = _page_task(client)
    # A multipart form: Django's per-field limit (DATA_UPLOAD_MAX_MEMORY_SIZE) answers 400.
    assert client.post("/s/s1/judge/", {**fields, "rationale": TWENTY_MB}).status_code == 400
    assert not Judgment.objects.exists()


def test_a_20_mb_candidate_in_an_uploaded_study_file_is_a_400_naming_it(admin_user):
    lines = study_lines(slug="big")
    lines[1]["candidates"][0]["text"] = TWENTY_MB
    upload = SimpleUploadedFile("big.jsonl", jsonl_bytes(lines).getvalue())
    response = client_for(admin_user).post("/api/studies/", {"file": upload})
    assert response.status_code == 400
    assert (response.json()["line"], response.json()["field"]) == (2, "candidates[0].text")


def test_a_20_mb_rationale_in_a_judgment_file_is_refused_by_the_command(study, tmp_path):
    path = tmp_path / "j.jsonl"
    path.write_text(json.dumps({"annotator_id": "w1", "attributes": {"party": "D"}, "prompt_id": "p0", "a": "p0c0",
                                "b": "p0c1", "choice": "A", "rationale": TWENTY_MB}) + "\n")
    with pytest.raises(CommandError, match=r"j.jsonl:1: field 'rationale': must be at most"):
        call_command("import_judgments", "s1", str(path), stdout=io.StringIO())
