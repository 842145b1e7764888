from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.assignment import assignments_expire, pair_next_for_annotator
from annotation.judgments import JudgmentInput, judgment_submit
from annotation.models import Assignment, Judgment, Pair, Slot
from tests.factories import make_participant, make_study

pytestmark = pytest.mark.django_db


def judge(participant, task, choice="A"):
    return judgment_submit(
        user=participant.user,
        data=JudgmentInput(assignment_id=task.assignment_id, choice=choice, client_id=f"c-{task.assignment_id}"),
    ).judgment


def work_until_empty(participant):
    judged = []
    while (assignment := pair_next_for_annotator(participant=participant)) is not None:
        judge(participant, assignment)
        judged.append(assignment.pair_id)
    return judged


def test_a_pair_is_never_given_to_an_annotator_who_already_judged_it(study, annotator_d):
    judged = work_until_empty(annotator_d)
    assert len(judged) == Pair.objects.count() == 9
    assert len(set(judged)) == len(judged)


def test_next_returns_the_current_lease_until_it_is_judged(study, annotator_d):
    first = pair_next_for_annotator(participant=annotator_d)
    again = pair_next_for_annotator(participant=annotator_d)
    assert first.assignment_id == again.assignment_id
    judge(annotator_d, first)
    assert pair_next_for_annotator(participant=annotator_d).assignment_id != first.assignment_id


def test_no_pair_gets_more_than_k_judgments(django_user_model, db):
    study = make_study(prompts=1, candidates=2, overlap=3, group_attributes={})
    participants = [make_participant(study, django_user_model.objects.create_user(f"u{i}")) for i in range(5)]
    served = [p for p in participants if (a := pair_next_for_annotator(participant=p)) and judge(p, a)]
    assert len(served) == 3
    assert Judgment.objects.count() == 3


def test_a_group_gets_at_most_ceil_k_over_g_judgments_of_a_pair(django_user_model, db):
    study = make_study(prompts=1, candidates=2, overlap=3)  # G = 2 -> cap 2 per group
    d_side = [make_participant(study, django_user_model.objects.create_user(f"d{i}"), party="D") for i in range(4)]
    r_side = make_participant(study, django_user_model.objects.create_user("r0"), party="R")
    for participant in d_side:
        if (assignment := pair_next_for_annotator(participant=participant)) is not None:
            judge(participant, assignment)
    assert Counter(Judgment.objects.values_list("group_key", flat=True)) == {"party=D": 2}
    # The third judgment is kept for group R.
    assert pair_next_for_annotator(participant=r_side) is not None


def test_balance_holds_when_the_remainder_leaves_several_open_slots(django_user_model, db):
    # k = 5 over G = 3 groups: one slot per group plus two open ones; cap ceil(5/3) = 2.
    study = make_study(prompts=1, candidates=2, overlap=5, group_attributes={"region": ["N", "S", "W"]})
    north = [make_participant(study, django_user_model.objects.create_user(f"n{i}"), party=None, region="N")
             for i in range(4)]
    for participant in north:
        if (assignment := pair_next_for_annotator(participant=participant)) is not None:
            judge(participant, assignment)
    assert Judgment.objects.filter(group_key="region=N").count() == 2
    assert Slot.objects.filter(status=Slot.Status.OPEN).count() == 3


def test_an_expired_lease_returns_the_pair_to_the_pool(django_user_model, db):
    study = make_study(prompts=1, candidates=2, overlap=1, group_attributes={})
    first = make_participant(study, django_user_model.objects.create_user("first"))
    second = make_participant(study, django_user_model.objects.create_user("second"))
    lease = pair_next_for_annotator(participant=first)
    assert pair_next_for_annotator(participant=second) is None
    later = timezone.now() + timedelta(minutes=study.lease_minutes + 1)
    taken = pair_next_for_annotator(participant=second, now=later)
    assert taken is not None and taken.pair_id == lease.pair_id
    assert Assignment.objects.get(pk=lease.assignment_id).status == Assignment.Status.EXPIRED


def test_the_sweep_expires_leases_and_reopens_their_slots(study, annotator_d):
    lease = pair_next_for_annotator(participant=annotator_d)
    assert assignments_expire(now=timezone.now()) == 0
    assert assignments_expire(now=lease.expires_at + timedelta(seconds=1)) == 1
    assert Slot.objects.get(pk=lease.slot_id).status == Slot.Status.OPEN


def test_next_returns_nothing_once_the_quota_is_met(db, django_user_model):
    study = make_study(quota=2)
    participant = make_participant(study, django_user_model.objects.create_user("q"))
    assert len(work_until_empty(participant)) == 2


def test_nearly_finished_pairs_are_served_first(study, annotator_d, annotator_r):
    first = pair_next_for_annotator(participant=annotator_d)
    assert pair_next_for_annotator(participant=annotator_r).pair_id == first.pair_id


def test_strict_balance_keeps_a_groups_slot_for_it(django_user_model, db):
    study = make_study(prompts=1, candidates=2, overlap=2)  # one slot for D, one for R
    d_side = [make_participant(study, django_user_model.objects.create_user(f"d{i}"), party="D") for i in range(2)]
    judge(d_side[0], pair_next_for_annotator(participant=d_side[0]))
    assert pair_next_for_annotator(participant=d_side[1]) is None


def test_with_open_slots_after_a_groups_unfilled_slot_opens_to_others_after_the_wait(django_user_model, db):
    study = make_study(prompts=1, candidates=2, overlap=2, open_slots_after=30)
    d_side = [make_participant(study, django_user_model.objects.create_user(f"d{i}"), party="D") for i in range(2)]
    judge(d_side[0], pair_next_for_annotator(participant=d_side[0]))
    assert pair_next_for_annotator(participant=d_side[1]) is None  # still within the wait
    later = timezone.now() + timedelta(minutes=31)
    lease = pair_next_for_annotator(participant=d_side[1], now=later)
    assert lease is not None and Slot.objects.get(pk=lease.slot_id).group_key == "party=R"
