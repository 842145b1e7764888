"""32 annotators at once: no pair past k, no duplicate and no lost judgment (PostgreSQL in CI, SQLite locally)."""

import threading
import uuid
from collections import Counter

import pytest
from django.db import connection, connections
from django.db.models import Count

from annotation.assignment import pair_next_for_annotator
from annotation.judgments import JudgmentInput, judgment_submit
from annotation.models import Judgment, Slot
from tests.factories import make_participant, make_study, require

THREADS = 32


def _annotate_until_empty(participant, results: list, errors: list, barrier: threading.Barrier) -> None:
    created = replays = 0
    try:
        barrier.wait()
        while (assignment := pair_next_for_annotator(participant=participant)) is not None:
            data = JudgmentInput(assignment_id=assignment.assignment_id, choice="A", client_id=uuid.uuid4().hex)
            fresh = judgment_submit(user=participant.user, data=data).created
            created += fresh
            if created % 3 == 0:  # a client that retries must not create a second judgment
                again = judgment_submit(user=participant.user, data=data).created
                replays += not again
        results.append((created, replays))
    except Exception as exc:  # surfaced by the assertion below, with its thread's participant
        errors.append(f"{participant.external_id}: {exc!r}")
    finally:
        connections.close_all()


def _run_annotators(participants) -> tuple[list, list]:
    results: list = []
    errors: list = []
    barrier = threading.Barrier(len(participants))
    threads = [threading.Thread(target=_annotate_until_empty, args=(p, results, errors, barrier)) for p in participants]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return results, errors


def _assert_balanced_and_complete(results, errors, *, pairs: int, overlap: int, cap: int) -> None:
    assert not errors
    assert len(results) == THREADS
    created = sum(c for c, _ in results)
    assert created == Judgment.objects.count() == pairs * overlap
    per_pair = Counter(Judgment.objects.values_list("pair_id", flat=True))
    assert max(per_pair.values()) == overlap
    per_pair_group = Judgment.objects.values("pair_id", "group_key").annotate(n=Count("id"))
    assert max(row["n"] for row in per_pair_group) <= cap
    assert not Judgment.objects.values("participant_id", "pair_id").annotate(n=Count("id")).filter(n__gt=1).exists()
    assert set(Slot.objects.values_list("status", flat=True)) == {Slot.Status.DONE}
    assert sum(r for _, r in results) > 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_annotators_never_exceed_k_and_lose_nothing(django_user_model):
    if require("PLURALWEB_REQUIRE_POSTGRES"):
        assert connection.vendor == "postgresql", "CI must run the concurrency test on PostgreSQL"
    study = make_study(slug="busy", prompts=8, candidates=4, overlap=3, quota=1000)  # 48 pairs, 144 judgments
    participants = [
        make_participant(study, django_user_model.objects.create_user(f"t{i}"), party="DR"[i % 2])
        for i in range(THREADS)
    ]
    results, errors = _run_annotators(participants)
    _assert_balanced_and_complete(results, errors, pairs=48, overlap=3, cap=2)  # cap ceil(3 / 2)


@pytest.mark.django_db(transaction=True)
def test_concurrent_annotators_of_one_group_race_for_open_slots_without_breaking_the_cap(django_user_model):
    # k = 5 over 3 groups: each pair has one slot per group and two open ones, so annotators of the same
    # group race for a pair's open slots and the loser must move on (the unique index refuses it).
    study = make_study(slug="race", prompts=8, candidates=4, overlap=5, quota=1000,
                       group_attributes={"region": ["N", "S", "W"]})
    participants = [
        make_participant(study, django_user_model.objects.create_user(f"r{i}"), party=None, region="NSW"[i % 3])
        for i in range(THREADS)
    ]
    results, errors = _run_annotators(participants)
    _assert_balanced_and_complete(results, errors, pairs=48, overlap=5, cap=2)  # cap ceil(5 / 3)


@pytest.mark.django_db(transaction=True)
def test_concurrent_annotators_under_adaptive_allocation_stay_within_k_max_and_group_caps(django_user_model):
    # Adaptive: k = 3, k_max = 7 over 3 groups (2 slots per group, one open), priorities moving under the
    # annotators' feet and pairs closing as they become precise; nothing is lost or counted twice.
    from annotation.models import PairGroupCount
    from tests.annotation.test_allocation import _counts_by_group_by

    study = make_study(slug="adaptive-busy", prompts=8, candidates=4, overlap=3, quota=1000, k_max=7,
                       allocation="adaptive", k_min=1, precision=0.3, group_attributes={"region": ["N", "S", "W"]})
    participants = [
        make_participant(study, django_user_model.objects.create_user(f"a{i}"), party=None, region="NSW"[i % 3])
        for i in range(THREADS)
    ]
    results, errors = _run_annotators(participants)
    assert not errors
    created = sum(c for c, _ in results)
    assert created == Judgment.objects.count()
    per_pair = Counter(Judgment.objects.values_list("pair_id", flat=True))
    assert len(per_pair) == 48 and max(per_pair.values()) <= 7
    per_pair_group = Judgment.objects.values("pair_id", "group_key").annotate(n=Count("id"))
    assert max(row["n"] for row in per_pair_group) <= 3  # ceil(7 / 3)
    assert not Judgment.objects.values("participant_id", "pair_id").annotate(n=Count("id")).filter(n__gt=1).exists()
    statuses = Counter(Slot.objects.values_list("status", flat=True))
    assert set(statuses) <= {Slot.Status.DONE, Slot.Status.CLOSED} and statuses[Slot.Status.CLOSED] > 0
    assert created < 48 * 7  # some pairs stopped early
    assert {(c.pair_id, c.group_key): (c.n, c.wins) for c in PairGroupCount.objects.filter(n__gt=0)} == \
        _counts_by_group_by()
