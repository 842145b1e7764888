"""Handing pairs to annotators: balanced across groups, leased, safe under concurrency.

`next` locks one open slot with SELECT ... FOR UPDATE SKIP LOCKED (PostgreSQL) so concurrent
annotators never wait on each other; on SQLite every write transaction is IMMEDIATE, which
serialises them instead. See DESIGN.md section 3.

`next` is the hottest call of the product (every annotator, every few seconds), so it speaks SQL
in one round trip on PostgreSQL: a server-side function (migration 0008) that runs the rules written out
below, which SQLite runs statement by statement (annotation/plain_sql.py).
"""

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from annotation.gold_serving import gold_due, gold_lease
from annotation.groups import slot_groups
from annotation.models import Assignment, Participant, Slot, Study
from annotation.plain_sql import (
    Statements,
    aware,
    db_time,
    for_update,
    json_value,
    single_statement_transaction,
    statements,
)

_MAX_CLAIM_ATTEMPTS = 8


@dataclass(frozen=True)
class Progress:
    done: int
    quota: int

    @property
    def finished(self) -> bool:
        return self.done >= self.quota


@dataclass(frozen=True)
class ShownCandidate:
    id: int
    external_id: str
    text: str


@dataclass(frozen=True)
class ShownPrompt:
    id: int
    external_id: str
    turns: list


@dataclass(frozen=True)
class Task:
    """A leased pair as the annotator sees it: `left` and `right` already in the order shown."""

    assignment_id: int
    pair_id: int
    slot_id: int
    prompt: ShownPrompt
    left: ShownCandidate
    right: ShownCandidate
    expires_at: datetime
    progress: Progress


def judgments_done(sql: Statements, participant_id: int) -> int:
    (done,) = sql.one("SELECT count(*) FROM annotation_judgment WHERE participant_id = %s", [participant_id])
    return done


def set_judgments_done(sql: Statements, participant_id: int) -> int:
    """A set study's progress counts set judgments, not the pairwise rows they expand into."""
    (done,) = sql.one("SELECT count(*) FROM annotation_setjudgment WHERE participant_id = %s", [participant_id])
    return done


def participant_progress(*, participant: Participant) -> Progress:
    counted = set_judgments_done if participant.study.task == Study.Task.SET else judgments_done
    with statements() as sql:
        done = counted(sql, participant.pk)
    return Progress(done=done, quota=participant.study.quota)


def assignment_expire(assignment: Assignment) -> None:
    """End a lapsed lease and reopen its slot (unless someone has since re-leased it)."""
    assignment.status = Assignment.Status.EXPIRED
    assignment.save(update_fields=["status"])
    Slot.objects.filter(pk=assignment.slot_id, status=Slot.Status.LEASED).update(
        status=Slot.Status.OPEN, lease_expires_at=None, open_group=""
    )


def lapsed_leases_expire(participant_id: int, now: datetime) -> None:
    """End the participant's lapsed leases, reopening their slots: `next` does it before leasing anew."""
    for assignment in Assignment.objects.filter(
        participant_id=participant_id, status=Assignment.Status.ACTIVE, expires_at__lte=now
    ):
        assignment_expire(assignment)


# One row: the participant (locked, so one annotator's concurrent calls, e.g. two tabs, queue up
# without touching anyone else), how many judgments they made, their live lease and lapsed ones.
# The study's settings are read here, not taken from the caller's Participant, which may be a cached one.
_STATE_SQL = """
SELECT
  pa.group_key, st.id, st.quota, st.lease_minutes, st.open_slots_after, st.is_open, st.allocation,
  (SELECT count(*) FROM annotation_judgment WHERE participant_id = pa.id),
  (SELECT min(id) FROM annotation_assignment
    WHERE participant_id = pa.id AND status = 'active' AND expires_at > %s),
  (SELECT count(*) FROM annotation_assignment
    WHERE participant_id = pa.id AND status = 'active' AND expires_at <= %s)
FROM annotation_participant pa JOIN annotation_study st ON st.id = pa.study_id WHERE pa.id = %s"""


@dataclass(frozen=True)
class Claimant:
    """Who asks, with their study's settings as the database has them now."""

    participant_id: int
    group_key: str
    study_id: int
    lease_minutes: int
    open_slots_after: int | None
    group_cap: bool
    adaptive: bool = False


# Claimable: open, or leased with a lapsed lease; for the participant's group or open to any group;
# not a pair the participant holds or judged (NOT IN over their short indexed list beats a correlated
# NOT EXISTS evaluated for every slot). Lowest pair first, so pairs fill up and finish; within a pair
# the group's own slot before an open one.
_CLAIMABLE_SQL = """
SELECT s.id, s.pair_id, s.group_key, s.status FROM annotation_slot s
WHERE s.study_id = %s AND s.status IN ('open', 'leased')
  AND (s.status = 'open' OR s.lease_expires_at < %s)
  AND ({groups})
  AND s.pair_id NOT IN (
    SELECT pair_id FROM annotation_assignment WHERE participant_id = %s AND status <> 'expired')
  {cap}
  {skipped}
ORDER BY {order}
LIMIT 1"""
_UNIFORM_ORDER = "s.pair_id, s.group_key DESC, s.id"
# Adaptive allocation: the largest priority first (annotation/allocation.py), through slot_claimable_priority_idx.
_ADAPTIVE_ORDER = "s.priority DESC, s.pair_id, s.group_key DESC, s.id"

