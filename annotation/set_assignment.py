"""Handing candidate sets to annotators (issue 13): the pair loop's rules (annotation/assignment.py) for sets.

A set study's sets each have k slots split across groups like a pair's (annotation/set_making.py), in the same
slot table, so leases, balance (ceil(k / G) per group through slot_set_one_open_per_group), lapsed leases,
renew and skip (annotation/leases.py) are the pair loop's. What differs: the members are shown in an order drawn
per assignment (and kept for a participant who held the set before), progress counts set judgments, and a set
that shares two members with one the participant holds or judged is not served (its pair would be stated twice:
annotation/set_judgments.py). At the study's gold_rate the new set is a gold set (annotation/gold.py), leased as a
gold pair is (annotation/gold_serving.py): through a slot born done, statement by statement on both databases.

On PostgreSQL one server-side function, pluralweb_set_next (annotation/loop_sql/set_next.v1.sql, migration 0021),
runs the rules below in one round trip; SQLite runs them statement by statement (annotation/plain_sql.py).
"""

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.utils import timezone

from annotation.assignment import (
    Claimant,
    Progress,
    ShownCandidate,
    ShownPrompt,
    claim_with_retries,
    claimable_clauses,
    lapsed_leases_expire,
    slot_lease,
)
from annotation.gold_serving import LOCK_SQL, gold_due
from annotation.groups import slot_groups
from annotation.models import Assignment, Candidate, Participant, Prompt, Slot
from annotation.plain_sql import (
    Statements,
    aware,
    db_time,
    for_update,
    json_value,
    single_statement_transaction,
    statements,
)


@dataclass(frozen=True)
class SetTask:
    """A leased set as the annotator sees it: `shown` in the order drawn for this assignment."""

    assignment_id: int
    set_id: int
    prompt: ShownPrompt
    shown: list[ShownCandidate]
    expires_at: datetime
    progress: Progress


_SET_STATE_SQL = """
SELECT
  pa.group_key, st.id, st.quota, st.lease_minutes, st.open_slots_after, st.is_open,
  (SELECT count(*) FROM annotation_setjudgment WHERE participant_id = pa.id),
  (SELECT min(id) FROM annotation_assignment
    WHERE participant_id = pa.id AND status = 'active' AND expires_at > %s),
  (SELECT count(*) FROM annotation_assignment
    WHERE participant_id = pa.id AND status = 'active' AND expires_at <= %s)
FROM annotation_participant pa JOIN annotation_study st ON st.id = pa.study_id WHERE pa.id = %s"""

# Sets of the prompts of those the participant holds or judged, beside the held set's members: a set sharing
# two members with a held one would state a pair twice (annotation/set_judgments.py refuses it).
_NEIGHBOUR_SETS_SQL = """
SELECT o.id, o.members, h.members FROM annotation_candidateset h
JOIN annotation_candidateset o ON o.prompt_id = h.prompt_id AND o.id <> h.id
WHERE h.id IN (
  SELECT candidate_set_id FROM annotation_assignment
   WHERE participant_id = %s AND status IN ('active', 'judged') AND candidate_set_id IS NOT NULL
  UNION SELECT candidate_set_id FROM annotation_setjudgment WHERE participant_id = %s)"""

# As annotation/assignment.py's _CLAIMABLE_SQL, over set slots (slot_set_claimable_order_idx): lowest set first,
# within a set the group's own slot before an open one.
_SET_CLAIMABLE_SQL = """
SELECT s.id, s.candidate_set_id, s.group_key, s.status, c.members FROM annotation_slot s
JOIN annotation_candidateset c ON c.id = s.candidate_set_id
WHERE s.study_id = %s AND s.candidate_set_id IS NOT NULL AND s.status IN ('open', 'leased')
  AND (s.status = 'open' OR s.lease_expires_at < %s)
  AND ({groups})
  AND s.candidate_set_id NOT IN (
    SELECT candidate_set_id FROM annotation_assignment
     WHERE participant_id = %s AND status <> 'expired' AND candidate_set_id IS NOT NULL)
  {cap}
  {excluded}
ORDER BY s.study_id, s.candidate_set_id, s.group_key DESC, s.id
LIMIT 1"""

# Only where a set has two or more open slots (k mod G >= 2); the unique index is the guarantee either way.
_SET_GROUP_CAP_SQL = """AND NOT (s.group_key = '' AND EXISTS (
    SELECT 1 FROM annotation_slot o WHERE o.candidate_set_id = s.candidate_set_id AND o.open_group = %s))"""

