"""Every endpoint over HTTP, with the roles that may and may not use it."""

import io
import json
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from rest_framework.authtoken.models import Token

from annotation.models import Assignment, Judgment, Participant, Slot, Study
from tests.factories import client_for, jsonl_bytes, study_lines

pytestmark = pytest.mark.django_db


def join(api, slug="s1", party="D", **extra):
    return api.post(f"/api/studies/{slug}/join/", {"consent": True, "attributes": {"party": party}, **extra},
                    format="json")


def as_token(api, token):
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return api


def test_token_login_returns_a_token_for_good_credentials(api, researcher):
    response = api.post("/api/auth/token/", {"username": "researcher", "password": "pw-researcher-1"}, format="json")
    assert response.status_code == 200
    assert response.json()["token"] == Token.objects.get(user=researcher).key
    bad = api.post("/api/auth/token/", {"username": "researcher", "password": "wrong"}, format="json")
    assert bad.status_code == 400


def test_join_creates_an_annotator_account_and_returns_its_token(api, study):
    response = join(api, external_id="PROLIFIC-123")
    assert response.status_code == 201
    body = response.json()
    participant = Participant.objects.get(pk=body["participant_id"])
    assert (participant.external_id, participant.group_key, body["group"]) == ("PROLIFIC-123", "party=D", "party=D")
    assert Token.objects.get(key=body["token"]).user == participant.user
    assert participant.consented_at is not None


@pytest.mark.parametrize(("payload", "field"), [
    ({"consent": False, "attributes": {"party": "D"}}, "consent"),
    ({"consent": True, "attributes": {"party": "Q"}}, "attributes.party"),
    ({"consent": True, "attributes": {}}, "attributes.party"),
])
def test_join_refuses_missing_consent_or_bad_attributes(api, study, payload, field):
    response = api.post("/api/studies/s1/join/", payload, format="json")
    assert response.status_code == 400
    assert response.json()["field"] == field
    assert not Participant.objects.exists()


def test_a_second_join_with_the_same_crowd_id_gets_the_same_participant_and_nothing_tells_them_apart(api, study):
    first = join(api, external_id="P1")
    second = join(api.__class__(), party="R", external_id="P1")
    new = join(api.__class__(), external_id="P2")
    assert first.status_code == second.status_code == new.status_code == 201
    assert set(second.json()) == set(new.json())
    assert second.json() == first.json()  # the same participant, group and token: the profile is not changed
    assert Participant.objects.count() == 2 and get_user_model().objects.count() == 2


def test_join_refuses_an_id_held_by_an_annotator_who_did_not_join_by_crowd_id(api, study, django_user_model):
    imported = Participant.objects.create(study=study, external_id="ann-17", attributes={"party": "D"},
                                          group_key="party=D")
    staff = django_user_model.objects.create_user("lab-member", is_staff=True)
    Participant.objects.create(study=study, user=staff, external_id="lab-1", attributes={"party": "D"},
                               group_key="party=D", crowd_params={"external_id": "lab-1"})
    for taken in (imported.external_id, "lab-1"):
        answer = join(api.__class__(), external_id=taken)
        assert answer.status_code == 409 and answer.json()["code"] == "already_joined"
    assert Participant.objects.count() == 2 and not Token.objects.exists()


def test_a_researcher_joining_with_a_taken_crowd_id_is_not_handed_that_participant(api, study, researcher):
    join(api.__class__(), external_id="P9")
    api.force_authenticate(researcher)
    answer = join(api, external_id="P9")
    assert answer.status_code == 409


def test_join_of_an_unknown_study_is_404(api, db):
    assert join(api, slug="nope").status_code == 404


