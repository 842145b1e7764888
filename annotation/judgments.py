"""Recording judgments: idempotent by client id, never overwritten, only on a live lease."""

from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from annotation.assignment import assignment_expire, shown_candidate_ids
from annotation.errors import Conflict, Forbidden, Gone, InputError, NotFound
from annotation.models import Assignment, Judgment, Participant, Slot

MAX_RATIONALE = 5000


@dataclass(frozen=True)
class JudgmentInput:
    assignment_id: int
    choice: str
    client_id: str
    strength: str = ""
    rationale: str = ""
    time_taken_ms: int | None = None


def _validate(data: JudgmentInput) -> None:
    if data.choice not in Judgment.Choice.values:
        raise InputError(f"must be one of {', '.join(Judgment.Choice.values)}", field="choice")
    if data.strength and data.strength not in Judgment.Strength.values:
        raise InputError(f"must be empty or one of {', '.join(Judgment.Strength.values)}", field="strength")
    if not data.client_id or len(data.client_id) > 64:
        raise InputError("must be a non-empty string of at most 64 characters", field="client_id")
    if len(data.rationale) > MAX_RATIONALE:
        raise InputError(f"must be at most {MAX_RATIONALE} characters", field="rationale")


def _replay(participant: Participant, client_id: str) -> Judgment | None:
    existing = Judgment.objects.filter(client_id=client_id).first()
    if existing is not None and existing.participant_id != participant.pk:
        raise Conflict("this client_id belongs to another annotator's judgment", code="client_id_taken")
    return existing


def _locked_assignment(participant: Participant, assignment_id: int) -> Assignment:
    assignment = (
        Assignment.objects.select_for_update(of=("self",))
        .select_related("pair")
        .filter(pk=assignment_id)
        .first()
    )
    if assignment is None:
        raise NotFound(f"assignment {assignment_id} does not exist", code="unknown_assignment")
    if assignment.participant_id != participant.pk:
        raise Forbidden(f"assignment {assignment_id} belongs to another annotator", code="foreign_assignment")
    return assignment


def judgment_submit(
    *, participant: Participant, data: JudgmentInput, now: datetime | None = None
) -> tuple[Judgment, bool]:
    """(judgment, created). A replay of a client id returns the stored judgment unchanged."""
    _validate(data)
    now = now or timezone.now()
    try:
        return _record(participant, data, now), True
    except (Conflict, Gone):
        # A replay usually finds its assignment judged (or since expired): answer with what is stored.
        existing = _replay(participant, data.client_id)
        if existing is None:
            raise
        return existing, False
    except IntegrityError:
        # Two submissions of the same client id raced; the loser answers with the winner's row.
        existing = _replay(participant, data.client_id)
        if existing is None:
            raise
        return existing, False


def _record(participant: Participant, data: JudgmentInput, now: datetime) -> Judgment:
    expired_at = None
    with transaction.atomic():
        assignment = _locked_assignment(participant, data.assignment_id)
        if assignment.status == Assignment.Status.JUDGED:
            raise Conflict(
                f"assignment {assignment.pk} is already judged; a judgment is never overwritten",
                code="already_judged",
            )
        if assignment.status == Assignment.Status.EXPIRED or assignment.expires_at <= now:
            if assignment.status == Assignment.Status.ACTIVE:
                assignment_expire(assignment)
            expired_at = assignment.expires_at
        else:
            return _create(participant, assignment, data, now)
    raise Gone(
        f"the lease on assignment {assignment.pk} expired at {expired_at.isoformat()}; ask for the next pair",
        code="lease_expired",
    )


def _create(participant: Participant, assignment: Assignment, data: JudgmentInput, now: datetime) -> Judgment:
    left_id, right_id = shown_candidate_ids(assignment)
    judgment = Judgment.objects.create(
        participant=participant,
        pair=assignment.pair,
        assignment=assignment,
        candidate_a_id=left_id,
        candidate_b_id=right_id,
        choice=data.choice,
        strength=data.strength,
        rationale=data.rationale.strip(),
        group_key=participant.group_key,
        time_taken_ms=data.time_taken_ms,
        client_id=data.client_id,
        created_at=now,
    )
    assignment.status = Assignment.Status.JUDGED
    assignment.save(update_fields=["status"])
    Slot.objects.filter(pk=assignment.slot_id).update(status=Slot.Status.DONE, lease_expires_at=None)
    return judgment
