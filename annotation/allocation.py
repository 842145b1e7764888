"""Adaptive allocation in the database: per-(pair, group) counts and the slot priorities `next` orders by.

The rule is annotation/allocation_rule.py. Under `adaptive` a pair is made with k_max slots (split across
groups like k, annotation/groups.py), so balance and the k_max ceiling are the slot machinery's as for
uniform; each open slot carries a priority, 1 + the gain of its group (an open-to-any slot: the largest
gain), and `next` takes the largest priority first. After each judgment of a pair, submit recounts the pair
and re-prices its open slots, closing them once the pair is precise. On PostgreSQL submit does this inside
pluralweb_judgment_submit (annotation/loop_sql/pair_allocate.v1.sql); SQLite runs the functions below.
"""

from django.db import transaction

from annotation.allocation_rule import AllocationRule, GroupCount, gain, is_precise
from annotation.groups import all_group_keys
from annotation.models import PairGroupCount, Slot, Study
from annotation.plain_sql import Statements, statements

# Preference judgments only (both_bad carries none); wins for the pair's own candidate A, a tie half.
_WIN_SQL = ("CASE WHEN j.choice = 'tie' THEN 0.5 "
            "WHEN (j.choice = 'A') = (j.candidate_a_id = p.candidate_a_id) THEN 1.0 ELSE 0.0 END")

_COUNT_UPSERT_SQL = """
INSERT INTO annotation_pairgroupcount (pair_id, study_id, group_key, n, wins) VALUES (%s, %s, %s, 1, %s)
ON CONFLICT (pair_id, group_key) DO UPDATE
SET n = annotation_pairgroupcount.n + 1, wins = annotation_pairgroupcount.wins + excluded.wins"""

_COUNTS_OF_STUDY_SQL = f"""
INSERT INTO annotation_pairgroupcount (pair_id, study_id, group_key, n, wins)
SELECT j.pair_id, %s, j.group_key, count(*), sum({_WIN_SQL})
FROM annotation_judgment j JOIN annotation_pair p ON p.id = j.pair_id JOIN annotation_prompt pr ON pr.id = p.prompt_id
WHERE pr.study_id = %s AND j.choice IN ('A', 'B', 'tie')
GROUP BY j.pair_id, j.group_key"""


def allocation_rule(study: Study) -> AllocationRule:
    return AllocationRule(k_min=study.k_min, precision=study.precision)


def study_group_keys(study: Study) -> list[str]:
    """The groups a pair's counts are kept for: every combination of the study's attributes ("" without any)."""
    return all_group_keys(study.group_attributes) if study.group_attributes else [""]


def pair_win(choice: str, shown_left_id: int, pair_a_id: int) -> float:
    """What one judgment adds to `wins`: 1 when it prefers the pair's own candidate A, a tie half."""
    if choice == "tie":
        return 0.5
    return 1.0 if (choice == "A") == (shown_left_id == pair_a_id) else 0.0


def pair_counts_record(sql: Statements, *, pair_id: int, study_id: int, group_key: str, win: float) -> None:
    """One more judgment of the pair by the group (SQLite's submit; PostgreSQL's runs the same statement)."""
    sql.run(_COUNT_UPSERT_SQL, [pair_id, study_id, group_key, win])


def pair_counts_record_many(sql: Statements, *, study_id: int, group_key: str, wins: list[tuple[int, float]]) -> None:
    """One more judgment by the group of each (pair id, win), in one statement: a set judgment's comparisons.
    In pair order, so that two submits touching the same pairs lock their rows in the same order."""
    if not wins:
        return
    ordered = sorted(wins)
    values = ", ".join(["(%s, %s, %s, 1, %s)"] * len(ordered))
    head, _, tail = _COUNT_UPSERT_SQL.partition("VALUES (%s, %s, %s, 1, %s)")
    sql.run(head + "VALUES " + values + tail,
            [value for pair_id, win in ordered for value in (pair_id, study_id, group_key, win)])


def pair_allocate(sql: Statements, *, study_id: int, pair_id: int, rule: AllocationRule) -> None:
    """Re-price the pair's open slots from its counts; close them once the pair is precise."""
    rows = sql.all(
        "SELECT group_key, n, wins FROM annotation_pairgroupcount WHERE pair_id = %s ORDER BY group_key", [pair_id]
    )
    if not rows:
        return
    keys = [key for key, _, _ in rows]
    counts = [GroupCount(float(n), float(wins)) for _, n, wins in rows]
    gains = {key: gain(counts, g) for g, key in enumerate(keys)}
    best = max(gains.values())
    closed = is_precise(counts, rule)
    for slot_id, group in sql.all(
        "SELECT id, group_key FROM annotation_slot WHERE study_id = %s AND pair_id = %s AND status = 'open'"
        " AND priority > 0", [study_id, pair_id],
    ):
        priority = 1.0 + (best if group == "" else gains.get(group, best))
        sql.run("UPDATE annotation_slot SET priority = %s, status = %s WHERE id = %s",
                [priority, Slot.Status.CLOSED if closed else Slot.Status.OPEN, slot_id])


def slot_priority_at_start(study: Study) -> float:
    """A new slot's priority: the prior's gain (the largest there is) under adaptive, 0 (none) under uniform."""
    if study.allocation != Study.Allocation.ADAPTIVE:
        return 0.0
    return 1.0 + gain([GroupCount(0.0, 0.0)] * len(study_group_keys(study)), 0)


def pairs_allocation_start(*, study: Study, pair_ids: list[int]) -> None:
    """New pairs of an adaptive study: a zero count for every group, so the rule sees every group."""
    if study.allocation != Study.Allocation.ADAPTIVE or not pair_ids:
        return
    keys = study_group_keys(study)
    PairGroupCount.objects.bulk_create(
        (PairGroupCount(pair_id=pair_id, study=study, group_key=key) for pair_id in pair_ids for key in keys),
        ignore_conflicts=True,
    )


@transaction.atomic
def pair_group_counts_rebuild(*, study: Study) -> int:
    """Recount the study's pairs from its judgments (after an import, or a change of allocation) and, under
    adaptive, re-price every open slot; returns the number of count rows."""
    PairGroupCount.objects.filter(study=study).delete()
    with statements() as sql:
        sql.run(_COUNTS_OF_STUDY_SQL, [study.pk, study.pk])
        if study.allocation == Study.Allocation.ADAPTIVE:
            pair_ids = list(Slot.objects.filter(study=study, status=Slot.Status.OPEN)
                            .values_list("pair_id", flat=True).distinct())
            pairs_allocation_start(study=study, pair_ids=pair_ids)
            # Slots made under uniform had no priority: price them all, then from the counts.
            Slot.objects.filter(study=study, status=Slot.Status.OPEN).update(priority=slot_priority_at_start(study))
            rule = allocation_rule(study)
            for pair_id in pair_ids:
                pair_allocate(sql, study_id=study.pk, pair_id=pair_id, rule=rule)
    return PairGroupCount.objects.filter(study=study).count()
