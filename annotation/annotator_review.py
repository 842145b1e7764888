"""Reviewing annotators: researchers flag (with a note), admins exclude and lift exclusions.

Exclusion never deletes anything: it takes the annotator's judgments out of what counts
(annotation/counted_judgments.py: dashboards, refits, exports by default) and stops new pairs;
lifting it brings both back.
"""

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from annotation.access import is_admin, is_researcher
from annotation.errors import Forbidden, InputError, NotFound
from annotation.models import Participant, Study
from annotation.selectors import participant_cache_forget

MAX_NOTE = 2000


def annotator_get(*, study: Study, annotator_id: str) -> Participant:
    participant = Participant.objects.filter(study=study, external_id=annotator_id).first()
    if participant is None:
        raise NotFound(f"no annotator {annotator_id!r} in study {study.slug!r}", code="unknown_annotator")
    return participant


def annotator_flag(*, participant: Participant, note: str, by: AbstractBaseUser, now: datetime | None = None) -> None:
    """Flag an annotator for review, with the reason (researchers and admins)."""
    if not is_researcher(by):
        raise Forbidden("only researchers and admins may flag annotators", code="not_researcher")
    note = (note or "").strip()
    if not note:
        raise InputError("say why the annotator is flagged", field="note")
    if len(note) > MAX_NOTE:
        raise InputError(f"must be at most {MAX_NOTE} characters", field="note")
    participant.flagged_at, participant.flag_note = now or timezone.now(), note
    participant.save(update_fields=["flagged_at", "flag_note"])


def annotator_unflag(*, participant: Participant, by: AbstractBaseUser) -> None:
    if not is_researcher(by):
        raise Forbidden("only researchers and admins may flag annotators", code="not_researcher")
    participant.flagged_at, participant.flag_note = None, ""
    participant.save(update_fields=["flagged_at", "flag_note"])


@transaction.atomic
def annotator_set_excluded(
    *, participant: Participant, excluded: bool, by: AbstractBaseUser, now: datetime | None = None
) -> None:
    """Exclude an annotator (admins), or lift the exclusion; their judgments leave or rejoin what counts."""
    if not is_admin(by):
        raise Forbidden("only admins may exclude annotators or lift an exclusion", code="not_admin")
    now = now or timezone.now()
    if (participant.excluded_at is not None) == excluded:
        return
    participant.excluded_at = now if excluded else None
    participant.save(update_fields=["excluded_at"])
    # Dashboard snapshots computed before now no longer say what counts.
    Study.objects.filter(pk=participant.study_id).update(exclusions_changed_at=now)
    # This process's `next` sees it at once (and again after commit, in case a request cached it meanwhile).
    participant_cache_forget(participant.pk)
    transaction.on_commit(lambda: participant_cache_forget(participant.pk))
