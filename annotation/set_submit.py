"""Recording a set judgment made on a lease (issue 13): the pair submit's rules (annotation/judgments.py) for sets.

Idempotent by client id (a replay answers with the stored set judgment), never overwritten, only on the caller's
own live lease (or a lapsed one whose slot nobody took), not before the study's min_view_ms. The set judgment is
stored once with the order it was shown in, and its comparisons are written by annotation/set_judgments.py (the
one expansion, annotation/set_expansion.py) as Judgment rows of origin "set", which also count in PairGroupCount
as an import's do. Progress counts set judgments.

On PostgreSQL: one read (the order shown and the prompt's candidate ids), the expansion here, then one server-side
function, pluralweb_set_submit (annotation/loop_sql/set_submit.v1.sql), that checks the lease and writes it all;
SQLite runs the same rules statement by statement.

A gold set (annotation/gold.py) is answered like any set and its set judgment counts toward the quota, but its
comparisons add nothing to PairGroupCount (they share pairs with ordinary sets), and the screening rule runs after it
(annotation/gold_serving.py). Gold is rare, so a gold set's submit takes the statement-by-statement path on both
databases (row locks on the assignment and its slot, as SQLite's path takes).
"""

import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from annotation.allocation import pair_counts_record_many
from annotation.assignment import Progress, participant_progress, set_judgments_done
from annotation.errors import Conflict, Forbidden, Gone, InputError, NotFound
from annotation.gold_serving import participant_screen
from annotation.input_rules import clean_text
from annotation.judgments import MAX_RATIONALE, slot_taken_back, submit_common_fields, submit_ids_check
from annotation.models import Assignment, SetJudgment
from annotation.plain_sql import (
    Statements,
    aware,
    for_update,
    json_value,
    single_statement_transaction,
    statements,
)
from annotation.selectors import participant_cache_forget
from annotation.set_expansion import as_shown, set_comparisons
from annotation.set_judgments import set_judgment_write

MAX_EXPLANATION = MAX_RATIONALE
_MAX_MEMBERS = 64  # far above SET_SIZE_MAX: a bound on what is read before the set is known


@dataclass(frozen=True)
class SetJudgmentInput:
    assignment_id: int
    best: str  # candidate_id (external id) of a shown member
    client_id: str
    ranking: list[list[str]]  # blocks of the other members' candidate ids, better first; partial allowed
    explanation: str = ""
    time_taken_ms: int | None = None


@dataclass(frozen=True)
class SetSubmission:
    set_judgment: SetJudgment
    created: bool  # False: a replay of the client id, answered with the stored set judgment
    progress: Progress
    gold: bool = False  # an answer to a gold set
    screened_out: bool = False  # this answer (to a gold set) screened the participant out


def _text_field(body: dict, name: str) -> str:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise InputError("must be a string", field=name)
    return value or ""


def _ranking_field(value: object) -> list[list[str]]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > _MAX_MEMBERS:
        raise InputError(f"must be a list of at most {_MAX_MEMBERS} blocks", field="ranking")
    blocks = []
    for i, block in enumerate(value):
        if not isinstance(block, list) or not block or len(block) > _MAX_MEMBERS:
            raise InputError("must be a non-empty list of candidate ids", field=f"ranking[{i}]")
        if not all(isinstance(member, str) for member in block):
            raise InputError("candidate ids must be strings", field=f"ranking[{i}]")
        blocks.append(list(block))
    return blocks


def set_judgment_input(body: object) -> SetJudgmentInput:
    """A set submit's JSON body: {assignment, best, ranking?, explanation?, client_id, time_taken_ms?}."""
    assignment, time_taken = submit_common_fields(body)
    return SetJudgmentInput(
        assignment_id=assignment, best=_text_field(body, "best"), client_id=_text_field(body, "client_id"),
        ranking=_ranking_field(body.get("ranking")), explanation=_text_field(body, "explanation"),
        time_taken_ms=time_taken,
    )


def _validate(data: SetJudgmentInput) -> None:
    submit_ids_check(data.assignment_id, data.time_taken_ms, data.client_id)
    if not data.best:
        raise InputError("must be the candidate_id of the best response shown", field="best")
    clean_text(data.best, "best", max_length=128)
    for i, block in enumerate(data.ranking):
        for member in block:
            clean_text(member, f"ranking[{i}]", max_length=128)
    clean_text(data.explanation, "explanation", max_length=MAX_EXPLANATION)


def set_judgment_submit(*, user: AbstractBaseUser, data: SetJudgmentInput,
                        now: datetime | None = None) -> SetSubmission:
    """Record the user's set judgment on their lease. A replay of a client id returns the stored one."""
    _validate(data)
    now = now or timezone.now()
    try:
        if connection.vendor == "postgresql":
            submission = _record_in_database(user, data, now)
        else:
            submission = _record(user, data, now)
    except (Conflict, Gone, IntegrityError):
        # A replay usually finds its assignment judged (or since expired), or raced its twin: answer with
        # what is stored.
        existing = _replay(user, data.client_id)
        if existing is None:
            raise
        return SetSubmission(existing, False, participant_progress(participant=existing.participant))
    participant_id = submission.set_judgment.participant_id
    if submission.gold and participant_screen(participant_id=participant_id, now=now, sets=True):
        participant_cache_forget(participant_id)
        return replace(submission, screened_out=True)
    return submission


