"""Recording judgments: idempotent by client id, never overwritten, only on a live lease.

The assignment says whose judgment it is: the caller must be the user it was leased to. On PostgreSQL
one server-side function (migration 0008) does the whole submit in one round trip; SQLite runs the
same rules here, statement by statement. Either way the submit also counts the judgment in its pair's
per-group counts and, under adaptive allocation, re-prices the pair's open slots (annotation/allocation.py).
"""

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from annotation.allocation import allocation_rule, pair_allocate, pair_counts_record, pair_win
from annotation.assignment import Progress, judgments_done, participant_progress
from annotation.errors import Conflict, Forbidden, Gone, InputError, NotFound
from annotation.gold_serving import is_gold_pair, participant_screen
from annotation.input_rules import INT32_MAX, INT64_MAX, clean_text, integer
from annotation.models import Assignment, Judgment, Study
from annotation.plain_sql import Statements, aware, db_time, for_update, single_statement_transaction, statements
from annotation.selectors import participant_cache_forget

MAX_RATIONALE = 5000
_CHOICES = tuple(Judgment.Choice.values)
_STRENGTHS = tuple(Judgment.Strength.values)


@dataclass(frozen=True)
class JudgmentInput:
    assignment_id: int
    choice: str
    client_id: str
    strength: str = ""
    rationale: str = ""
    time_taken_ms: int | None = None


@dataclass(frozen=True)
class Submission:
    judgment: Judgment
    created: bool  # False: a replay of the client id, answered with the stored judgment
    progress: Progress
    screened_out: bool = False  # this answer (to a gold item) screened the participant out


def submit_common_fields(body: object) -> tuple[int, int | None]:
    """(assignment, time_taken_ms) of a submit's body, pair or set; the body must be a JSON object."""
    if not isinstance(body, dict):
        raise InputError("the body must be a JSON object")
    assignment = body.get("assignment")
    if isinstance(assignment, str) and assignment.isascii() and assignment.isdigit() and len(assignment) <= 20:
        assignment = int(assignment)
    if not isinstance(assignment, int) or isinstance(assignment, bool):
        raise InputError("must be the integer id of your assignment", field="assignment")
    time_taken = body.get("time_taken_ms")
    if time_taken is not None and (not isinstance(time_taken, int) or isinstance(time_taken, bool) or time_taken < 0):
        raise InputError("must be a non-negative integer or null", field="time_taken_ms")
    return assignment, time_taken


def judgment_input(body: object) -> JudgmentInput:
    """A submit's JSON body: {assignment, choice, client_id, strength?, rationale?, time_taken_ms?}."""
    assignment, time_taken = submit_common_fields(body)
    fields = {}
    for name in ("choice", "client_id", "strength", "rationale"):
        value = body.get(name)
        if value is not None and not isinstance(value, str):
            raise InputError("must be a string", field=name)
        fields[name] = value or ""
    return JudgmentInput(assignment_id=assignment, time_taken_ms=time_taken, **fields)


def submit_ids_check(assignment_id: int, time_taken_ms: int | None, client_id: str) -> None:
    """The integers fit their columns, the client id is one: every submit door, pair or set, comes through here."""
    integer(assignment_id, "assignment", maximum=INT64_MAX)
    if time_taken_ms is not None:
        integer(time_taken_ms, "time_taken_ms", maximum=INT32_MAX)
    clean_text(client_id, "client_id")
    if not client_id or len(client_id) > 64:
        raise InputError("must be a non-empty string of at most 64 characters", field="client_id")


def _validate(data: JudgmentInput) -> None:
    # Every door (API, page) comes through here: the integers must fit their columns, the texts hold no NUL.
    submit_ids_check(data.assignment_id, data.time_taken_ms, data.client_id)
    clean_text(data.rationale, "rationale")
    if data.choice not in _CHOICES:
        raise InputError(f"must be one of {', '.join(_CHOICES)}", field="choice")
    if data.strength and data.strength not in _STRENGTHS:
        raise InputError(f"must be empty or one of {', '.join(_STRENGTHS)}", field="strength")
    if len(data.rationale) > MAX_RATIONALE:
        raise InputError(f"must be at most {MAX_RATIONALE} characters", field="rationale")


def judgment_submit(*, user: AbstractBaseUser, data: JudgmentInput, now: datetime | None = None) -> Submission:
    """Record the user's judgment on their lease. A replay of a client id returns the stored judgment."""
    _validate(data)
    now = now or timezone.now()
    try:
        if connection.vendor == "postgresql":
            submission = _record_in_database(user, data, now)
        else:
            submission = _record(user, data, now)
    except (Conflict, Gone, IntegrityError):
        # A replay usually finds its assignment judged (or since expired), or raced its twin's insert:
        # answer with what is stored.
        existing = _replay(user, data.client_id)
        if existing is None:
            raise
        return Submission(existing, False, participant_progress(participant=existing.participant))
    judgment = submission.judgment
    if is_gold_pair(judgment.pair_id) and participant_screen(participant_id=judgment.participant_id, now=now):
        participant_cache_forget(judgment.participant_id)
        return replace(submission, screened_out=True)
    return submission