# A set the participant held before comes back in the order they saw.
_INSERT_SET_ASSIGNMENT_SQL = """
INSERT INTO annotation_assignment (slot_id, candidate_set_id, participant_id, swapped, shown, status, created_at,
                                   expires_at)
VALUES (%s, %s, %s, %s, COALESCE((SELECT x.shown FROM annotation_assignment x
                                  WHERE x.participant_id = %s AND x.candidate_set_id = %s
                                  ORDER BY x.id DESC LIMIT 1), %s),
        'active', %s, %s) RETURNING id"""

_SET_TASK_SQL = """
SELECT a.id, a.candidate_set_id, a.shown, a.expires_at, pr.id, pr.external_id, pr.turns,
       ca.id, ca.external_id, ca.text
FROM annotation_assignment a
JOIN annotation_candidateset c ON c.id = a.candidate_set_id
JOIN annotation_prompt pr ON pr.id = c.prompt_id
JOIN annotation_candidate ca ON ca.prompt_id = pr.id AND ca.id IN (SELECT value FROM json_each(a.shown))
WHERE a.id = %s"""


def set_next_for_annotator(*, participant: Participant, now: datetime | None = None) -> SetTask | None:
    """The participant's current lease, or a newly leased set; None at quota, when nothing is left, or when the
    study is closed (a live lease is still returned so that it can be finished). Excluded and screened-out
    participants get nothing."""
    now = now or timezone.now()
    if participant.excluded_at is not None or participant.screened_out_at is not None:
        return None
    if gold_due(participant.study.gold_rate):
        task = _gold_set_next(participant, now)
        if task is not None:
            return task
    if connection.vendor == "postgresql":
        return _set_next_in_database(participant, now)
    return _set_next(participant, now)


_GOLD_SET_STATE_SQL = """
SELECT pa.study_id, st.quota, st.is_open, st.lease_minutes,
  (SELECT count(*) FROM annotation_setjudgment WHERE participant_id = pa.id),
  (SELECT count(*) FROM annotation_assignment
    WHERE participant_id = pa.id AND status = 'active' AND expires_at > %s)
FROM annotation_participant pa JOIN annotation_study st ON st.id = pa.study_id WHERE pa.id = %s"""

# Gold sets the participant has not had (an expired lease of one does not count, as for gold pairs).
_GOLD_SETS_SQL = """
SELECT g.candidate_set_id, c.members FROM annotation_golditem g
JOIN annotation_candidateset c ON c.id = g.candidate_set_id
WHERE g.study_id = %s AND g.candidate_set_id NOT IN (
  SELECT candidate_set_id FROM annotation_assignment
   WHERE participant_id = %s AND status <> 'expired' AND candidate_set_id IS NOT NULL)"""


def _gold_set_next(participant: Participant, now: datetime) -> SetTask | None:
    """A newly leased gold set, or None (a live lease, at quota, closed, or no gold set left for them): the ordinary
    `next` answers instead. Gold is rare, so this runs statement by statement on both databases; on PostgreSQL under
    pluralweb_set_next's advisory lock, so that one participant's gold and ordinary leases queue up."""
    with transaction.atomic(), statements() as sql:
        if connection.vendor == "postgresql":
            sql.run(LOCK_SQL, [participant.pk])
        row = sql.one(_GOLD_SET_STATE_SQL, [db_time(now), participant.pk])
        if row is None:
            return None
        study_id, quota, is_open, lease_minutes, done, live = row
        if live or done >= quota or not is_open:
            return None
        sharing = set(_sets_sharing_a_pair(sql, participant.pk))  # a pair must not be stated twice
        gold = [(pk, members) for pk, members in sql.all(_GOLD_SETS_SQL, [study_id, participant.pk])
                if pk not in sharing]
        if not gold:
            return None
        set_id, members = random.choice(gold)
        order = list(json_value(members))
        random.shuffle(order)
        slot = Slot.objects.create(candidate_set_id=set_id, study_id=study_id, status=Slot.Status.DONE)
        assignment = Assignment.objects.create(
            slot=slot, candidate_set_id=set_id, participant_id=participant.pk, swapped=False, shown=order,
            created_at=now, expires_at=now + timedelta(minutes=lease_minutes),
        )
        prompt = Prompt.objects.filter(candidate_sets=set_id).values_list("pk", "external_id", "turns").get()
        candidates = Candidate.objects.filter(pk__in=order).values_list("pk", "external_id", "text")
    return _set_task_of(assignment.pk, set_id, prompt, order, candidates, assignment.expires_at,
                        Progress(done=done, quota=quota))


def _set_task_of(assignment_id: int, set_id: int, prompt: tuple, shown: list[int], candidates, expires_at,
                 progress: Progress) -> SetTask:
    """The task from its rows: prompt (id, external id, turns), the shown order of candidate ids, and each
    candidate's (id, external id, text) in any order."""
    by_id = {pk: ShownCandidate(pk, ext, text) for pk, ext, text in candidates}
    return SetTask(
        assignment_id=assignment_id, set_id=set_id, prompt=ShownPrompt(prompt[0], prompt[1], json_value(prompt[2])),
        shown=[by_id[pk] for pk in shown], expires_at=aware(expires_at), progress=progress,
    )