def _replay(user: AbstractBaseUser, client_id: str) -> SetJudgment | None:
    existing = SetJudgment.objects.select_related("participant__study").filter(client_id=client_id).first()
    if existing is not None and existing.participant.user_id != user.pk:
        raise Conflict("this client_id belongs to another annotator's set judgment", code="client_id_taken")
    return existing


_LOCKED_SET_ASSIGNMENT_SQL = """
SELECT a.participant_id, a.status, a.expires_at, a.created_at, a.candidate_set_id, a.shown, a.slot_id,
       pa.user_id, pa.group_key, pa.study_id, st.quota, st.min_view_ms, s.status, s.group_key, c.prompt_id,
       EXISTS (SELECT 1 FROM annotation_golditem g WHERE g.candidate_set_id = a.candidate_set_id)
FROM annotation_assignment a
JOIN annotation_slot s ON s.id = a.slot_id
JOIN annotation_participant pa ON pa.id = a.participant_id
JOIN annotation_study st ON st.id = pa.study_id
LEFT JOIN annotation_candidateset c ON c.id = a.candidate_set_id
WHERE a.id = %s"""


@dataclass(frozen=True)
class _SetLease:
    id: int
    participant_id: int
    status: str
    expires_at: datetime
    viewable_at: datetime  # leased at, plus the study's min_view_ms
    set_id: int
    shown: list[int]
    slot_id: int
    slot_status: str
    slot_group: str
    group_key: str
    study_id: int
    quota: int
    prompt_id: int
    gold: bool


def _locked_set_assignment(sql: Statements, user: AbstractBaseUser, assignment_id: int) -> _SetLease:
    row = sql.one(_LOCKED_SET_ASSIGNMENT_SQL + for_update("a, s"), [assignment_id])
    if row is None:
        raise _refusal("unknown", assignment_id, None)
    (participant_id, status, expires_at, created_at, set_id, shown, slot_id, owner, group, study_id, quota,
     min_view_ms, slot_status, slot_group, prompt_id, gold) = row
    if owner != user.pk:
        raise _refusal("foreign", assignment_id, None)
    if set_id is None:
        raise _pair_task(assignment_id)
    viewable_at = aware(created_at) + timedelta(milliseconds=min_view_ms)
    return _SetLease(
        assignment_id, participant_id, status, aware(expires_at), viewable_at, set_id, list(json_value(shown)),
        slot_id, slot_status, slot_group, group, study_id, quota, prompt_id, bool(gold),
    )


def _pair_task(assignment_id: int) -> InputError:
    return InputError(f"assignment {assignment_id} is a pair task: submit it to POST /api/judgments/",
                      field="assignment")


def _refusal(outcome: str, assignment_id: int, expires_at: datetime | None) -> Exception:
    if outcome == "unknown":
        return NotFound(f"assignment {assignment_id} does not exist", code="unknown_assignment")
    if outcome == "foreign":
        return Forbidden(f"assignment {assignment_id} belongs to another annotator", code="foreign_assignment")
    if outcome == "pair_task":
        return _pair_task(assignment_id)
    if outcome == "judged":
        return Conflict(f"assignment {assignment_id} is already judged; a judgment is never overwritten",
                        code="already_judged")
    if outcome == "skipped":
        return Conflict(f"assignment {assignment_id} was skipped", code="skipped")
    if outcome == "too_soon":
        return Conflict("the set has not been on screen for the study's min_view_ms yet; read the responses and "
                        "submit again", code="too_soon")
    if outcome == "pair_judged":
        return Conflict("this annotator already judged a pair of this set", code="pair_already_judged")
    return Gone(f"the lease on assignment {assignment_id} expired at {expires_at.isoformat()}; ask for the next set",
                code="lease_expired")


def _record(user: AbstractBaseUser, data: SetJudgmentInput, now: datetime) -> SetSubmission:
    with transaction.atomic(), statements() as sql:
        lease = _locked_set_assignment(sql, user, data.assignment_id)
        if lease.status in (Assignment.Status.JUDGED, Assignment.Status.SKIPPED):
            raise _refusal(lease.status, lease.id, lease.expires_at)
        if now < lease.viewable_at:
            raise _refusal("too_soon", lease.id, lease.expires_at)
        best, ranking = _members(lease.shown, sql.all(_CANDIDATES_SQL, [lease.prompt_id]), data)
        # Live, or lapsed with nobody on its slot (taking the slot would have ended this lease); or ended and
        # reopened but still free, taken back within the group cap.
        if lease.status == Assignment.Status.ACTIVE or slot_taken_back(
                sql, slot_id=lease.slot_id, slot_status=lease.slot_status, slot_group=lease.slot_group,
                participant_id=lease.participant_id, group_key=lease.group_key,
                task=("candidate_set_id", lease.set_id)):
            return _create(sql, lease, data, best, ranking, now)
    raise _refusal("expired", lease.id, lease.expires_at)


