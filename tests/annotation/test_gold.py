"""Gold items (attention checks): study-file fields, serving at the gold rate outside the slots,
screening out participants who fail them, and the screened-out outcome code."""

import random

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from annotation.assignment import pair_next_for_annotator
from annotation.errors import InputError
from annotation.judgments import JudgmentInput, judgment_submit
from annotation.models import GoldItem, Judgment, Pair, Participant, Prompt, Slot
from annotation.study_files import study_import
from tests.factories import client_for, jsonl_bytes, make_participant, study_lines

pytestmark = pytest.mark.django_db

GOLD_PROMPT = {
    "prompt_id": "q9", "turns": [{"role": "user", "content": "Is the sky usually blue on a clear day?"}],
    "candidates": [{"candidate_id": "q9-yes", "text": "Yes, a clear daytime sky looks blue."},
                   {"candidate_id": "q9-no", "text": "No, it is green with purple stripes."}],
}


def gold_study(*, gold_rate=1.0, quota=20, extra_gold=0, **header):
    """Three ordinary prompts (9 pairs, k = 3), a gold item on p0 (reference form) and one that brings its
    own prompt q9, plus `extra_gold` more gold-only prompts."""
    lines = study_lines(quota=quota, gold_rate=gold_rate, screened_out_code="SCREENED", **header)
    lines.append({"gold": {"prompt_id": "p0", "a": "p0c0", "b": "p0c1", "expected": "B"}})
    lines.append({"gold": {**GOLD_PROMPT, "a": "q9-yes", "b": "q9-no", "expected": "A"}})
    for i in range(extra_gold):
        lines.append({"gold": {
            "prompt_id": f"g{i}", "turns": [{"role": "user", "content": f"Check {i}: pick the answer that says yes."}],
            "candidates": [{"candidate_id": f"g{i}-y", "text": f"yes {i}"}, {"candidate_id": f"g{i}-n", "text": "no"}],
            "a": f"g{i}-y", "b": f"g{i}-n", "expected": "A"}})
    return study_import(jsonl_bytes(lines), source="gold.jsonl")


def submit(participant, task, choice, client_id):
    return judgment_submit(user=participant.user, data=JudgmentInput(task.assignment_id, choice, client_id))


def annotator(study, name, party="D"):
    return make_participant(study, get_user_model().objects.create_user(name), party=party)


def right_choice(task) -> str:
    expected = GoldItem.objects.get(pair_id=task.pair_id).expected_id
    return "A" if task.left.id == expected else "B"


def test_gold_lines_make_gold_pairs_without_slots_and_their_own_prompts_without_ordinary_pairs():
    summary = gold_study()
    study = summary.study
    assert summary.gold == 2 and summary.prompts == 4
    gold_pairs = Pair.objects.filter(strategy="gold")
    assert gold_pairs.count() == 2
    assert not Slot.objects.filter(pair__in=gold_pairs).exists()
    q9 = Prompt.objects.get(study=study, external_id="q9")
    assert list(Pair.objects.filter(prompt=q9).values_list("strategy", flat=True)) == ["gold"]
    # p0c0-p0c1 is also an ordinary pair ("all" strategy): the gold pair takes the other order.
    reference = GoldItem.objects.get(pair__prompt__external_id="p0")
    assert reference.expected.external_id == "p0c1"
    assert Pair.objects.filter(prompt__external_id="p0", strategy="all").count() == 3
    assert study.gold_rate == 1.0 and study.screened_out_code == "SCREENED"


