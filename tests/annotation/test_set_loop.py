"""The set-task loop (issue 13): sets leased like pairs (k slots split across groups, leases, renew, skip),
their members shown in an order drawn per assignment, and set judgments submitted once, expanded into the
pairwise rows set_expansion gives."""

import uuid
from collections import Counter
from datetime import timedelta
from math import ceil

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from annotation.assignment import pair_next_for_annotator, participant_progress
from annotation.completion import awaiting_pairs, completion_progress
from annotation.errors import Conflict, Forbidden, Gone, InputError, NotFound
from annotation.leases import assignment_renew, assignment_skip
from annotation.models import (
    Assignment,
    Candidate,
    CandidateSet,
    Judgment,
    PairGroupCount,
    PairingJob,
    SetJudgment,
    Skip,
    Slot,
    Study,
)
from annotation.set_assignment import set_next_for_annotator
from annotation.set_expansion import as_shown, set_comparisons
from annotation.set_submit import SetJudgmentInput, set_judgment_input, set_judgment_submit
from annotation.study_files import study_import
from tests.factories import client_for, jsonl_bytes, make_participant, make_study, study_lines

pytestmark = pytest.mark.django_db


def set_study(**extra) -> Study:
    """Prompts of `candidates` candidates (4 by default: one set of 4 per prompt), k = 3, groups party D / R."""
    return make_study(**{"slug": "sets", "prompts": 3, "candidates": 4, "task": "set", "set_size": 4,
                         "strategy": "random", **extra})


def annotator(study, django_user_model, name="ann-d", party="D", **attributes):
    return make_participant(study, django_user_model.objects.create_user(name), party=party, **attributes)


def submit(participant, task, *, best=None, ranking=(), client_id=None, now=None, **extra):
    data = SetJudgmentInput(assignment_id=task.assignment_id, best=best or task.shown[0].external_id,
                            client_id=client_id or uuid.uuid4().hex, ranking=[list(b) for b in ranking], **extra)
    return set_judgment_submit(user=participant.user, data=data, now=now)


# --- slots ------------------------------------------------------------------------------------------------


def test_each_made_set_gets_k_slots_split_across_groups_like_a_pair():
    study = set_study(overlap=5, group_attributes={"region": ["N", "S", "W"]})
    sets = list(CandidateSet.objects.filter(prompt__study=study))
    assert len(sets) == 3
    for candidate_set in sets:
        groups = Counter(Slot.objects.filter(candidate_set=candidate_set).values_list("group_key", flat=True))
        assert groups == {"region=N": 1, "region=S": 1, "region=W": 1, "": 2}
    assert not Slot.objects.filter(pair__isnull=False).exists()


def test_making_sets_again_adds_no_slots():
    from annotation.pairing_jobs import _job_prompts, tasks_create

    study = set_study()
    before = Slot.objects.count()
    job = PairingJob(study=study, prompt_ids=list(study.prompts.values_list("pk", flat=True)))
    assert tasks_create(study=study, prompts=_job_prompts(job)) == 0
    assert Slot.objects.count() == before == 3 * study.overlap


def test_a_set_study_with_adaptive_allocation_is_refused():
    with pytest.raises(InputError) as refused:
        set_study(allocation="adaptive")
    assert refused.value.field == "study.allocation"
    with pytest.raises(IntegrityError), transaction.atomic():
        Study.objects.create(slug="x", title="x", consent="x", task="set", allocation="adaptive")


# --- next -------------------------------------------------------------------------------------------------


def test_next_leases_a_set_with_its_members_in_a_drawn_order_stored_on_the_assignment(django_user_model):
    study = set_study()
    who = annotator(study, django_user_model)
    task = set_next_for_annotator(participant=who)
    assignment = Assignment.objects.get(pk=task.assignment_id)
    members = CandidateSet.objects.get(pk=task.set_id).members
    assert assignment.candidate_set_id == task.set_id and assignment.pair_id is None
    assert sorted(assignment.shown) == sorted(members) and [c.id for c in task.shown] == assignment.shown
    assert {c.text for c in task.shown} == set(Candidate.objects.filter(pk__in=members).values_list("text", flat=True))
    assert task.prompt.external_id == "p0" and task.progress.done == 0 and task.progress.quota == 20
    assert Slot.objects.get(pk=assignment.slot_id).status == Slot.Status.LEASED
    # The live lease comes back while it lasts.
    assert set_next_for_annotator(participant=who).assignment_id == task.assignment_id


