"""Gold sets (attention checks in set studies): study-file lines, serving at the gold rate outside the slots with a
shown order drawn per lease, screening on best == expected, and gold answers left out of everything that counts."""

import threading
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.db import connections
from rest_framework.test import APIClient

from annotation.counted_judgments import judgments_that_count, set_judgments_that_count
from annotation.errors import InputError
from annotation.models import (
    Assignment,
    CandidateSet,
    GoldItem,
    Judgment,
    PairGroupCount,
    Participant,
    Prompt,
    SetJudgment,
    Slot,
)
from annotation.quality import study_annotator_quality
from annotation.set_assignment import set_next_for_annotator
from annotation.set_submit import SetJudgmentInput, set_judgment_submit
from annotation.study_files import study_import
from tests.factories import client_for, jsonl_bytes, make_participant, study_lines

pytestmark = pytest.mark.django_db

TABS = 8


def gold_prompt(i: int) -> dict:
    """A gold-only prompt of four candidates, members in line order, expected the one that answers the check."""
    ids = [f"g{i}-{c}" for c in "wxyz"]
    return {
        "prompt_id": f"g{i}", "turns": [{"role": "user", "content": f"Check {i}: pick the answer that says yes."}],
        "candidates": [{"candidate_id": ids[0], "text": f"Yes, check {i} passed."}]
        + [{"candidate_id": c, "text": f"No ({c}), something unrelated {i}."} for c in ids[1:]],
        "members": ids, "expected": ids[0],
    }


def gold_set_lines(*, gold_sets=2, reference=False, **header) -> list[dict]:
    """Three ordinary prompts of four candidates (one random set of 4 each, k = 3) and `gold_sets` gold-only
    prompts with a gold set each; with reference, a gold set naming p0's candidates as well."""
    header = {"gold_rate": 1.0, "screened_out_code": "SCREENED", **header}
    lines = study_lines(candidates=4, strategy="random", task="set", set_size=4, **header)
    if reference:
        lines.append({"gold": {"prompt_id": "p0", "members": ["p0c3", "p0c1", "p0c0", "p0c2"], "expected": "p0c1"}})
    lines += [{"gold": gold_prompt(i)} for i in range(gold_sets)]
    return lines


def gold_set_study(**kwargs):
    return study_import(jsonl_bytes(gold_set_lines(**kwargs)), source="gold-sets.jsonl").study


def annotator(study, name, party="D"):
    return make_participant(study, get_user_model().objects.create_user(name), party=party)


def is_gold(task) -> bool:
    return GoldItem.objects.filter(candidate_set_id=task.set_id).exists()


def expected_of(task) -> str:
    return GoldItem.objects.get(candidate_set_id=task.set_id).expected.external_id


def answer(participant, task, *, right: bool):
    expected = expected_of(task)
    best = expected if right else next(c.external_id for c in task.shown if c.external_id != expected)
    return set_judgment_submit(user=participant.user, data=SetJudgmentInput(
        assignment_id=task.assignment_id, best=best, client_id=uuid.uuid4().hex, ranking=[]))


def submit_first(participant, task):
    return set_judgment_submit(user=participant.user, data=SetJudgmentInput(
        assignment_id=task.assignment_id, best=task.shown[0].external_id, client_id=uuid.uuid4().hex, ranking=[]))


# --- study files -------------------------------------------------------------------------------------------


def test_gold_lines_in_a_set_study_make_gold_sets_without_slots_that_leave_the_ordinary_sets_alone():
    study = gold_set_study(gold_sets=2, reference=True)
    gold = GoldItem.objects.filter(study=study).select_related("candidate_set", "expected")
    assert gold.count() == 3 and all(item.pair_id is None for item in gold)
    assert {item.candidate_set.strategy for item in gold} == {"gold"}
    assert not Slot.objects.filter(candidate_set__strategy="gold").exists()
    reference = gold.get(candidate_set__prompt__external_id="p0")
    names = dict(Prompt.objects.get(study=study, external_id="p0").candidates.values_list("pk", "external_id"))
    assert [names[pk] for pk in reference.candidate_set.members] == ["p0c3", "p0c1", "p0c0", "p0c2"]
    assert reference.expected.external_id == "p0c1"
    # The ordinary sets are the strategy's: one per prompt, k slots each, even for p0 whose four candidates are
    # also a gold set; gold-only prompts get no ordinary set.
    ordinary = CandidateSet.objects.filter(prompt__study=study).exclude(strategy="gold")
    assert sorted(ordinary.values_list("prompt__external_id", flat=True)) == ["p0", "p1", "p2"]
    assert Slot.objects.filter(candidate_set__in=ordinary).count() == 3 * study.overlap


