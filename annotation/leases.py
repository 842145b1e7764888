"""An annotator's own lease: keep it while they work on the pair or set (renew), or give it up (skip).

Neither is on the hot path (`next` and submit are); both take the caller's own live assignment only.
"""

from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from annotation.errors import Conflict, Forbidden, Gone, NotFound
from annotation.models import Assignment, Skip, Slot


def _own_live_assignment(user: AbstractBaseUser, assignment_id: int) -> Assignment:
    assignment = (
        Assignment.objects.select_for_update(of=("self",)).select_related("participant__study")
        .filter(pk=assignment_id).first()
    )
    if assignment is None:
        raise NotFound(f"assignment {assignment_id} does not exist", code="unknown_assignment")
    if assignment.participant.user_id != user.pk:
        raise Forbidden(f"assignment {assignment_id} belongs to another annotator", code="foreign_assignment")
    if assignment.status == Assignment.Status.JUDGED:
        raise Conflict(f"assignment {assignment_id} is already judged", code="already_judged")
    if assignment.status == Assignment.Status.SKIPPED:
        raise Conflict(f"assignment {assignment_id} was skipped", code="skipped")
    if assignment.status == Assignment.Status.EXPIRED:
        raise Gone(f"the lease on assignment {assignment_id} has ended and its pair may be with someone else",
                   code="lease_expired")
    return assignment


@transaction.atomic
def assignment_renew(*, user: AbstractBaseUser, assignment_id: int, now: datetime | None = None) -> datetime:
    """Extend the caller's lease by the study's lease_minutes from now; returns the new end.

    A lease past its end that nobody has taken over (taking it over would have ended it) is renewed too.
    """
    now = now or timezone.now()
    assignment = _own_live_assignment(user, assignment_id)
    expires_at = now + timedelta(minutes=assignment.participant.study.lease_minutes)
    assignment.expires_at = expires_at
    assignment.save(update_fields=["expires_at"])
    Slot.objects.filter(pk=assignment.slot_id, status=Slot.Status.LEASED).update(lease_expires_at=expires_at)
    return expires_at


@transaction.atomic
def assignment_skip(*, user: AbstractBaseUser, assignment_id: int, now: datetime | None = None) -> Skip:
    """The caller cannot judge this pair: release its slot to others, record the skip, and never serve
    them the pair again (the skipped assignment keeps it off their `next`)."""
    assignment = _own_live_assignment(user, assignment_id)
    assignment.status = Assignment.Status.SKIPPED
    assignment.save(update_fields=["status"])
    Slot.objects.filter(pk=assignment.slot_id, status=Slot.Status.LEASED).update(
        status=Slot.Status.OPEN, lease_expires_at=None, open_group=""
    )
    return Skip.objects.create(
        participant_id=assignment.participant_id, pair_id=assignment.pair_id,
        candidate_set_id=assignment.candidate_set_id, assignment=assignment,
        created_at=now or timezone.now(),
    )