def test_the_shown_order_is_drawn_per_assignment(django_user_model):
    study = set_study(prompts=1, overlap=30, quota=1, group_attributes={})
    for i in range(24):
        assert set_next_for_annotator(participant=annotator(study, django_user_model, f"a{i}", party=None))
    firsts = Counter(a.shown[0] for a in Assignment.objects.all())
    assert len(firsts) >= 3  # 24 draws of 4 members: fewer than 3 first places has odds below 1e-7


def test_a_participant_who_held_a_set_before_sees_it_in_the_same_order(django_user_model):
    study = set_study(prompts=1)
    who = annotator(study, django_user_model)
    first = set_next_for_annotator(participant=who)
    later = timezone.now() + timedelta(minutes=study.lease_minutes + 1)
    again = set_next_for_annotator(participant=who, now=later)  # the lapsed lease ended, the set leased anew
    assert again.assignment_id != first.assignment_id and again.set_id == first.set_id
    assert [c.id for c in again.shown] == [c.id for c in first.shown]


def test_no_group_takes_more_than_ceil_k_over_g_slots_of_a_set(django_user_model):
    study = set_study(prompts=1, overlap=5, group_attributes={"region": ["N", "S"]})  # 2 + 2 tagged, 1 open
    got = [set_next_for_annotator(participant=annotator(study, django_user_model, f"n{i}", party=None, region="N"))
           for i in range(5)]
    assert sum(t is not None for t in got) == ceil(5 / 2)
    others = [set_next_for_annotator(participant=annotator(study, django_user_model, f"s{i}", party=None, region="S"))
              for i in range(5)]
    assert sum(t is not None for t in others) == 5 - 3


def test_a_set_sharing_two_members_with_one_judged_is_not_served(django_user_model):
    # Five candidates, two random sets of four: they share three members, so one annotator gets only one.
    study = set_study(prompts=1, candidates=5)
    assert CandidateSet.objects.count() == 2
    who = annotator(study, django_user_model)
    submit(who, set_next_for_annotator(participant=who))
    assert set_next_for_annotator(participant=who) is None
    assert set_next_for_annotator(participant=annotator(study, django_user_model, "ann-r", party="R")) is not None


def test_excluded_screened_out_and_closed_get_nothing_new(django_user_model):
    study = set_study()
    excluded = annotator(study, django_user_model, "x1")
    excluded.excluded_at = timezone.now()
    screened = annotator(study, django_user_model, "x2")
    screened.screened_out_at = timezone.now()
    assert set_next_for_annotator(participant=excluded) is None
    assert set_next_for_annotator(participant=screened) is None
    holder = annotator(study, django_user_model, "x3")
    held = set_next_for_annotator(participant=holder)
    Study.objects.filter(pk=study.pk).update(is_open=False)
    assert set_next_for_annotator(participant=holder).assignment_id == held.assignment_id  # finish it
    assert set_next_for_annotator(participant=annotator(study, django_user_model, "x4")) is None


# --- submit -----------------------------------------------------------------------------------------------


def test_a_submit_stores_the_set_judgment_and_the_comparisons_set_expansion_gives(django_user_model):
    study = set_study()
    who = annotator(study, django_user_model)
    task = set_next_for_annotator(participant=who)
    ids = [c.id for c in task.shown]
    ext = [c.external_id for c in task.shown]
    done = submit(who, task, best=ext[2], ranking=[[ext[0], ext[3]]], explanation="  clearer  ", time_taken_ms=900)
    sj = done.set_judgment
    assert done.created and done.progress.done == 1 and participant_progress(participant=who).done == 1
    assert (sj.shown, sj.best_id, sj.ranking, sj.explanation) == (ids, ids[2], [[ids[0], ids[3]]], "clearer")
    assert (sj.group_key, sj.origin, sj.assignment_id, sj.time_taken_ms) == ("party=D", "web", task.assignment_id, 900)
    expected = [as_shown(c, ids) + (c.implied,) for c in set_comparisons(ids, ids[2], [[ids[0], ids[3]]])]
    stored = [(j.candidate_a_id, j.candidate_b_id, j.choice, j.implied)
              for j in Judgment.objects.filter(set_judgment=sj).order_by("client_id")]
    assert sorted(stored) == sorted(expected) and len(stored) == 3 + 2 + 1
    assert set(Judgment.objects.values_list("origin", flat=True)) == {"set"}
    assert Assignment.objects.get(pk=task.assignment_id).status == Assignment.Status.JUDGED
    assert Slot.objects.get(assignments__pk=task.assignment_id).status == Slot.Status.DONE
    counts = {(c.pair_id, c.group_key): (c.n, c.wins) for c in PairGroupCount.objects.all()}
    assert len(counts) == 6 and all(n == 1 for n, _ in counts.values())