def _replay(user: AbstractBaseUser, client_id: str) -> Judgment | None:
    existing = Judgment.objects.select_related("participant__study").filter(client_id=client_id).first()
    if existing is not None and existing.participant.user_id != user.pk:
        raise Conflict("this client_id belongs to another annotator's judgment", code="client_id_taken")
    return existing


def _refusal(outcome: str, assignment_id: int, expires_at: datetime | None) -> Exception:
    if outcome == "unknown":
        if Assignment.objects.filter(pk=assignment_id, candidate_set__isnull=False).exists():
            # The pair queries join the pair, so a set lease reads as unknown: say what it is instead.
            return InputError(f"assignment {assignment_id} is a set task: submit it to POST /api/set-judgments/",
                              field="assignment")
        return NotFound(f"assignment {assignment_id} does not exist", code="unknown_assignment")
    if outcome == "foreign":
        return Forbidden(f"assignment {assignment_id} belongs to another annotator", code="foreign_assignment")
    if outcome == "too_soon":
        return Conflict(
            "the pair has not been on screen for the study's min_view_ms yet; look at both responses and submit again",
            code="too_soon",
        )
    if outcome == "skipped":
        return Conflict(f"assignment {assignment_id} was skipped", code="skipped")
    if outcome == "judged":
        return Conflict(
            f"assignment {assignment_id} is already judged; a judgment is never overwritten", code="already_judged"
        )
    return Gone(
        f"the lease on assignment {assignment_id} expired at {expires_at.isoformat()}; ask for the next pair",
        code="lease_expired",
    )


def _new_judgment(data: JudgmentInput, now: datetime, **stored) -> Judgment:
    return Judgment(
        assignment_id=data.assignment_id, choice=data.choice, strength=data.strength,
        rationale=data.rationale.strip(), time_taken_ms=data.time_taken_ms, origin=Judgment.Origin.WEB,
        client_id=data.client_id, created_at=now, **stored,
    )


def _record_in_database(user: AbstractBaseUser, data: JudgmentInput, now: datetime) -> Submission:
    with single_statement_transaction(), statements() as sql:
        (outcome, judgment_id, participant_id, pair_id, left_id, right_id, group, expires_at, done,
         quota) = sql.one(
            "SELECT * FROM pluralweb_judgment_submit(%s, %s, %s, %s, %s, %s, %s, %s)",
            [user.pk, data.assignment_id, data.choice, data.strength, data.rationale.strip(), data.time_taken_ms,
             data.client_id, now],
        )
    if outcome != "created":
        raise _refusal(outcome, data.assignment_id, expires_at)
    judgment = _new_judgment(
        data, now, pk=judgment_id, participant_id=participant_id, pair_id=pair_id, group_key=group,
        candidate_a_id=left_id, candidate_b_id=right_id,
    )
    return Submission(judgment, True, Progress(done=done, quota=quota))


# --- the same rules, statement by statement (SQLite) ---------------------------------------------------

_LOCKED_ASSIGNMENT_SQL = """
SELECT a.participant_id, a.status, a.expires_at, a.swapped, a.slot_id, a.pair_id, p.candidate_a_id, p.candidate_b_id,
       pa.user_id, pa.group_key, st.quota, a.created_at, st.min_view_ms, s.status, s.group_key,
       st.id, st.allocation, st.k_min, st.precision
FROM annotation_assignment a
JOIN annotation_slot s ON s.id = a.slot_id
JOIN annotation_pair p ON p.id = a.pair_id
JOIN annotation_participant pa ON pa.id = a.participant_id
JOIN annotation_study st ON st.id = pa.study_id
WHERE a.id = %s"""


@dataclass(frozen=True)
class _Lease:
    id: int
    participant_id: int
    group_key: str
    quota: int
    status: str
    expires_at: datetime
    slot_id: int
    pair_id: int
    shown_ids: tuple[int, int]  # (left, right) as the annotator saw them
    viewable_at: datetime  # leased at, plus the study's min_view_ms
    slot_status: str
    slot_group: str
    pair_a_id: int
    study: Study  # its id and allocation settings only