@pytest.mark.parametrize("gold, field, message", [
    ({"prompt_id": "p0", "a": "p0c0", "b": "p0c1", "expected": "C"}, "gold.expected", "must be A or B"),
    ({"prompt_id": "p0", "a": "p0c0", "b": "p0c1"}, "gold.expected", "is required"),
    ({"prompt_id": "nope", "a": "x", "b": "y", "expected": "A"}, "gold.prompt_id", "unknown prompt 'nope'"),
    ({"prompt_id": "p0", "a": "p0c0", "b": "zz", "expected": "A"}, "gold.b", "unknown candidate 'zz'"),
    ({"prompt_id": "p0", "a": "p0c0", "b": "p0c0", "expected": "A"}, "gold.b", "two different candidates"),
    ({**GOLD_PROMPT, "prompt_id": "p1", "a": "q9-yes", "b": "q9-no", "expected": "A"}, "gold.prompt_id",
     "duplicate prompt_id 'p1'"),
    ({**GOLD_PROMPT, "turns": [], "a": "q9-yes", "b": "q9-no", "expected": "A"}, "gold.turns", "at least one turn"),
    ("not an object", "gold", "must be an object"),
])
def test_a_bad_gold_line_names_its_line_and_field_and_imports_nothing(gold, field, message):
    lines = study_lines(slug="bad") + [{"gold": gold}]
    with pytest.raises(InputError) as caught:
        study_import(jsonl_bytes(lines), source="gold.jsonl")
    assert (caught.value.line, caught.value.field) == (5, field)
    assert message in caught.value.message and str(caught.value).startswith("gold.jsonl:5:")
    assert not Prompt.objects.exists() and not GoldItem.objects.exists()


def test_the_same_gold_pair_twice_is_refused():
    lines = study_lines() + [{"gold": {"prompt_id": "p0", "a": "p0c0", "b": "p0c1", "expected": "A"}}] * 2
    with pytest.raises(InputError, match="already a gold item") as caught:
        study_import(jsonl_bytes(lines), source="gold.jsonl")
    assert caught.value.line == 6


@pytest.mark.parametrize("name, value, message", [
    ("gold_rate", 1.5, "between 0 and 1"),
    ("gold_rate", "often", "must be an integer or a number"),
    ("screen_min_accuracy", -0.1, "between 0 and 1"),
    ("min_judgment_ms", -5, "between 0 and 3600000"),
    ("min_judgment_ms", 2.5, "must be an integer"),
    ("screen_min_gold", 0, "between 1 and 1000"),
    ("screened_out_code", "x" * 65, "at most 64"),
    ("screened_out_url", ["u"], "must be a string"),
])
def test_bad_quality_settings_in_the_header_name_line_1_and_the_field(name, value, message):
    with pytest.raises(InputError) as caught:
        study_import(jsonl_bytes(study_lines(**{name: value})), source="s.jsonl")
    assert (caught.value.line, caught.value.field) == (1, f"study.{name}")
    assert message in caught.value.message


def test_quality_settings_are_stored():
    study = study_import(jsonl_bytes(study_lines(
        gold_rate=0.1, min_judgment_ms=1500, screened_out_code="NOPE", screened_out_url="https://x.test/?cc={code}",
        screen_min_gold=2, screen_min_accuracy=0.75)), source="s.jsonl").study
    assert (study.gold_rate, study.min_judgment_ms, study.screened_out_code, study.screened_out_url,
            study.screen_min_gold, study.screen_min_accuracy) == (
        0.1, 1500, "NOPE", "https://x.test/?cc={code}", 2, 0.75)


def test_at_gold_rate_one_every_new_pair_is_gold_until_the_gold_runs_out_and_no_slot_is_touched():
    study = gold_study(gold_rate=1.0).study
    ann = annotator(study, "g-d")
    slots_before = list(Slot.objects.exclude(pair__strategy="gold").values_list("id", "status", "group_key"))
    served = []
    for i in range(3):
        task = pair_next_for_annotator(participant=ann)
        served.append(task.pair_id)
        submit(ann, task, "A", f"c{i}")
    gold_pairs = set(GoldItem.objects.values_list("pair_id", flat=True))
    assert set(served[:2]) == gold_pairs  # both gold items first, then ordinary pairs
    assert served[2] not in gold_pairs
    ordinary_after = dict((i, s) for i, s, _ in Slot.objects.exclude(pair__strategy="gold").values_list(
        "id", "status", "group_key"))
    changed = [i for i, status, _ in slots_before if ordinary_after[i] != status]
    assert len(changed) == 1  # only the ordinary pair's slot; gold used slots of its own, born done
    assert Judgment.objects.filter(participant=ann).count() == 3


def test_gold_answers_count_toward_the_quota_so_progress_moves_as_for_any_pair():
    study = gold_study(gold_rate=1.0, quota=2).study
    ann = annotator(study, "g-q")
    first = pair_next_for_annotator(participant=ann)
    assert submit(ann, first, "A", "q1").progress.done == 1
    second = pair_next_for_annotator(participant=ann)
    submit(ann, second, "A", "q2")
    assert pair_next_for_annotator(participant=ann) is None


