"""Handing pairs to annotators: balanced across groups, leased, safe under concurrency.

`next` locks one open slot with SELECT ... FOR UPDATE SKIP LOCKED (PostgreSQL) so concurrent
annotators never wait on each other; on SQLite every write transaction is IMMEDIATE, which
serialises them instead. See DESIGN.md section 3.
"""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from annotation.models import Assignment, Candidate, Judgment, Participant, Slot

_MAX_CLAIM_ATTEMPTS = 8


@dataclass(frozen=True)
class Progress:
    done: int
    quota: int

    @property
    def finished(self) -> bool:
        return self.done >= self.quota


def participant_progress(*, participant: Participant) -> Progress:
    done = Judgment.objects.filter(participant=participant).count()
    return Progress(done=done, quota=participant.study.quota)


def assignment_expire(assignment: Assignment) -> None:
    """End a lapsed lease and reopen its slot (unless someone has since re-leased it)."""
    assignment.status = Assignment.Status.EXPIRED
    assignment.save(update_fields=["status"])
    Slot.objects.filter(pk=assignment.slot_id, status=Slot.Status.LEASED).update(
        status=Slot.Status.OPEN, lease_expires_at=None, open_group=""
    )


def _claimable_slots(participant: Participant, now: datetime):
    mine = (
        Assignment.objects.filter(participant=participant)
        .exclude(status=Assignment.Status.EXPIRED)
        .values("pair_id")
    )
    mine_or_open = Q(group_key__in=[participant.group_key, ""])
    wait = participant.study.open_slots_after
    if wait is not None:
        # Crowd liveness: a slot kept for a group that has not come opens to anyone after the wait.
        mine_or_open |= Q(pair__created_at__lte=now - timedelta(minutes=wait))
    slots = (
        Slot.objects.filter(study_id=participant.study_id)
        .filter(mine_or_open)
        .filter(Q(status=Slot.Status.OPEN) | Q(status=Slot.Status.LEASED, lease_expires_at__lt=now))
        # NOT IN over the participant's own (indexed, short) list beats a correlated NOT EXISTS that
        # PostgreSQL evaluates for every candidate slot.
        .exclude(pair_id__in=mine)
    )
    if participant.group_key:  # a study without groups has no per-group cap
        my_group_has_open = Slot.objects.filter(pair=OuterRef("pair"), open_group=participant.group_key)
        slots = slots.exclude(Q(group_key="") & Exists(my_group_has_open))
    # Lowest pair first, so pairs fill up and finish instead of all being half-done;
    # within a pair the group's own slot before an open one.
    return slots.order_by("pair_id", "-group_key", "id")


def _claim(slot: Slot, participant: Participant, now: datetime) -> Assignment:
    if slot.status == Slot.Status.LEASED:  # an expired lease: its holder loses it
        Assignment.objects.filter(slot=slot, status=Assignment.Status.ACTIVE).update(
            status=Assignment.Status.EXPIRED
        )
    expires_at = now + timedelta(minutes=participant.study.lease_minutes)
    slot.status = Slot.Status.LEASED
    slot.lease_expires_at = expires_at
    slot.open_group = participant.group_key if slot.group_key == "" else ""
    slot.save(update_fields=["status", "lease_expires_at", "open_group"])
    return Assignment.objects.create(
        slot=slot,
        pair_id=slot.pair_id,
        participant=participant,
        swapped=random.random() < 0.5,
        created_at=now,
        expires_at=expires_at,
    )


@transaction.atomic
def pair_next_for_annotator(*, participant: Participant, now: datetime | None = None) -> Assignment | None:
    """The participant's current lease, or a newly leased pair; None at quota or when nothing is left.

    The returned assignment carries `progress` (a Progress), so callers need not count again.
    """
    now = now or timezone.now()
    # Serialises one participant's own concurrent calls (two tabs) without touching anyone else.
    list(Participant.objects.select_for_update().filter(pk=participant.pk).values_list("pk"))
    active = list(
        Assignment.objects.filter(participant=participant, status=Assignment.Status.ACTIVE).order_by("id")
    )
    live = [a for a in active if a.expires_at > now]
    for lapsed in (a for a in active if a.expires_at <= now):
        assignment_expire(lapsed)
    progress = participant_progress(participant=participant)
    if live:
        return _with_texts(live[0].pk, progress)
    if progress.finished:
        return None
    skipped: list[int] = []
    for _ in range(_MAX_CLAIM_ATTEMPTS):
        candidates = _claimable_slots(participant, now).exclude(pk__in=skipped)
        slot = candidates.select_for_update(skip_locked=True, of=("self",)).first()
        if slot is None:
            return None
        try:
            with transaction.atomic():
                assignment = _claim(slot, participant, now)
        except IntegrityError:
            # Another annotator of the same group took this pair's open slot a moment ago.
            skipped.append(slot.pk)
            continue
        return _with_texts(assignment.pk, progress)
    return None


def _with_texts(assignment_id: int, progress: Progress) -> Assignment:
    assignment = Assignment.objects.select_related("pair__prompt", "pair__candidate_a", "pair__candidate_b").get(
        pk=assignment_id
    )
    assignment.progress = progress
    return assignment


def shown_candidates(assignment: Assignment) -> tuple[Candidate, Candidate]:
    """(left, right) as the annotator sees them."""
    pair = assignment.pair
    if assignment.swapped:
        return pair.candidate_b, pair.candidate_a
    return pair.candidate_a, pair.candidate_b


def shown_candidate_ids(assignment: Assignment) -> tuple[int, int]:
    pair = assignment.pair
    if assignment.swapped:
        return pair.candidate_b_id, pair.candidate_a_id
    return pair.candidate_a_id, pair.candidate_b_id


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