def test_pair_group_counts_equal_a_rebuild_from_the_stored_rows(django_user_model):
    from annotation.allocation import pair_group_counts_rebuild

    study = set_study()
    for i, party in enumerate("DRD"):
        who = annotator(study, django_user_model, f"c{i}", party=party)
        task = set_next_for_annotator(participant=who)
        submit(who, task, best=task.shown[1].external_id, ranking=[[task.shown[0].external_id]])
    live = {(c.pair_id, c.group_key): (c.n, c.wins) for c in PairGroupCount.objects.all()}
    pair_group_counts_rebuild(study=study)
    assert {(c.pair_id, c.group_key): (c.n, c.wins) for c in PairGroupCount.objects.all()} == live


def test_a_replayed_client_id_returns_the_stored_set_judgment(django_user_model):
    who = annotator(set_study(), django_user_model)
    task = set_next_for_annotator(participant=who)
    first = submit(who, task, client_id="same")
    again = submit(who, task, client_id="same", best=task.shown[3].external_id)
    assert not again.created and again.set_judgment.pk == first.set_judgment.pk and again.progress.done == 1
    assert SetJudgment.objects.count() == 1


def test_a_judged_assignment_refuses_a_second_judgment_and_a_client_id_is_ones_own(django_user_model):
    study = set_study()
    who, other = annotator(study, django_user_model), annotator(study, django_user_model, "ann-r", party="R")
    task = set_next_for_annotator(participant=who)
    submit(who, task, client_id="mine")
    with pytest.raises(Conflict) as judged:
        submit(who, task, client_id="another")
    assert judged.value.code == "already_judged"
    theirs = set_next_for_annotator(participant=other)
    with pytest.raises(Conflict) as taken:
        submit(other, theirs, client_id="mine")
    assert taken.value.code == "client_id_taken"


def test_unknown_and_foreign_assignments_are_refused(django_user_model):
    study = set_study()
    who, other = annotator(study, django_user_model), annotator(study, django_user_model, "ann-r", party="R")
    task = set_next_for_annotator(participant=who)
    with pytest.raises(NotFound):
        set_judgment_submit(user=who.user, data=SetJudgmentInput(10**9, "x", "c", []))
    with pytest.raises(Forbidden):
        submit(other, task)


def test_an_expired_lease_whose_set_is_with_someone_else_is_gone(django_user_model):
    study = set_study(prompts=1, overlap=1, group_attributes={})
    who, other = (annotator(study, django_user_model, name, party=None) for name in ("e1", "e2"))
    task = set_next_for_annotator(participant=who)
    later = timezone.now() + timedelta(minutes=study.lease_minutes + 1)
    assert set_next_for_annotator(participant=other, now=later).set_id == task.set_id
    with pytest.raises(Gone):
        submit(who, task, now=later)


def test_a_lapsed_lease_nobody_took_is_accepted(django_user_model):
    study = set_study()
    who = annotator(study, django_user_model)
    task = set_next_for_annotator(participant=who)
    assert submit(who, task, now=timezone.now() + timedelta(hours=1)).created