GOOD = {"prompt_id": "p0", "members": ["p0c0", "p0c1", "p0c2", "p0c3"], "expected": "p0c1"}


@pytest.mark.parametrize("gold, field, message", [
    ({**GOOD, "expected": "p0c9"}, "gold.expected", "must be one of members"),
    ({**GOOD, "expected": None}, "gold.expected", "is required"),
    ({**GOOD, "members": "p0c0"}, "gold.members", "must be a list"),
    ({**GOOD, "members": ["p0c0"]}, "gold.members", "set_size"),
    ({**GOOD, "members": ["p0c0", "p0c1", "p0c2"]}, "gold.members", "set_size (4) candidate ids, not 3"),
    ({**GOOD, "members": ["p0c0", "p0c1", "zz", "p0c3"]}, "gold.members[2]", "unknown candidate 'zz'"),
    ({**GOOD, "members": ["p0c0", "p0c1", "p0c1", "p0c3"]}, "gold.members[2]", "given twice"),
    ({**GOOD, "members": ["p0c0", 7, "p0c2", "p0c3"]}, "gold.members[1]", "must be a candidate id"),
    ({**GOOD, "members": ["p0c0", "p0\x00", "p0c2", "p0c3"]}, "gold.members[1]", "NUL"),
    ({**GOOD, "prompt_id": "nope"}, "gold.prompt_id", "unknown prompt 'nope'"),
    ({"prompt_id": "p0", "a": "p0c0", "b": "p0c1", "expected": "A"}, "gold.members", "a set study's gold items"),
])
def test_a_bad_gold_set_line_names_its_line_and_field_and_imports_nothing(gold, field, message):
    lines = gold_set_lines(gold_sets=0) + [{"gold": gold}]
    with pytest.raises(InputError) as caught:
        study_import(jsonl_bytes(lines), source="gold-sets.jsonl")
    assert (caught.value.line, caught.value.field) == (5, field)
    assert message in caught.value.message and str(caught.value).startswith("gold-sets.jsonl:5:")
    assert not Prompt.objects.exists() and not GoldItem.objects.exists()


def test_the_same_gold_set_twice_is_refused_in_any_order():
    lines = gold_set_lines(gold_sets=0) + [{"gold": GOOD}, {"gold": {**GOOD, "members": GOOD["members"][::-1]}}]
    with pytest.raises(InputError, match="already a gold set") as caught:
        study_import(jsonl_bytes(lines), source="gold-sets.jsonl")
    assert (caught.value.line, caught.value.field) == (6, "gold.members")


def test_a_gold_set_line_in_a_pair_study_is_refused():
    lines = study_lines(candidates=4) + [{"gold": GOOD}]
    with pytest.raises(InputError, match="belong to set studies") as caught:
        study_import(jsonl_bytes(lines), source="pairs.jsonl")
    assert (caught.value.line, caught.value.field) == (5, "gold.members")


# --- serving -----------------------------------------------------------------------------------------------


def test_at_gold_rate_one_gold_sets_come_first_in_a_drawn_order_through_slots_born_done_then_ordinary_sets():
    study = gold_set_study(gold_sets=2)
    ann = annotator(study, "gs-d")
    ordinary_slots = dict(Slot.objects.filter(study=study).values_list("id", "status"))
    served = []
    for _ in range(3):
        task = set_next_for_annotator(participant=ann)
        served.append((task.set_id, is_gold(task)))
        if is_gold(task):
            assignment = Assignment.objects.select_related("slot").get(pk=task.assignment_id)
            members = CandidateSet.objects.get(pk=task.set_id).members
            # The order drawn for this lease is stored and is what the page shows.
            assert assignment.shown == [c.id for c in task.shown] and sorted(assignment.shown) == sorted(members)
            assert assignment.slot.status == "done" and assignment.slot.pk not in ordinary_slots
        submit_first(ann, task)
    assert [gold for _, gold in served] == [True, True, False]
    assert {set_id for set_id, gold in served if gold} == set(GoldItem.objects.values_list("candidate_set", flat=True))
    changed = [pk for pk, status in Slot.objects.filter(pk__in=ordinary_slots).values_list("id", "status")
               if status != ordinary_slots[pk]]
    assert len(changed) == 1  # only the ordinary set's slot
    assert SetJudgment.objects.filter(participant=ann).count() == 3


