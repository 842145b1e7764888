"""min_view_ms: a choice counts only once the pair has been on screen for the study's minimum time."""

from datetime import timedelta

import pytest

from annotation.assignment import pair_next_for_annotator
from annotation.errors import Conflict, InputError
from annotation.judgments import JudgmentInput, judgment_submit
from annotation.models import Assignment, Judgment
from annotation.study_files import study_import
from tests.factories import client_for, jsonl_bytes, make_participant, make_study, study_lines

pytestmark = pytest.mark.django_db


@pytest.fixture
def slow_study(db):
    return make_study(slug="slow", min_view_ms=2000)


@pytest.fixture
def reader(django_user_model, slow_study):
    return make_participant(slow_study, django_user_model.objects.create_user("reader"), party="D")


def submit(participant, assignment_id, now, client_id="c1", **kwargs):
    data = JudgmentInput(assignment_id=assignment_id, choice="A", client_id=client_id, **kwargs)
    return judgment_submit(user=participant.user, data=data, now=now)


def test_a_choice_before_min_view_ms_is_refused_and_stores_nothing(slow_study, reader):
    task = pair_next_for_annotator(participant=reader)
    leased_at = Assignment.objects.get(pk=task.assignment_id).created_at
    with pytest.raises(Conflict) as refused:
        submit(reader, task.assignment_id, leased_at + timedelta(milliseconds=1500))
    assert refused.value.code == "too_soon"
    assert not Judgment.objects.exists()
    assert Assignment.objects.get(pk=task.assignment_id).status == Assignment.Status.ACTIVE


def test_the_same_answer_is_accepted_once_the_pair_was_on_screen_long_enough(slow_study, reader):
    task = pair_next_for_annotator(participant=reader)
    leased_at = Assignment.objects.get(pk=task.assignment_id).created_at
    with pytest.raises(Conflict):
        submit(reader, task.assignment_id, leased_at + timedelta(milliseconds=100))
    submission = submit(reader, task.assignment_id, leased_at + timedelta(milliseconds=2000))
    assert submission.created and submission.judgment.pair_id == task.pair_id


def test_min_view_ms_is_off_by_default(study, annotator_d):
    assert study.min_view_ms == 0
    task = pair_next_for_annotator(participant=annotator_d)
    leased_at = Assignment.objects.get(pk=task.assignment_id).created_at
    assert submit(annotator_d, task.assignment_id, leased_at).created


def test_the_api_answers_a_too_early_choice_with_409_too_soon(slow_study, reader):
    api = client_for(reader.user)
    task = api.post("/api/studies/slow/next/").json()
    answer = api.post("/api/judgments/", {"assignment": task["assignment_id"], "choice": "A", "client_id": "x1"},
                      format="json")
    assert answer.status_code == 409 and answer.json()["code"] == "too_soon"


def test_the_page_keeps_a_too_early_answer_and_says_why_in_the_study_language(client, db, django_user_model):
    study = make_study(slug="lent", min_view_ms=60_000, language="fr")
    participant = make_participant(study, django_user_model.objects.create_user("lecteur"), party="D")
    client.force_login(participant.user)
    page = client.get("/s/lent/annotate/")
    task = page.context["task"]
    answer = client.post("/s/lent/judge/", {
        "assignment": task.assignment_id, "pair": task.pair_id, "client_id": "k1", "choice": "B",
        "strength": "clearly", "rationale": "B cite ses sources",
    }, HTTP_HX_REQUEST="true")
    html = answer.content.decode()
    assert answer.status_code == 200 and not Judgment.objects.exists()
    assert answer.context["task"].assignment_id == task.assignment_id
    assert "Merci de lire les deux réponses" in html
    assert 'value="clearly" checked' in html and "B cite ses sources</textarea>" in html
    assert 'value="B" class="choice kept"' in html and 'name="client_id" value="k1"' in html
    assert 'data-min-view-ms="60000"' in html


@pytest.mark.parametrize("value, message", [
    (-1, "between 0 and 600000"), (600_001, "between 0 and 600000"), ("fast", "must be an integer"),
    (True, "not a boolean"),
])
def test_a_bad_min_view_ms_is_refused_with_line_and_field(db, value, message):
    with pytest.raises(InputError) as error:
        study_import(jsonl_bytes(study_lines(slug="bad", min_view_ms=value)), source="bad.jsonl")
    assert (error.value.line, error.value.field, error.value.source) == (1, "study.min_view_ms", "bad.jsonl")
    assert message in error.value.message