def test_gold_items_are_served_at_about_the_gold_rate_and_never_fill_an_ordinary_pairs_k():
    random.seed(20261201)
    study = study_import(jsonl_bytes(
        study_lines(prompts=12, candidates=4, overlap=6, quota=40, gold_rate=0.25, strategy="all")
        + [{"gold": {"prompt_id": f"g{i}", "turns": [{"role": "user", "content": f"check {i}"}],
                     "candidates": [{"candidate_id": "y", "text": f"yes {i}"}, {"candidate_id": "n", "text": "no"}],
                     "a": "y", "b": "n", "expected": "A"}} for i in range(40)]),
        source="rate.jsonl").study
    gold_pairs = set(GoldItem.objects.values_list("pair_id", flat=True))
    served = 0
    gold = 0
    for n in range(6):
        ann = annotator(study, f"rate-{n}", party="DR"[n % 2])
        for i in range(40):
            task = pair_next_for_annotator(participant=ann)
            served += 1
            gold += task.pair_id in gold_pairs
            submit(ann, task, "A", f"r{n}-{i}")
    assert served == 240
    assert 0.17 <= gold / served <= 0.33  # 60 expected; the bounds are about 3 standard deviations
    ordinary = Judgment.objects.exclude(pair_id__in=gold_pairs)
    assert ordinary.count() == served - gold
    assert all(slot.status == "done" for slot in Slot.objects.filter(pair_id__in=gold_pairs))
    per_pair = {}
    for pair_id in ordinary.values_list("pair_id", flat=True):
        per_pair[pair_id] = per_pair.get(pair_id, 0) + 1
    assert max(per_pair.values()) <= 6


def test_the_api_does_not_reveal_that_a_pair_is_gold(study):
    gold_study_ = gold_study(slug="api-gold", gold_rate=1.0).study
    api = APIClient()
    token = api.post(f"/api/studies/{gold_study_.slug}/join/", {"consent": True, "attributes": {"party": "D"}},
                     format="json").json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    gold_task = api.post(f"/api/studies/{gold_study_.slug}/next/").json()
    assert Pair.objects.get(assignments__id=gold_task["assignment_id"]).strategy == "gold"
    other = APIClient()
    token = other.post("/api/studies/s1/join/", {"consent": True, "attributes": {"party": "D"}},
                       format="json").json()["token"]
    other.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    ordinary = other.post("/api/studies/s1/next/").json()
    assert gold_task.keys() == ordinary.keys()
    assert gold_task["prompt"].keys() == ordinary["prompt"].keys() and gold_task["a"].keys() == ordinary["a"].keys()
    assert "gold" not in str(gold_task).lower()
    answer = api.post("/api/judgments/", {"assignment": gold_task["assignment_id"], "choice": "A",
                                          "client_id": "g1"}, format="json")
    assert answer.status_code == 201 and "gold" not in str(answer.json()).lower()


def test_failing_the_attention_checks_screens_a_participant_out_and_they_get_no_more_pairs():
    study = gold_study(gold_rate=1.0, extra_gold=3, screen_min_gold=3, screen_min_accuracy=0.5).study
    ann = annotator(study, "g-bad")
    for i in range(3):
        task = pair_next_for_annotator(participant=ann)
        wrong = "B" if right_choice(task) == "A" else "A"
        submit(ann, task, wrong, f"w{i}")
        ann.refresh_from_db()
        assert (ann.screened_out_at is not None) == (i == 2)  # only after screen_min_gold answers
    assert pair_next_for_annotator(participant=ann) is None


def test_passing_the_attention_checks_keeps_a_participant_in():
    study = gold_study(gold_rate=1.0, extra_gold=3, screen_min_gold=3, screen_min_accuracy=0.5).study
    ann = annotator(study, "g-good")
    for i in range(4):
        task = pair_next_for_annotator(participant=ann)
        choice = right_choice(task) if i != 0 else ("B" if right_choice(task) == "A" else "A")
        submit(ann, task, choice, f"ok{i}")
    ann.refresh_from_db()
    assert ann.screened_out_at is None  # 3 right of 4
    assert pair_next_for_annotator(participant=ann) is not None


