"""32 annotators judging sets at once: no set past k, no group past its cap, nothing lost or counted twice
(PostgreSQL in CI, SQLite locally); the pair loop's test (test_concurrency.py) for the set-task loop."""

import threading
import uuid
from collections import Counter

import pytest
from django.db import connection, connections
from django.db.models import Count

from annotation.models import Judgment, PairGroupCount, SetJudgment, Slot
from annotation.set_assignment import set_next_for_annotator
from annotation.set_submit import SetJudgmentInput, set_judgment_submit
from tests.annotation.test_allocation import _counts_by_group_by
from tests.factories import make_participant, make_study, require

THREADS = 32


def _judge_sets_until_empty(participant, results: list, errors: list, barrier: threading.Barrier) -> None:
    created = replays = 0
    try:
        barrier.wait()
        while (task := set_next_for_annotator(participant=participant)) is not None:
            members = [c.external_id for c in task.shown]
            data = SetJudgmentInput(assignment_id=task.assignment_id, best=members[-1], ranking=[members[:1]],
                                    client_id=uuid.uuid4().hex)
            created += set_judgment_submit(user=participant.user, data=data).created
            # A client that retries must not create a second set judgment. Each thread retries its first one: with
            # 48 set judgments over 32 threads, "every third" left some runs with no thread reaching a third.
            if created == 1:
                replays += not set_judgment_submit(user=participant.user, data=data).created
        results.append((created, replays))
    except Exception as exc:  # surfaced by the assertion below, with its thread's participant
        errors.append(f"{participant.external_id}: {exc!r}")
    finally:
        connections.close_all()


def _run(participants) -> tuple[list, list]:
    results: list = []
    errors: list = []
    barrier = threading.Barrier(len(participants))
    threads = [threading.Thread(target=_judge_sets_until_empty, args=(p, results, errors, barrier))
               for p in participants]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return results, errors


def _assert_balanced_and_complete(results, errors, *, sets: int, overlap: int, cap: int) -> None:
    assert not errors
    assert len(results) == THREADS
    created = sum(c for c, _ in results)
    assert created == SetJudgment.objects.count() == sets * overlap
    per_set = Counter(SetJudgment.objects.values_list("candidate_set_id", flat=True))
    assert len(per_set) == sets and max(per_set.values()) == overlap
    per_set_group = SetJudgment.objects.values("candidate_set_id", "group_key").annotate(n=Count("id"))
    assert max(row["n"] for row in per_set_group) <= cap
    # Each set judgment of 4 with best and one ranked: 3 + 2 comparisons, none twice for one annotator.
    assert Judgment.objects.count() == 5 * created
    assert not Judgment.objects.values("participant_id", "pair_id").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert set(Slot.objects.values_list("status", flat=True)) == {Slot.Status.DONE}
    assert {(c.pair_id, c.group_key): (c.n, c.wins) for c in PairGroupCount.objects.filter(n__gt=0)} == \
        _counts_by_group_by()
    assert sum(r for _, r in results) > 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_set_annotators_never_exceed_k_and_lose_nothing(django_user_model):
    if require("PLURALWEB_REQUIRE_POSTGRES"):
        assert connection.vendor == "postgresql", "CI must run the concurrency test on PostgreSQL"
    study = make_study(slug="busy-sets", prompts=16, candidates=4, overlap=3, quota=1000, task="set", set_size=4,
                       strategy="random")  # 16 sets, 48 set judgments
    participants = [
        make_participant(study, django_user_model.objects.create_user(f"t{i}"), party="DR"[i % 2])
        for i in range(THREADS)
    ]
    results, errors = _run(participants)
    _assert_balanced_and_complete(results, errors, sets=16, overlap=3, cap=2)  # cap ceil(3 / 2)


@pytest.mark.django_db(transaction=True)
def test_concurrent_set_annotators_of_one_group_race_for_open_slots_without_breaking_the_cap(django_user_model):
    # k = 5 over 3 groups: one slot per group and two open ones per set, raced for by annotators of a group.
    study = make_study(slug="race-sets", prompts=16, candidates=4, overlap=5, quota=1000, task="set", set_size=4,
                       strategy="random", group_attributes={"region": ["N", "S", "W"]})
    participants = [
        make_participant(study, django_user_model.objects.create_user(f"r{i}"), party=None, region="NSW"[i % 3])
        for i in range(THREADS)
    ]
    results, errors = _run(participants)
    _assert_balanced_and_complete(results, errors, sets=16, overlap=5, cap=2)  # cap ceil(5 / 3)