def test_a_gold_set_counts_toward_the_quota_and_is_never_served_twice():
    study = gold_set_study(gold_sets=1, quota=2)
    ann = annotator(study, "gs-q")
    first = set_next_for_annotator(participant=ann)
    assert is_gold(first) and set_next_for_annotator(participant=ann).assignment_id == first.assignment_id
    assert answer(ann, first, right=True).progress.done == 1
    second = set_next_for_annotator(participant=ann)
    assert not is_gold(second)  # the one gold set is had: the ordinary next answers
    assert submit_first(ann, second).progress.done == 2
    assert set_next_for_annotator(participant=ann) is None


def test_a_gold_set_sharing_a_pair_with_a_set_the_participant_judged_is_not_served():
    study = gold_set_study(gold_sets=0, reference=True, gold_rate=0.0)
    ann = annotator(study, "gs-share")
    task = set_next_for_annotator(participant=ann)
    while task.prompt.external_id != "p0":
        submit_first(ann, task)
        task = set_next_for_annotator(participant=ann)
    submit_first(ann, task)
    study.gold_rate = 1.0
    study.save(update_fields=["gold_rate"])
    ann.refresh_from_db()
    # p0's gold set shares every pair with the ordinary p0 set just judged (one judgment per pair): never served,
    # while the ordinary sets still are.
    rest = []
    while (task := set_next_for_annotator(participant=ann)) is not None:
        rest.append((task.prompt.external_id, is_gold(task)))
        submit_first(ann, task)
    assert sorted(rest) == [("p1", False), ("p2", False)]
    assert not Assignment.objects.filter(participant=ann, candidate_set__strategy="gold").exists()


# --- submit and screening ----------------------------------------------------------------------------------


def test_wrong_gold_set_answers_screen_a_participant_out_after_screen_min_gold_and_they_get_no_more_sets():
    study = gold_set_study(gold_sets=4, screen_min_gold=3, screen_min_accuracy=0.5)
    ann = annotator(study, "gs-bad")
    for i in range(3):
        task = set_next_for_annotator(participant=ann)
        assert is_gold(task)
        submission = answer(ann, task, right=False)
        ann.refresh_from_db()
        assert submission.gold and submission.screened_out == (i == 2)
        assert (ann.screened_out_at is not None) == (i == 2)  # only after screen_min_gold answers
    assert set_next_for_annotator(participant=ann) is None


def test_right_gold_set_answers_keep_a_participant_in():
    study = gold_set_study(gold_sets=4, screen_min_gold=3, screen_min_accuracy=0.5)
    ann = annotator(study, "gs-good")
    for i in range(4):
        answer(ann, set_next_for_annotator(participant=ann), right=i != 0)
    ann.refresh_from_db()
    assert ann.screened_out_at is None  # 3 right of 4
    assert set_next_for_annotator(participant=ann) is not None