def test_a_screened_out_participant_sees_the_screened_out_code_and_link_on_the_done_page():
    study = gold_study(gold_rate=1.0, extra_gold=1, screen_min_gold=1,
                       screened_out_url="https://app.example/complete?cc={code}").study
    ann = annotator(study, "g-page")
    task = pair_next_for_annotator(participant=ann)
    submit(ann, task, "B" if right_choice(task) == "A" else "A", "p1")
    page = client_for(ann.user).get(f"/s/{study.slug}/annotate/", follow=True)
    html = page.content.decode()
    assert page.redirect_chain[-1][0].endswith("/done/")
    assert 'id="screened-out"' in html and "SCREENED" in html and "CODE-1" not in html
    assert "https://app.example/complete?cc=SCREENED" in html


def test_a_participant_who_passes_sees_the_completion_code():
    study = gold_study(gold_rate=1.0, quota=1).study
    ann = annotator(study, "g-done")
    task = pair_next_for_annotator(participant=ann)
    submit(ann, task, right_choice(task), "d1")
    html = client_for(ann.user).get(f"/s/{study.slug}/done/").content.decode()
    assert "CODE-1" in html and "SCREENED" not in html and 'id="screened-out"' not in html


def test_screening_reaches_the_api_at_once_despite_the_participant_cache():
    study = gold_study(gold_rate=1.0, extra_gold=1, screen_min_gold=1).study
    api = APIClient()
    token = api.post(f"/api/studies/{study.slug}/join/", {"consent": True, "attributes": {"party": "D"}},
                     format="json").json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    task = api.post(f"/api/studies/{study.slug}/next/").json()
    expected = GoldItem.objects.get(pair__assignments__id=task["assignment_id"]).expected.external_id
    wrong = "B" if task["a"]["candidate_id"] == expected else "A"
    assert api.post("/api/judgments/", {"assignment": task["assignment_id"], "choice": wrong, "client_id": "x1"},
                    format="json").status_code == 201
    assert Participant.objects.get(study=study).screened_out_at is not None
    assert api.post(f"/api/studies/{study.slug}/next/").status_code == 204


def test_imported_judgments_never_land_on_a_gold_pair():
    from annotation.judgment_files import judgments_import

    study = gold_study().study
    gold_pairs = set(GoldItem.objects.values_list("pair_id", flat=True))
    lines = [{"annotator_id": "w1", "attributes": {"party": "D"}, "prompt_id": "q9", "a": "q9-yes", "b": "q9-no",
              "choice": "A"},
             {"annotator_id": "w1", "attributes": {"party": "D"}, "prompt_id": "p0", "a": "p0c1", "b": "p0c0",
              "choice": "B"}]
    judgments_import(study=study, stream=jsonl_bytes(lines))
    stored = Judgment.objects.filter(participant__external_id="w1")
    assert stored.count() == 2 and not stored.filter(pair_id__in=gold_pairs).exists()


def test_the_screened_out_page_speaks_the_studys_language():
    study = gold_study(slug="fr-gold", language="fr", gold_rate=1.0, extra_gold=1, screen_min_gold=1).study
    ann = annotator(study, "g-fr")
    task = pair_next_for_annotator(participant=ann)
    submit(ann, task, "B" if right_choice(task) == "A" else "A", "fr1")
    html = client_for(ann.user).get(f"/s/{study.slug}/done/").content.decode()
    assert "Merci pour votre temps" in html and "SCREENED" in html


def test_the_answer_that_screens_a_participant_out_on_the_page_leads_to_the_done_page():
    study = gold_study(gold_rate=1.0, extra_gold=1, screen_min_gold=1).study
    ann = annotator(study, "g-form")
    client = client_for(ann.user)
    task = pair_next_for_annotator(participant=ann)
    wrong = "B" if right_choice(task) == "A" else "A"
    response = client.post(f"/s/{study.slug}/judge/", {"assignment": task.assignment_id, "choice": wrong,
                                                        "client_id": "form-1"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 204 and response["HX-Redirect"].endswith("/done/")
    assert Judgment.objects.filter(participant=ann).count() == 1