def _locked_assignment(sql: Statements, user: AbstractBaseUser, assignment_id: int) -> _Lease:
    row = sql.one(_LOCKED_ASSIGNMENT_SQL + for_update("a, s"), [assignment_id])
    if row is None:
        raise _refusal("unknown", assignment_id, None)
    (participant_id, status, expires_at, swapped, slot_id, pair_id, a_id, b_id, owner, group, quota, created_at,
     min_view_ms, slot_status, slot_group, study_id, allocation, k_min, precision) = row
    if owner != user.pk:
        raise _refusal("foreign", assignment_id, None)
    shown = (b_id, a_id) if swapped else (a_id, b_id)
    viewable_at = aware(created_at) + timedelta(milliseconds=min_view_ms)
    return _Lease(
        assignment_id, participant_id, group, quota, status, aware(expires_at), slot_id, pair_id, shown, viewable_at,
        slot_status, slot_group, a_id, Study(pk=study_id, allocation=allocation, k_min=k_min, precision=precision),
    )


def _record(user: AbstractBaseUser, data: JudgmentInput, now: datetime) -> Submission:
    with transaction.atomic(), statements() as sql:
        lease = _locked_assignment(sql, user, data.assignment_id)
        if lease.status in (Assignment.Status.JUDGED, Assignment.Status.SKIPPED):
            raise _refusal(lease.status, lease.id, lease.expires_at)
        if lease.status in (Assignment.Status.ACTIVE, Assignment.Status.EXPIRED) and now < lease.viewable_at:
            raise _refusal("too_soon", lease.id, lease.expires_at)
        if lease.status == Assignment.Status.ACTIVE:
            # Live, or lapsed with nobody on its slot (taking the slot would have ended this lease).
            return _create(sql, lease, data, now)
        if _slot_taken_back(sql, lease):
            return _create(sql, lease, data, now)
    raise _refusal("expired", lease.id, lease.expires_at)


def _slot_taken_back(sql: Statements, lease: _Lease) -> bool:
    return slot_taken_back(sql, slot_id=lease.slot_id, slot_status=lease.slot_status, slot_group=lease.slot_group,
                           participant_id=lease.participant_id, group_key=lease.group_key,
                           task=("pair_id", lease.pair_id))


def slot_taken_back(sql: Statements, *, slot_id: int, slot_status: str, slot_group: str, participant_id: int,
                    group_key: str, task: tuple[str, int]) -> bool:
    """An ended lease whose slot is still free: take the slot back for this judgment, within the group cap.
    `task` names the assignment column and id of what was leased: ("pair_id", id) or ("candidate_set_id", id)."""
    if slot_status != "open":
        return False
    column, task_id = task
    if column not in ("pair_id", "candidate_set_id"):
        raise ValueError(f"no task column {column!r}")
    if sql.one(
        f"SELECT 1 FROM annotation_assignment WHERE participant_id = %s AND {column} = %s AND status <> 'expired'",
        [participant_id, task_id],
    ):
        return False  # the task is theirs again under another lease: that one is on their screen
    try:
        with transaction.atomic():
            sql.run(
                "UPDATE annotation_slot SET status = 'done', lease_expires_at = NULL, open_group = %s WHERE id = %s",
                ["" if slot_group else group_key, slot_id],
            )
    except IntegrityError:
        return False  # the group already holds this task's open slot
    return True


_INSERT_JUDGMENT_SQL = """
INSERT INTO annotation_judgment (participant_id, pair_id, assignment_id, candidate_a_id, candidate_b_id, choice,
  strength, rationale, group_key, time_taken_ms, origin, client_id, created_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'web', %s, %s) RETURNING id"""


def _create(sql: Statements, lease: _Lease, data: JudgmentInput, now: datetime) -> Submission:
    judgment = _new_judgment(
        data, now, participant_id=lease.participant_id, pair_id=lease.pair_id, group_key=lease.group_key,
        candidate_a_id=lease.shown_ids[0], candidate_b_id=lease.shown_ids[1],
    )
    (judgment.pk,) = sql.one(_INSERT_JUDGMENT_SQL, [
        lease.participant_id, lease.pair_id, lease.id, *lease.shown_ids, judgment.choice, judgment.strength,
        judgment.rationale, judgment.group_key, judgment.time_taken_ms, judgment.client_id, db_time(now),
    ])
    sql.run("UPDATE annotation_assignment SET status = 'judged' WHERE id = %s", [lease.id])
    sql.run("UPDATE annotation_slot SET status = 'done', lease_expires_at = NULL WHERE id = %s", [lease.slot_id])
    if judgment.choice != Judgment.Choice.BOTH_BAD:
        pair_counts_record(sql, pair_id=lease.pair_id, study_id=lease.study.pk, group_key=lease.group_key,
                           win=pair_win(judgment.choice, lease.shown_ids[0], lease.pair_a_id))
        if lease.study.allocation == Study.Allocation.ADAPTIVE:
            pair_allocate(sql, study_id=lease.study.pk, pair_id=lease.pair_id, rule=allocation_rule(lease.study))
    return Submission(judgment, True, Progress(done=judgments_done(sql, lease.participant_id), quota=lease.quota))