@pytest.mark.parametrize(("best", "ranking", "field"), [
    ("nope", [], "best"),
    (0, [["nope"]], "ranking[0]"),
    (0, [[0]], "ranking[0]"),
    (0, [[1], [1]], "ranking[1]"),
])
def test_best_and_ranking_must_be_members_of_the_set_once(django_user_model, best, ranking, field):
    who = annotator(set_study(), django_user_model)
    task = set_next_for_annotator(participant=who)

    def name(x):
        return task.shown[x].external_id if isinstance(x, int) else x

    with pytest.raises(InputError) as refused:
        submit(who, task, best=name(best), ranking=[[name(m) for m in block] for block in ranking])
    assert refused.value.field == field
    assert not SetJudgment.objects.exists() and not Judgment.objects.exists()


@pytest.mark.parametrize(("body", "field"), [
    ([], None),
    ({"assignment": "x", "best": "a", "client_id": "c"}, "assignment"),
    ({"assignment": 1, "best": 3, "client_id": "c"}, "best"),
    ({"assignment": 1, "best": "a", "client_id": "c", "ranking": "a"}, "ranking"),
    ({"assignment": 1, "best": "a", "client_id": "c", "ranking": [[]]}, "ranking[0]"),
    ({"assignment": 1, "best": "a", "client_id": "c", "ranking": [[1]]}, "ranking[0]"),
    ({"assignment": 1, "best": "a", "client_id": "c", "time_taken_ms": -1}, "time_taken_ms"),
])
def test_a_malformed_body_names_its_field(body, field):
    with pytest.raises(InputError) as refused:
        set_judgment_input(body)
    assert refused.value.field == field


@pytest.mark.parametrize(("change", "field"), [
    ({"client_id": "c" * 65}, "client_id"), ({"client_id": ""}, "client_id"),
    ({"explanation": "x" * 5001}, "explanation"), ({"explanation": "a\x00b"}, "explanation"),
    ({"best": ""}, "best"), ({"assignment_id": 2**63}, "assignment"), ({"time_taken_ms": 2**31}, "time_taken_ms"),
])
def test_bad_values_are_refused_before_anything_is_read(django_user_model, change, field):
    who = annotator(set_study(), django_user_model)
    fields = {"assignment_id": 1, "best": "a", "client_id": "c", "ranking": []} | change
    with pytest.raises(InputError) as refused:
        set_judgment_submit(user=who.user, data=SetJudgmentInput(**fields))
    assert refused.value.field == field


def test_min_view_ms_applies_to_sets(django_user_model):
    study = set_study(min_view_ms=5000)
    who = annotator(study, django_user_model)
    task = set_next_for_annotator(participant=who)
    with pytest.raises(Conflict) as early:
        submit(who, task)
    assert early.value.code == "too_soon"
    assert submit(who, task, now=timezone.now() + timedelta(seconds=6)).created


# --- renew, skip, quota, completion ----------------------------------------------------------------------


def test_renew_and_skip_work_on_set_assignments(django_user_model):
    study = set_study(prompts=2)
    who = annotator(study, django_user_model)
    task = set_next_for_annotator(participant=who)
    later = timezone.now() + timedelta(minutes=5)
    assert assignment_renew(user=who.user, assignment_id=task.assignment_id, now=later) == \
        later + timedelta(minutes=study.lease_minutes)
    skip = assignment_skip(user=who.user, assignment_id=task.assignment_id)
    assert (skip.candidate_set_id, skip.pair_id) == (task.set_id, None)
    assert Slot.objects.get(assignments__pk=task.assignment_id).status == Slot.Status.OPEN
    following = set_next_for_annotator(participant=who)
    assert following.set_id != task.set_id  # a skipped set never comes back to them
    assert Skip.objects.get().candidate_set_id == task.set_id


def test_quota_counts_set_judgments_and_completion_follows(django_user_model):
    study = set_study(quota=2)
    who = annotator(study, django_user_model)
    for _ in range(2):
        assert completion_progress(participant=who) is None
        submit(who, set_next_for_annotator(participant=who))
    assert Judgment.objects.filter(participant=who).count() == 6  # 3 comparisons each; the quota counts 2
    assert set_next_for_annotator(participant=who) is None
    assert completion_progress(participant=who).done == 2


def test_when_every_set_is_done_the_annotator_completes_below_quota(django_user_model):
    study = set_study(prompts=1)
    who = annotator(study, django_user_model)
    submit(who, set_next_for_annotator(participant=who))
    progress = completion_progress(participant=who)
    assert progress is not None and progress.done == 1 and not awaiting_pairs(participant=who)