def test_next_and_submit_walk_the_annotation_loop(api, study):
    as_token(api, join(api).json()["token"])
    task = api.post("/api/studies/s1/next/")
    assert task.status_code == 200
    body = task.json()
    assert set(body) == {"assignment_id", "prompt", "a", "b", "lease_expires_at", "progress"}
    assert body["prompt"]["turns"][0]["role"] == "user" and body["a"]["candidate_id"] != body["b"]["candidate_id"]
    assert body["progress"] == {"done": 0, "quota": 20}
    payload = {"assignment": body["assignment_id"], "choice": "B", "strength": "slightly", "rationale": "clearer",
               "client_id": "k-1", "time_taken_ms": 4200}
    created = api.post("/api/judgments/", payload, format="json")
    assert created.status_code == 201 and created.json()["progress"]["done"] == 1
    replay = api.post("/api/judgments/", payload | {"choice": "A"}, format="json")
    assert replay.status_code == 200 and replay.json()["replay"] and replay.json()["choice"] == "B"
    assert Judgment.objects.count() == 1
    stored = Judgment.objects.get()
    assert stored.candidate_b.external_id == body["b"]["candidate_id"] and stored.time_taken_ms == 4200


def test_next_answers_204_when_nothing_is_left(api, db):
    from annotation.study_files import study_import
    study_import(jsonl_bytes(study_lines(slug="tiny", prompts=1, candidates=2, quota=1)))
    as_token(api, join(api, slug="tiny").json()["token"])
    first = api.post("/api/studies/tiny/next/").json()
    api.post("/api/judgments/", {"assignment": first["assignment_id"], "choice": "A", "client_id": "x"}, format="json")
    assert api.post("/api/studies/tiny/next/").status_code == 204


def test_next_requires_joining_the_study(study, stranger):
    assert client_for(stranger).post("/api/studies/s1/next/").status_code == 403


def test_next_requires_authentication(api, study):
    assert api.post("/api/studies/s1/next/").status_code in (401, 403)


def test_submitting_on_a_foreign_unknown_or_expired_assignment_says_why(api, study):
    own = as_token(api.__class__(), join(api).json()["token"])
    other = as_token(api.__class__(), join(api.__class__(), party="R").json()["token"])
    task = own.post("/api/studies/s1/next/").json()
    foreign = other.post("/api/judgments/", {"assignment": task["assignment_id"], "choice": "A", "client_id": "f"},
                         format="json")
    assert foreign.status_code == 403 and foreign.json()["code"] == "foreign_assignment"
    unknown = own.post("/api/judgments/", {"assignment": 987654, "choice": "A", "client_id": "u"}, format="json")
    assert unknown.status_code == 404 and unknown.json()["code"] == "unknown_assignment"
    Assignment.objects.filter(pk=task["assignment_id"]).update(
        created_at=timezone.now() - timedelta(hours=2), expires_at=timezone.now() - timedelta(hours=1)
    )
    Slot.objects.filter(assignments__pk=task["assignment_id"]).update(
        lease_expires_at=timezone.now() - timedelta(hours=1)
    )
    # A lapsed lease still submits while its slot is free; here another annotator of the group took it.
    taker = as_token(api.__class__(), join(api.__class__()).json()["token"])
    assert taker.post("/api/studies/s1/next/").json()["assignment_id"] != task["assignment_id"]
    expired = own.post("/api/judgments/", {"assignment": task["assignment_id"], "choice": "A", "client_id": "e"},
                       format="json")
    assert expired.status_code == 410 and "expired" in expired.json()["detail"]
    bad = own.post("/api/judgments/", {"assignment": task["assignment_id"], "choice": "maybe", "client_id": "b"},
                   format="json")
    assert bad.status_code in (400, 410)
    assert not Judgment.objects.exists()