def test_the_page_answer_that_screens_out_leads_to_the_done_page_with_the_screened_out_code():
    study = gold_set_study(gold_sets=1, screen_min_gold=1)
    ann = annotator(study, "gs-page")
    client = client_for(ann.user)
    task = set_next_for_annotator(participant=ann)
    wrong = next(c.external_id for c in task.shown if c.external_id != expected_of(task))
    response = client.post(f"/s/{study.slug}/judge/", {"assignment": task.assignment_id, "best": wrong,
                                                        "client_id": "form-1"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 204 and response["HX-Redirect"].endswith("/done/")
    assert Participant.objects.get(pk=ann.pk).screened_out_at is not None
    html = client.get(f"/s/{study.slug}/done/").content.decode()
    assert 'id="screened-out"' in html and "SCREENED" in html and "CODE-1" not in html


def test_a_gold_set_answer_is_left_out_of_everything_that_counts():
    study = gold_set_study(gold_sets=1)
    ann = annotator(study, "gs-count")
    gold_task = set_next_for_annotator(participant=ann)
    answer(ann, gold_task, right=True)
    counts_after_gold = list(PairGroupCount.objects.filter(study=study).values_list("pair_id", "n"))
    ordinary_task = set_next_for_annotator(participant=ann)
    submit_first(ann, ordinary_task)
    gold_judgment = SetJudgment.objects.get(candidate_set_id=gold_task.set_id)
    ordinary_judgment = SetJudgment.objects.get(candidate_set_id=ordinary_task.set_id)
    assert Judgment.objects.filter(set_judgment=gold_judgment).count() == 3  # best of 4: three comparisons
    assert list(set_judgments_that_count(study=study)) == [ordinary_judgment]
    counted = judgments_that_count(study=study)
    assert set(counted.values_list("set_judgment_id", flat=True)) == {ordinary_judgment.pk}
    assert counted.count() == 3
    # The gold set's comparisons add nothing to the per-group counts adaptive allocation and dashboards read.
    assert counts_after_gold == []
    assert PairGroupCount.objects.filter(study=study).count() == 3


def test_the_quality_page_shows_gold_set_accuracy_and_leaves_gold_out_of_the_other_columns(researcher):
    study = gold_set_study(gold_sets=4, screen_min_gold=10)
    good, bad = annotator(study, "gs-qa"), annotator(study, "gs-qb", party="R")
    for i in range(4):
        answer(good, set_next_for_annotator(participant=good), right=i != 3)
        answer(bad, set_next_for_annotator(participant=bad), right=i == 0)
    submit_first(good, set_next_for_annotator(participant=good))
    rows = {row.annotator: row for row in study_annotator_quality(study=study)}
    assert (rows["gs-qa"].gold_n, rows["gs-qa"].gold_accuracy) == (4, 0.75)
    assert (rows["gs-qb"].gold_n, rows["gs-qb"].gold_accuracy) == (4, 0.25)
    assert rows["gs-qa"].judgments == 1 and rows["gs-qb"].judgments == 0  # set judgments that count
    # Both answered the same gold sets: no agreement is computed over them.
    assert rows["gs-qa"].other_group_n == 0 and rows["gs-qb"].other_group_n == 0
    page = client_for(researcher).get(f"/studies/{study.slug}/quality/").content.decode()
    assert "75% (4)" in page and "25% (4)" in page and "no gold accuracy" not in page


@pytest.mark.django_db(transaction=True)
def test_one_participant_asking_from_many_tabs_at_once_gets_one_lease():
    # The gold lease takes pluralweb_set_next's per-participant lock (SQLite: its write transactions queue), so
    # concurrent `next` calls of one participant, gold or ordinary, all answer with one lease.
    study = gold_set_study(gold_sets=4, gold_rate=0.5)
    ann = annotator(study, "gs-tabs")
    barrier = threading.Barrier(TABS)
    answers: list = []
    errors: list = []

    def ask() -> None:
        try:
            barrier.wait()
            participant = Participant.objects.select_related("study").get(pk=ann.pk)
            answers.append(set_next_for_annotator(participant=participant).assignment_id)
        except Exception as exc:  # surfaced by the assertion below
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=ask) for _ in range(TABS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors and len(answers) == TABS
    assert len(set(answers)) == 1
    assert Assignment.objects.filter(participant=ann).count() == 1


def test_the_api_serves_a_gold_set_like_any_set_and_screening_reaches_it_at_once():
    study = gold_set_study(gold_sets=1, screen_min_gold=1)
    api = APIClient()
    token = api.post(f"/api/studies/{study.slug}/join/", {"consent": True, "attributes": {"party": "D"}},
                     format="json").json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    task = api.post(f"/api/studies/{study.slug}/next/").json()
    assert CandidateSet.objects.get(pk=task["set_id"]).strategy == "gold"
    assert set(task) == {"task", "assignment_id", "set_id", "prompt", "candidates", "lease_expires_at", "progress"}
    assert "gold" not in str(task).lower()
    expected = GoldItem.objects.get(candidate_set_id=task["set_id"]).expected.external_id
    wrong = next(c["candidate_id"] for c in task["candidates"] if c["candidate_id"] != expected)
    answered = api.post("/api/set-judgments/", {"assignment": task["assignment_id"], "best": wrong,
                                                 "client_id": "api-1"}, format="json")
    assert answered.status_code == 201 and "gold" not in str(answered.json()).lower()
    assert Participant.objects.get(study=study).screened_out_at is not None
    assert api.post(f"/api/studies/{study.slug}/next/").status_code == 204
