"""The annotation loop's calls dispatch themselves: they must still authenticate, check CSRF and refuse
bad input exactly as the rest of the API does."""

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from annotation.models import Judgment
from tests.factories import client_for

pytestmark = pytest.mark.django_db


def joined(party="D") -> tuple[APIClient, str]:
    api = APIClient()
    token = api.post("/api/studies/s1/join/", {"consent": True, "attributes": {"party": party}},
                     format="json").json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return api, token


def test_no_credentials_get_401_with_the_token_challenge(study):
    response = APIClient().post("/api/studies/s1/next/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert "credentials" in response.json()["detail"]


@pytest.mark.parametrize("header", ["Token not-a-real-key", "Token two words", "Token"])
def test_a_bad_token_gets_401(study, header):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=header)
    assert api.post("/api/studies/s1/next/").status_code == 401
    assert api.post("/api/judgments/", {"assignment": 1, "choice": "A", "client_id": "x"},
                    format="json").status_code == 401


def test_an_inactive_users_token_stops_working(study, django_capture_on_commit_callbacks):
    api, token = joined()
    assert api.post("/api/studies/s1/next/").status_code == 200  # cached now
    user = get_user_model().objects.get(auth_token__key=token)
    with django_capture_on_commit_callbacks(execute=True):
        user.is_active = False
        user.save(update_fields=["is_active"])
    assert api.post("/api/studies/s1/next/").status_code == 401  # at once


def test_a_session_call_needs_the_csrf_token(study):
    api, _ = joined()
    task = api.post("/api/studies/s1/next/").json()
    from annotation.models import Participant
    user = Participant.objects.get().user
    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(user)
    refused = browser.post("/api/judgments/", {"assignment": task["assignment_id"], "choice": "A", "client_id": "s"},
                           format="json")
    assert refused.status_code == 403 and "CSRF" in refused.json()["detail"]
    assert not Judgment.objects.exists()


def test_a_signed_in_session_without_csrf_checks_can_submit(study):
    api, _ = joined()
    task = api.post("/api/studies/s1/next/").json()
    from annotation.models import Participant
    browser = client_for(Participant.objects.get().user)
    done = browser.post("/api/judgments/", {"assignment": task["assignment_id"], "choice": "tie", "client_id": "s"},
                        format="json")
    assert done.status_code == 201 and Judgment.objects.get().choice == "tie"


def test_only_post_is_allowed(study):
    api, _ = joined()
    response = api.get("/api/studies/s1/next/")
    assert response.status_code == 405 and response["Allow"] == "POST"


def test_a_body_that_is_not_json_is_refused(study):
    api, _ = joined()
    task = api.post("/api/studies/s1/next/").json()
    broken = api.post("/api/judgments/", data="{not json", content_type="application/json")
    assert broken.status_code == 400 and "JSON parse error" in broken.json()["detail"]
    form = api.post("/api/judgments/", {"assignment": task["assignment_id"], "choice": "A", "client_id": "f"})
    assert form.status_code == 415
    assert not Judgment.objects.exists()


@pytest.mark.parametrize(("change", "field"), [
    ({"assignment": "seven"}, "assignment"),
    ({"choice": "C"}, "choice"),
    ({"strength": "very"}, "strength"),
    ({"client_id": ""}, "client_id"),
    ({"client_id": "x" * 65}, "client_id"),
    ({"time_taken_ms": -5}, "time_taken_ms"),
    ({"rationale": 12}, "rationale"),
])
def test_each_bad_field_is_named(study, change, field):
    api, _ = joined()
    task = api.post("/api/studies/s1/next/").json()
    payload = {"assignment": task["assignment_id"], "choice": "A", "client_id": "c"} | change
    response = api.post("/api/judgments/", payload, format="json")
    assert response.status_code == 400 and response.json()["field"] == field
    assert not Judgment.objects.exists()


def test_a_closed_study_hands_out_no_new_pairs_but_keeps_the_live_lease(study):
    api, _ = joined()
    first = api.post("/api/studies/s1/next/").json()
    study.is_open = False
    study.save(update_fields=["is_open"])
    again = api.post("/api/studies/s1/next/")
    assert again.status_code == 200 and again.json()["assignment_id"] == first["assignment_id"]
    submitted = api.post("/api/judgments/", {"assignment": first["assignment_id"], "choice": "A", "client_id": "z"},
                         format="json")
    assert submitted.status_code == 201
    assert api.post("/api/studies/s1/next/").status_code == 204