def _group_cap(participant: Participant) -> bool:
    """Whether the per-group cap on open slots needs checking: a set with two or more open slots (k mod G >= 2)."""
    study = participant.study
    return bool(participant.group_key) and slot_groups(study.overlap, study.group_attributes).count("") >= 2


def _set_next_in_database(participant: Participant, now: datetime) -> SetTask | None:
    # One call, its own transaction: pluralweb_set_next (annotation/loop_sql/set_next.v1.sql) runs the rules below.
    with single_statement_transaction(), statements() as sql:
        row = sql.one("SELECT * FROM pluralweb_set_next(%s, %s, %s)", [participant.pk, now, _group_cap(participant)])
    if row is None:
        return None
    done, quota, assignment_id, set_id, shown, expires_at, prompt_id, prompt_ext, turns, candidates = row
    return _set_task_of(assignment_id, set_id, (prompt_id, prompt_ext, turns), json_value(shown),
                        json_value(candidates), expires_at, Progress(done=done, quota=quota))


def _set_next(participant: Participant, now: datetime) -> SetTask | None:
    # SQLite: its IMMEDIATE write transactions serialise callers, so no lock clause is needed.
    with transaction.atomic(), statements() as sql:
        row = sql.one(_SET_STATE_SQL + for_update("pa"), [db_time(now), db_time(now), participant.pk])
        if row is None:
            return None
        group, study_id, quota, lease_minutes, open_slots_after, is_open, done, live_id, lapsed = row
        if lapsed:
            lapsed_leases_expire(participant.pk, now)
        progress = Progress(done=done, quota=quota)
        if live_id is None:
            if progress.finished or not is_open:
                return None
            claimant = Claimant(participant.pk, group, study_id, lease_minutes, open_slots_after,
                                group_cap=_group_cap(participant))
            excluded_sets = _sets_sharing_a_pair(sql, participant.pk)
            live_id = claim_with_retries(
                sql, claimant, now, claim=_set_claim,
                claimable=lambda sql, claimant, now, lost: _claimable_set_slot(sql, claimant, now, lost, excluded_sets),
            )
            if live_id is None:
                return None
        return _set_task(sql, live_id, progress)


def _sets_sharing_a_pair(sql: Statements, participant_id: int) -> list[int]:
    rows = sql.all(_NEIGHBOUR_SETS_SQL, [participant_id, participant_id])
    return sorted({other for other, members, held in rows
                   if len(set(json_value(members)) & set(json_value(held))) >= 2})


def _claimable_set_slot(sql: Statements, claimant: Claimant, now: datetime, lost_slots: list[int],
                        excluded_sets: list[int]) -> tuple | None:
    groups, cap, params = claimable_clauses(claimant, now, made_before="c.created_at <= %s",
                                            group_cap=_SET_GROUP_CAP_SQL)
    excluded = ""
    if lost_slots:  # open slots another annotator of the group took a moment ago
        excluded += f"AND s.id NOT IN ({', '.join(['%s'] * len(lost_slots))}) "
        params.extend(lost_slots)
    if excluded_sets:
        excluded += f"AND s.candidate_set_id NOT IN ({', '.join(['%s'] * len(excluded_sets))})"
        params.extend(excluded_sets)
    query = _SET_CLAIMABLE_SQL.format(groups=groups, cap=cap, excluded=excluded) + for_update("s", skip_locked=True)
    return sql.one(query, params)


def _set_claim(sql: Statements, slot: tuple, claimant: Claimant, now: datetime) -> int:
    slot_id, set_id, _, _, members = slot
    expires_at = slot_lease(sql, slot, claimant, now)
    order = list(json_value(members))
    random.shuffle(order)  # position bias is randomised per assignment, as `swapped` does for pairs
    return sql.one(_INSERT_SET_ASSIGNMENT_SQL, [
        slot_id, set_id, claimant.participant_id, False, claimant.participant_id, set_id, json.dumps(order),
        db_time(now), db_time(expires_at),
    ])[0]


def _set_task(sql: Statements, assignment_id: int, progress: Progress) -> SetTask | None:
    rows = sql.all(_SET_TASK_SQL, [assignment_id])
    if not rows:
        return None  # a pair lease in a study switched to sets: nothing of this kind to show
    assignment_id, set_id, shown, expires_at, prompt_id, prompt_ext, turns = rows[0][:7]
    return _set_task_of(assignment_id, set_id, (prompt_id, prompt_ext, turns), json_value(shown),
                        [row[7:10] for row in rows], expires_at, progress)
