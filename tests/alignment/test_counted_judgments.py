"""Judgments that count: excluded annotators' judgments and gold answers stay out of the dashboards, the
refits' datasets and the exports, and an excluded annotator's come back when the exclusion is lifted."""

import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from alignment.pal_dataset import pal_data_for_study
from alignment.spica_refit import spica_data_for_study
from annotation.annotator_review import annotator_set_excluded
from annotation.assignment import pair_next_for_annotator
from annotation.judgment_export import export_records
from annotation.judgment_files import judgments_import
from annotation.judgments import JudgmentInput, judgment_submit
from annotation.models import Participant
from annotation.study_files import study_import
from tests.factories import client_for, jsonl_bytes, make_participant, study_lines

pytestmark = pytest.mark.django_db


def judgment(annotator, party, a, b, choice, prompt="p0"):
    return {"annotator_id": annotator, "attributes": {"party": party}, "prompt_id": prompt, "a": a, "b": b,
            "choice": choice}


@pytest.fixture
def judged(study):
    """d1 and r1 judge three pairs each, d2 judges one (seven judgments)."""
    lines = [judgment("d2", "D", "p0c0", "p0c1", "A")]
    for who, party, choice in [("d1", "D", "A"), ("r1", "R", "B")]:
        lines += [judgment(who, party, "p0c0", "p0c1", choice), judgment(who, party, "p0c0", "p0c2", choice),
                  judgment(who, party, "p1c0", "p1c1", choice, prompt="p1")]
    judgments_import(study=study, stream=jsonl_bytes(lines))
    return study


def progress_judgments(client, study) -> int:
    html = client.get(reverse("dashboards:progress", args=[study.slug])).content.decode()
    return int(re.search(r"(\d+) judgments by (\d+) annotators", html).group(1))


def test_an_excluded_annotators_judgments_leave_a_dashboard_and_return_when_the_exclusion_is_lifted(
    judged, researcher, admin_user, settings
):
    settings.DASHBOARD_MAX_AGE_SECONDS = 600  # the page would otherwise serve its snapshot for ten minutes
    client = client_for(researcher)

    def pairs_compared() -> int:
        url = reverse("dashboards:divergence", args=[judged.slug]) + "?download=json"
        return client.get(url).json()["summary"]["pairs_compared"]

    assert progress_judgments(client, judged) == 7 and pairs_compared() == 3
    d1 = Participant.objects.get(external_id="d1")
    annotator_set_excluded(participant=d1, excluded=True, by=admin_user)
    assert progress_judgments(client, judged) == 4
    assert pairs_compared() == 1  # only p0c0-p0c1 keeps a D (d2) beside r1
    annotator_set_excluded(participant=d1, excluded=False, by=admin_user)
    assert progress_judgments(client, judged) == 7 and pairs_compared() == 3


def test_an_excluded_annotator_leaves_the_pal_and_spica_datasets_and_returns(judged, admin_user):
    d1 = Participant.objects.get(external_id="d1")
    before = pal_data_for_study(study=judged)
    assert d1.pk in before.participant_ids.tolist() and len(before.data.judgments.user) == 7
    annotator_set_excluded(participant=d1, excluded=True, by=admin_user)
    after = pal_data_for_study(study=judged)
    assert d1.pk not in after.participant_ids.tolist() and len(after.data.judgments.user) == 4
    spica, _, _ = spica_data_for_study(study=judged)
    assert d1.pk not in set(spica.judgments.annotator.tolist()) and len(spica.judgments.label) == 4
    annotator_set_excluded(participant=d1, excluded=False, by=admin_user)
    assert len(pal_data_for_study(study=judged).data.judgments.user) == 7


def test_exports_leave_out_excluded_annotators_unless_asked(judged, admin_user, researcher):
    annotator_set_excluded(participant=Participant.objects.get(external_id="r1"), excluded=True, by=admin_user)
    assert {r["annotator_id"] for r in export_records(study=judged)} == {"d1", "d2"}
    assert {r["annotator_id"] for r in export_records(study=judged, include_excluded=True)} == {"d1", "d2", "r1"}
    client = client_for(researcher)
    default = client.get("/api/studies/s1/export/?format=jsonl")
    assert {json.loads(line)["annotator_id"] for line in b"".join(default.streaming_content).splitlines()} == {
        "d1", "d2"}
    everyone = client.get("/api/studies/s1/export/?format=jsonl&include_excluded=1")
    assert len(b"".join(everyone.streaming_content).splitlines()) == 7
    bad = client.get("/api/studies/s1/export/?include_excluded=maybe")
    assert bad.status_code == 400 and bad.json()["field"] == "include_excluded"


def test_gold_answers_are_never_ordinary_judgments_in_dashboards_refits_or_exports(researcher):
    lines = study_lines(gold_rate=0.5) + [{"gold": {"prompt_id": "p0", "a": "p0c0", "b": "p0c1", "expected": "A"}}]
    study = study_import(jsonl_bytes(lines), source="g.jsonl").study
    people = [make_participant(study, get_user_model().objects.create_user(f"u{i}"), party="DR"[i % 2])
              for i in range(4)]
    gold_answers = 0
    for n, person in enumerate(people):
        for i in range(4):
            task = pair_next_for_annotator(participant=person)
            gold_answers += task.prompt.external_id == "p0" and {task.left.external_id, task.right.external_id} == {
                "p0c0", "p0c1"} and study.gold_items.filter(pair_id=task.pair_id).exists()
            judgment_submit(user=person.user, data=JudgmentInput(task.assignment_id, "A", f"x{n}-{i}"))
    assert gold_answers >= 1  # served (gold_rate 0.5, one gold item, four annotators)
    ordinary = 16 - gold_answers
    assert len(pal_data_for_study(study=study).data.judgments.user) == ordinary
    assert sum(1 for r in export_records(study=study) if r["kind"] == "judgment") == ordinary
    client = client_for(researcher)
    assert progress_judgments(client, study) == ordinary
    strategies = client.get(reverse("dashboards:strategies", args=[study.slug]) + "?download=json").json()
    assert "gold" not in {row["strategy"] for row in strategies["tables"]["strategies"]}