# Not an open slot of a pair where the group already holds its one open slot. Only pairs with two or
# more open slots (k mod G >= 2) can offer one; elsewhere the clause would cost a scan and find nothing.
# The unique index slot_one_open_per_group is the guarantee either way.
_GROUP_CAP_SQL = """AND NOT (s.group_key = '' AND EXISTS (
    SELECT 1 FROM annotation_slot o WHERE o.pair_id = s.pair_id AND o.open_group = %s))"""

_TASK_SQL = """
SELECT a.id, a.pair_id, a.slot_id, a.swapped, a.expires_at,
       pr.id, pr.external_id, pr.turns,
       ca.id, ca.external_id, ca.text, cb.id, cb.external_id, cb.text
FROM annotation_assignment a
JOIN annotation_pair p ON p.id = a.pair_id
JOIN annotation_prompt pr ON pr.id = p.prompt_id
JOIN annotation_candidate ca ON ca.id = p.candidate_a_id
JOIN annotation_candidate cb ON cb.id = p.candidate_b_id
WHERE a.id = %s"""


def _needs_group_cap(participant: Participant) -> bool:
    """Whether `next` must check the per-group cap on open slots: only when the participant has a group
    and a pair has two or more open slots (k mod G >= 2); see _GROUP_CAP_SQL."""
    study = participant.study
    return bool(participant.group_key) and slot_groups(study.slots_per_pair, study.group_attributes).count("") >= 2


def _claimable_slot(sql: Statements, claimant: Claimant, now: datetime, skipped: list[int]) -> tuple | None:
    groups, params = "s.group_key IN (%s, '')", [claimant.study_id, db_time(now), claimant.group_key]
    if claimant.open_slots_after is not None:
        # Crowd liveness: a slot kept for a group that has not come opens to anyone after the wait.
        groups += " OR EXISTS (SELECT 1 FROM annotation_pair p WHERE p.id = s.pair_id AND p.created_at <= %s)"
        params.append(db_time(now - timedelta(minutes=claimant.open_slots_after)))
    params.append(claimant.participant_id)
    cap = ""
    if claimant.group_cap:
        cap = _GROUP_CAP_SQL
        params.append(claimant.group_key)
    skip = ""
    if skipped:
        skip = f"AND s.id NOT IN ({', '.join(['%s'] * len(skipped))})"
        params.extend(skipped)
    if claimant.adaptive:
        skip += " AND s.priority > 0"
    order = _ADAPTIVE_ORDER if claimant.adaptive else _UNIFORM_ORDER
    query = _CLAIMABLE_SQL.format(groups=groups, cap=cap, skipped=skip, order=order) + for_update("s", skip_locked=True)
    return sql.one(query, params)


def slot_lease(sql: Statements, slot: tuple, claimant: Claimant, now: datetime) -> datetime:
    """Lease the locked slot (id, task id, group, status, ...) to the claimant; returns the lease's end. An open
    slot records the claimant's group in open_group, where the one-open-slot-per-group index may refuse it."""
    slot_id, _, slot_group, status = slot[:4]
    if status == Slot.Status.LEASED:  # an expired lease: its holder loses it
        sql.run("UPDATE annotation_assignment SET status = 'expired' WHERE slot_id = %s AND status = 'active'",
                [slot_id])
    expires_at = now + timedelta(minutes=claimant.lease_minutes)
    open_group = claimant.group_key if slot_group == "" else ""
    sql.run(
        "UPDATE annotation_slot SET status = 'leased', lease_expires_at = %s, open_group = %s WHERE id = %s",
        [db_time(expires_at), open_group, slot_id],
    )
    return expires_at


def _claim(sql: Statements, slot: tuple, claimant: Claimant, now: datetime) -> int:
    slot_id, pair_id = slot[:2]
    expires_at = slot_lease(sql, slot, claimant, now)
    return sql.one(_INSERT_ASSIGNMENT_SQL, [
        slot_id, pair_id, claimant.participant_id, claimant.participant_id, pair_id, random.random() < 0.5,
        db_time(now), db_time(expires_at),
    ])[0]


# A pair the participant held before comes back with the sides they saw, never swapped.
_INSERT_ASSIGNMENT_SQL = """
INSERT INTO annotation_assignment (slot_id, pair_id, participant_id, swapped, status, created_at, expires_at)
VALUES (%s, %s, %s, COALESCE((SELECT x.swapped FROM annotation_assignment x
                              WHERE x.participant_id = %s AND x.pair_id = %s ORDER BY x.id DESC LIMIT 1), %s),
        'active', %s, %s) RETURNING id"""