def test_a_set_study_still_making_its_sets_answers_503(django_user_model):
    lines = study_lines(slug="prep", prompts=2, candidates=4, task="set", set_size=4, strategy="random")
    for line in lines[1:]:
        for c in line["candidates"]:
            c["text"] += f" {uuid.uuid4().hex}"  # not in the embedding cache: the import queues a job
    summary = study_import(jsonl_bytes(lines), source="prep.jsonl", on_worker=True)
    assert summary.job is not None
    who = annotator(summary.study, django_user_model)
    assert set_next_for_annotator(participant=who) is None and awaiting_pairs(participant=who)
    response = client_for(who.user).post("/api/studies/prep/next/")
    assert response.status_code == 503 and response.json()["code"] == "study_preparing"


# --- REST -------------------------------------------------------------------------------------------------


def test_the_rest_loop_for_a_set_study(django_user_model):
    study = set_study()
    who = annotator(study, django_user_model)
    api = client_for(who.user)
    task = api.post("/api/studies/sets/next/").json()
    assert list(task) == ["task", "assignment_id", "set_id", "prompt", "candidates", "lease_expires_at", "progress"]
    assert task["task"] == "set" and task["prompt"]["prompt_id"] == "p0" and len(task["candidates"]) == 4
    shown = [c["candidate_id"] for c in task["candidates"]]
    assert shown == [Candidate.objects.get(pk=pk).external_id
                     for pk in Assignment.objects.get(pk=task["assignment_id"]).shown]
    body = {"assignment": task["assignment_id"], "best": shown[1], "ranking": [[shown[3]], [shown[0]]],
            "explanation": "why", "client_id": "k1", "time_taken_ms": 1200}
    made = api.post("/api/set-judgments/", body, format="json")
    assert made.status_code == 201
    answer = made.json()
    assert list(answer) == ["id", "assignment", "best", "ranking", "explanation", "client_id", "created_at", "replay",
                            "progress"]
    assert (answer["best"], answer["ranking"], answer["replay"]) == (shown[1], [[shown[3]], [shown[0]]], False)
    assert answer["progress"] == {"done": 1, "quota": 20}
    replay = api.post("/api/set-judgments/", body, format="json")
    assert replay.status_code == 200 and replay.json()["replay"] and replay.json()["id"] == answer["id"]
    conflict = api.post("/api/set-judgments/", body | {"client_id": "k2"}, format="json")
    assert conflict.status_code == 409 and conflict.json()["code"] == "already_judged"
    assert api.post("/api/set-judgments/", {"assignment": 1}, format="json").status_code == 400


def test_a_pair_judgment_on_a_set_assignment_and_a_set_judgment_on_a_pair_one_are_400(django_user_model, study,
                                                                                       annotator_d):
    sets = set_study()
    who = annotator(sets, django_user_model, "set-ann")
    set_task = set_next_for_annotator(participant=who)
    wrong = client_for(who.user).post("/api/judgments/", {"assignment": set_task.assignment_id, "choice": "A",
                                                          "client_id": "w1"}, format="json")
    assert wrong.status_code == 400 and "/api/set-judgments/" in wrong.json()["detail"]
    pair_task = pair_next_for_annotator(participant=annotator_d)
    also = client_for(annotator_d.user).post("/api/set-judgments/", {"assignment": pair_task.assignment_id,
                                                                     "best": "p0c0", "client_id": "w2"}, format="json")
    assert also.status_code == 400 and "/api/judgments/" in also.json()["detail"]
    assert not Judgment.objects.exists() and not SetJudgment.objects.exists()


def test_a_pair_studys_next_answer_is_unchanged(study, annotator_d):
    answer = client_for(annotator_d.user).post("/api/studies/s1/next/").json()
    assert list(answer) == ["assignment_id", "prompt", "a", "b", "lease_expires_at", "progress"]


def test_asking_a_set_study_for_a_pair_finds_none_while_a_set_is_leased(django_user_model):
    who = annotator(set_study(), django_user_model)
    assert set_next_for_annotator(participant=who) is not None
    assert pair_next_for_annotator(participant=who) is None
