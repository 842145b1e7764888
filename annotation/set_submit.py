"""Recording a set judgment made on a lease (issue 13): the pair submit's rules (annotation/judgments.py) for sets.

Idempotent by client id (a replay answers with the stored set judgment), never overwritten, only on the caller's
own live lease (or a lapsed one whose slot nobody took), not before the study's min_view_ms. The set judgment is
stored once with the order it was shown in, and its comparisons are written by annotation/set_judgments.py (the
one expansion, annotation/set_expansion.py) as Judgment rows of origin "set", which also count in PairGroupCount
as an import's do. Progress counts set judgments.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from annotation.allocation import pair_counts_record_many
from annotation.assignment import Progress, participant_progress, set_judgments_done
from annotation.errors import Conflict, Forbidden, Gone, InputError, NotFound
from annotation.input_rules import clean_text
from annotation.judgments import MAX_RATIONALE, slot_taken_back, submit_common_fields, submit_ids_check
from annotation.models import Assignment, SetJudgment
from annotation.plain_sql import Statements, aware, for_update, json_value, statements
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
        return _record(user, data, now)
    except (Conflict, Gone, IntegrityError):
        # A replay usually finds its assignment judged (or since expired), or raced its twin: answer with
        # what is stored.
        existing = _replay(user, data.client_id)
        if existing is None:
            raise
        return SetSubmission(existing, False, participant_progress(participant=existing.participant))


def _replay(user: AbstractBaseUser, client_id: str) -> SetJudgment | None:
    existing = SetJudgment.objects.select_related("participant__study").filter(client_id=client_id).first()
    if existing is not None and existing.participant.user_id != user.pk:
        raise Conflict("this client_id belongs to another annotator's set judgment", code="client_id_taken")
    return existing


_LOCKED_SET_ASSIGNMENT_SQL = """
SELECT a.participant_id, a.status, a.expires_at, a.created_at, a.candidate_set_id, a.shown, a.slot_id,
       pa.user_id, pa.group_key, pa.study_id, st.quota, st.min_view_ms, s.status, s.group_key, c.prompt_id
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


def _locked_set_assignment(sql: Statements, user: AbstractBaseUser, assignment_id: int) -> _SetLease:
    row = sql.one(_LOCKED_SET_ASSIGNMENT_SQL + for_update("a, s"), [assignment_id])
    if row is None:
        raise NotFound(f"assignment {assignment_id} does not exist", code="unknown_assignment")
    (participant_id, status, expires_at, created_at, set_id, shown, slot_id, owner, group, study_id, quota,
     min_view_ms, slot_status, slot_group, prompt_id) = row
    if owner != user.pk:
        raise Forbidden(f"assignment {assignment_id} belongs to another annotator", code="foreign_assignment")
    if set_id is None:
        raise InputError(f"assignment {assignment_id} is a pair task: submit it to POST /api/judgments/",
                         field="assignment")
    viewable_at = aware(created_at) + timedelta(milliseconds=min_view_ms)
    return _SetLease(
        assignment_id, participant_id, status, aware(expires_at), viewable_at, set_id, list(json_value(shown)),
        slot_id, slot_status, slot_group, group, study_id, quota, prompt_id,
    )


def _record(user: AbstractBaseUser, data: SetJudgmentInput, now: datetime) -> SetSubmission:
    with transaction.atomic(), statements() as sql:
        lease = _locked_set_assignment(sql, user, data.assignment_id)
        if lease.status == Assignment.Status.JUDGED:
            raise Conflict(f"assignment {lease.id} is already judged; a judgment is never overwritten",
                           code="already_judged")
        if lease.status == Assignment.Status.SKIPPED:
            raise Conflict(f"assignment {lease.id} was skipped", code="skipped")
        if now < lease.viewable_at:
            raise Conflict("the set has not been on screen for the study's min_view_ms yet; read the responses "
                           "and submit again", code="too_soon")
        best, ranking = _members(sql, lease, data)
        # Live, or lapsed with nobody on its slot (taking the slot would have ended this lease); or ended and
        # reopened but still free, taken back within the group cap.
        if lease.status == Assignment.Status.ACTIVE or slot_taken_back(
                sql, slot_id=lease.slot_id, slot_status=lease.slot_status, slot_group=lease.slot_group,
                participant_id=lease.participant_id, group_key=lease.group_key,
                task=("candidate_set_id", lease.set_id)):
            return _create(sql, lease, data, best, ranking, now)
    raise Gone(f"the lease on assignment {lease.id} expired at {lease.expires_at.isoformat()}; ask for the next set",
               code="lease_expired")


def _members(sql: Statements, lease: _SetLease, data: SetJudgmentInput) -> tuple[int, list[list[int]]]:
    """best and ranking as candidate ids of the shown members: only members, best not ranked, none twice."""
    rows = sql.all("SELECT id, external_id FROM annotation_candidate WHERE prompt_id = %s", [lease.prompt_id])
    shown = set(lease.shown)
    by_external = {external: pk for pk, external in rows if pk in shown}
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
    pair_counts_record_many(sql, study_id=lease.study_id, group_key=lease.group_key, wins=wins)
    done = set_judgments_done(sql, lease.participant_id)
    return SetSubmission(judgment, True, Progress(done=done, quota=lease.quota))