def _members(shown: list[int], candidates: list[tuple[int, str]],
             data: SetJudgmentInput) -> tuple[int, list[list[int]]]:
    """best and ranking as candidate ids of the shown members: only members, best not ranked, none twice.
    `candidates` are (id, candidate_id) of the set's prompt."""
    members = set(shown)
    by_external = {external: pk for pk, external in candidates if pk in members}
    if data.best not in by_external:
        raise InputError(f"{data.best!r} is not a candidate_id of this set", field="best")
    seen = {data.best}
    for i, block in enumerate(data.ranking):
        for member in block:
            if member not in by_external:
                raise InputError(f"{member!r} is not a candidate_id of this set", field=f"ranking[{i}]")
            if member in seen:
                raise InputError(f"{member!r} is the best or ranked twice", field=f"ranking[{i}]")
            seen.add(member)
    return by_external[data.best], [[by_external[member] for member in block] for block in data.ranking]


_CANDIDATES_SQL = "SELECT id, external_id FROM annotation_candidate WHERE prompt_id = %s"


def _create(sql: Statements, lease: _SetLease, data: SetJudgmentInput, best: int, ranking: list[list[int]],
            now: datetime) -> SetSubmission:
    judgment, wins = set_judgment_write(
        participant_id=lease.participant_id, group_key=lease.group_key, candidate_set_id=lease.set_id,
        prompt_id=lease.prompt_id, shown=lease.shown, best=best, ranking=ranking,
        explanation=data.explanation.strip(), client_id=data.client_id, origin=SetJudgment.Origin.WEB,
        time_taken_ms=data.time_taken_ms, created_at=now, assignment_id=lease.id,
    )
    sql.run("UPDATE annotation_assignment SET status = 'judged' WHERE id = %s", [lease.id])
    sql.run("UPDATE annotation_slot SET status = 'done', lease_expires_at = NULL WHERE id = %s", [lease.slot_id])
    if not lease.gold:  # a gold set's comparisons share pairs with ordinary sets: they count for none of them
        pair_counts_record_many(sql, study_id=lease.study_id, group_key=lease.group_key, wins=wins)
    done = set_judgments_done(sql, lease.participant_id)
    return SetSubmission(judgment, True, Progress(done=done, quota=lease.quota), gold=lease.gold)


# --- PostgreSQL: one read, the expansion here, one server-side function ------------------------------------

_SET_OF_ASSIGNMENT_SQL = """
SELECT a.candidate_set_id, a.shown, pa.user_id,
       (SELECT jsonb_agg(jsonb_build_array(ca.id, ca.external_id)) FROM annotation_candidate ca
         WHERE ca.prompt_id = c.prompt_id),
       EXISTS (SELECT 1 FROM annotation_golditem g WHERE g.candidate_set_id = a.candidate_set_id)
FROM annotation_assignment a
JOIN annotation_participant pa ON pa.id = a.participant_id
LEFT JOIN annotation_candidateset c ON c.id = a.candidate_set_id
WHERE a.id = %s"""


def _record_in_database(user: AbstractBaseUser, data: SetJudgmentInput, now: datetime) -> SetSubmission:
    with statements() as sql:
        row = sql.one(_SET_OF_ASSIGNMENT_SQL, [data.assignment_id])
    if row is None:
        raise _refusal("unknown", data.assignment_id, None)
    set_id, shown, owner, candidates, gold = row
    if owner != user.pk:
        raise _refusal("foreign", data.assignment_id, None)
    if set_id is None:
        raise _pair_task(data.assignment_id)
    if gold:  # pluralweb_set_submit would count its comparisons in PairGroupCount
        return _record(user, data, now)
    # The order shown is fixed when the set is leased, so the comparisons can be read off it before the lock.
    shown = list(json_value(shown))
    best, ranking = _members(shown, [tuple(c) for c in json_value(candidates)], data)
    comparisons = [as_shown(c, shown) + (c.implied,) for c in set_comparisons(shown, best, ranking)]
    a, b, choices, implied = (list(column) for column in zip(*comparisons, strict=True))
    with single_statement_transaction(), statements() as sql:
        (outcome, judgment_id, participant_id, set_id, group, expires_at, done, quota) = sql.one(
            "SELECT * FROM pluralweb_set_submit(%s, %s, %s, %s::jsonb, %s, %s, %s, %s, %s, %s, %s, %s)",
            [user.pk, data.assignment_id, best, json.dumps(ranking), data.explanation.strip(), data.time_taken_ms,
             data.client_id, now, a, b, choices, implied],
        )
    if outcome != "created":
        raise _refusal(outcome, data.assignment_id, expires_at)
    judgment = SetJudgment(
        pk=judgment_id, participant_id=participant_id, candidate_set_id=set_id, assignment_id=data.assignment_id,
        shown=shown, best_id=best, ranking=ranking, explanation=data.explanation.strip(), group_key=group,
        time_taken_ms=data.time_taken_ms, origin=SetJudgment.Origin.WEB, client_id=data.client_id, created_at=now,
    )
    return SetSubmission(judgment, True, Progress(done=done, quota=quota))