def test_export_streams_jsonl_and_csv_for_researchers(study, researcher):
    client = client_for(researcher)
    from annotation.judgment_files import judgments_import
    judgments_import(study=study, stream=jsonl_bytes([{"annotator_id": "w", "attributes": {"party": "R"},
                                                       "prompt_id": "p0", "a": "p0c0", "b": "p0c1", "choice": "A"}]))
    jsonl = client.get("/api/studies/s1/export/")
    assert jsonl.status_code == 200 and jsonl["Content-Type"].startswith("application/x-ndjson")
    record = json.loads(b"".join(jsonl.streaming_content).decode().splitlines()[0])
    assert (record["annotator_id"], record["choice"], record["a"]) == ("w", "A", "p0c0")
    csv_response = client.get("/api/studies/s1/export/?format=csv")
    assert b"".join(csv_response.streaming_content).decode().startswith("kind,annotator_id")
    assert client.get("/api/studies/s1/export/?format=xml").status_code == 400


def test_annotators_and_strangers_cannot_export(api, study, stranger):
    annotator = as_token(api, join(api).json()["token"])
    assert annotator.get("/api/studies/s1/export/").status_code == 403
    assert client_for(stranger).get("/api/studies/s1/export/").status_code == 403


def test_researchers_read_studies_but_cannot_create_them(study, researcher):
    client = client_for(researcher)
    listing = client.get("/api/studies/")
    assert listing.status_code == 200 and [s["slug"] for s in listing.json()] == ["s1"]
    detail = client.get("/api/studies/s1/").json()
    assert detail["counts"]["pairs"] == 9
    upload = io.BytesIO(jsonl_bytes(study_lines(slug="new")).getvalue())
    upload.name = "new.jsonl"
    assert client.post("/api/studies/", {"file": upload}, format="multipart").status_code == 403


def test_admins_create_a_study_by_uploading_a_study_file_whose_pairs_a_worker_makes(admin_user):
    upload = io.BytesIO(jsonl_bytes(study_lines(slug="new", prompts=2)).getvalue())
    upload.name = "new.jsonl"
    response = client_for(admin_user).post("/api/studies/", {"file": upload}, format="multipart")
    assert response.status_code == 201
    # Stored at once; the texts are new to the embedding cache, so the pairs wait for the `embeddings` queue.
    assert response.json()["imported"] == {"prompts": 2, "candidates": 6, "pairs": 0, "gold": 0}
    assert response.json()["preparation"] | {"job_id": None} == {
        "state": "embedding", "texts_done": 0, "texts_total": 6, "error": None, "job_id": None}


def test_a_bad_upload_says_line_and_field_and_stores_nothing(admin_user):
    lines = study_lines(slug="bad")
    lines[2]["candidates"][1]["text"] = ""
    upload = io.BytesIO(jsonl_bytes(lines).getvalue())
    upload.name = "bad.jsonl"
    response = client_for(admin_user).post("/api/studies/", {"file": upload}, format="multipart")
    assert response.status_code == 400
    assert (response.json()["line"], response.json()["field"]) == (3, "candidates[1].text")
    assert not Study.objects.filter(slug="bad").exists()


def test_admins_import_judgment_files_and_researchers_cannot(study, admin_user, researcher):
    line = {"annotator_id": "w", "attributes": {"party": "D"}, "prompt_id": "p0", "a": "p0c0", "b": "p0c1",
            "choice": "tie"}

    def upload():
        f = io.BytesIO(jsonl_bytes([line]).getvalue())
        f.name = "j.jsonl"
        return {"file": f}

    url = "/api/studies/s1/judgments/import/"
    assert client_for(researcher).post(url, upload(), format="multipart").status_code == 403
    response = client_for(admin_user).post(url, upload(), format="multipart")
    assert response.status_code == 201 and response.json()["judgments"] == 1


def test_the_schema_and_docs_are_served_without_network_assets(api, db):
    schema = api.get("/api/schema/")
    assert schema.status_code == 200
    text = schema.content.decode()
    for path in ("/api/studies/{slug}/next/", "/api/judgments/", "/api/studies/{slug}/join/", "/api/auth/token/"):
        assert path in text
    docs = api.get("/api/docs/").content.decode()
    assert "swagger-ui" in docs and "cdn" not in docs.lower() and "/static/drf_spectacular_sidecar/" in docs