def claim_with_retries(sql: Statements, claimant: Claimant, now: datetime,
                       claimable: Callable[[Statements, Claimant, datetime, list[int]], tuple | None] = _claimable_slot,
                       claim: Callable[[Statements, tuple, Claimant, datetime], int] = _claim) -> int | None:
    """Lease a claimable slot (pair slots by default; set slots: annotation/set_assignment.py); its assignment
    id, or None when nothing is claimable. Rows are (slot id, task id, slot group, status, ...)."""
    skipped: list[int] = []
    for _ in range(_MAX_CLAIM_ATTEMPTS):
        slot = claimable(sql, claimant, now, skipped)
        if slot is None:
            return None
        if slot[2] != "":
            # A group's own slot: the row lock is all it needs, no unique index can object.
            return claim(sql, slot, claimant, now)
        try:
            with transaction.atomic():  # a savepoint: the race below must not abort the whole call
                return claim(sql, slot, claimant, now)
        except IntegrityError:
            # Another annotator of the same group took this pair's open slot a moment ago.
            skipped.append(slot[0])
    return None


def pair_next_for_annotator(*, participant: Participant, now: datetime | None = None) -> Task | None:
    """The participant's current lease, or a newly leased pair; None at quota, when nothing is left,
    or when the study is closed (a live lease is still returned so that it can be finished). Excluded and
    screened-out participants get nothing. At the study's gold_rate the new pair is a gold item."""
    now = now or timezone.now()
    if participant.excluded_at is not None or participant.screened_out_at is not None:
        return None
    if gold_due(participant.study.gold_rate):
        task = _gold_next(participant, now)
        if task is not None:
            return task
    if connection.vendor == "postgresql":
        return _pair_next_in_database(participant, now)
    return _pair_next(participant, now)


def _gold_next(participant: Participant, now: datetime) -> Task | None:
    """A gold item (annotation/gold_serving.py), or None: the ordinary `next` answers instead."""
    if connection.vendor == "postgresql":
        with single_statement_transaction(), statements() as sql:
            row = sql.one("SELECT * FROM pluralweb_gold_next(%s, %s)", [participant.pk, now])
        return None if row is None else _task_of(row[2:], Progress(done=row[0], quota=row[1]))
    leased = gold_lease(participant_id=participant.pk, now=now)
    if leased is None:
        return None
    assignment_id, done, quota = leased
    with statements() as sql:
        return _task_of(sql.one(_TASK_SQL, [assignment_id]), Progress(done=done, quota=quota))


def _pair_next_in_database(participant: Participant, now: datetime) -> Task | None:
    # One call, its own transaction: the server-side function (migration 0008) runs the rules below.
    with single_statement_transaction(), statements() as sql:
        row = sql.one("SELECT * FROM pluralweb_pair_next(%s, %s, %s)",
                      [participant.pk, now, _needs_group_cap(participant)])
    if row is None:
        return None
    return _task_of(row[2:], Progress(done=row[0], quota=row[1]))


@transaction.atomic
def _pair_next(participant: Participant, now: datetime) -> Task | None:
    with statements() as sql:
        row = sql.one(_STATE_SQL + for_update("pa"), [db_time(now), db_time(now), participant.pk])
        if row is None:
            return None
        group, study_id, quota, lease_minutes, open_slots_after, is_open, allocation, done, live_id, lapsed = row
        if lapsed:
            lapsed_leases_expire(participant.pk, now)
        progress = Progress(done=done, quota=quota)
        if live_id is None:
            if progress.finished or not is_open:
                return None
            claimant = Claimant(
                participant.pk, group, study_id, lease_minutes, open_slots_after,
                group_cap=_needs_group_cap(participant), adaptive=allocation == Study.Allocation.ADAPTIVE,
            )
            live_id = claim_with_retries(sql, claimant, now)
            if live_id is None:
                return None
        row = sql.one(_TASK_SQL, [live_id])
        # None: the live lease is a set's (a set study's page asked for a pair), as the PostgreSQL function answers.
        return None if row is None else _task_of(row, progress)


def _task_of(row: tuple, progress: Progress) -> Task:
    (assignment_id, pair_id, slot_id, swapped, expires_at, prompt_id, prompt_ext, turns,
     a_id, a_ext, a_text, b_id, b_ext, b_text) = row
    a, b = ShownCandidate(a_id, a_ext, a_text), ShownCandidate(b_id, b_ext, b_text)
    left, right = (b, a) if swapped else (a, b)
    return Task(
        assignment_id=assignment_id, pair_id=pair_id, slot_id=slot_id,
        prompt=ShownPrompt(prompt_id, prompt_ext, json_value(turns)),
        left=left, right=right, expires_at=aware(expires_at), progress=progress,
    )


@transaction.atomic
def assignments_expire(*, now: datetime | None = None) -> int:
    """Reopen every slot whose lease has run out; returns how many leases expired."""
    now = now or timezone.now()
    expired = Assignment.objects.filter(status=Assignment.Status.ACTIVE, expires_at__lte=now).update(
        status=Assignment.Status.EXPIRED
    )
    Slot.objects.filter(status=Slot.Status.LEASED, lease_expires_at__lte=now).update(
        status=Slot.Status.OPEN, lease_expires_at=None, open_group=""
    )
    return expired
