"""When a participant has earned the study's completion code, and when there is simply nothing to hand out *yet*."""

from annotation.assignment import Progress, pair_next_for_annotator, participant_progress
from annotation.conversations import conversation_progress
from annotation.models import Participant, Study
from annotation.pairing_jobs import study_preparing
from annotation.set_assignment import set_next_for_annotator


def task_next_for_annotator(*, participant: Participant):
    """`next` of the participant's study: a pair (assignment.Task) or a set (set_assignment.SetTask), or None."""
    if participant.study.task == Study.Task.SET:
        return set_next_for_annotator(participant=participant)
    return pair_next_for_annotator(participant=participant)


def completion_progress(*, participant: Participant) -> Progress | None:
    """The participant's progress once the code is earned (quota met, or nothing left to judge); None while
    work remains. Asking `next` is what "nothing left" means: it leases the pair the annotate page then shows.
    A study whose pairs are still being made (embedding on a worker) has work to come: no code for it.
    A conversation study counts turns judged, and always has work to offer until the quota is met."""
    if participant.study.task == Study.Task.CONVERSATION:
        progress = conversation_progress(participant=participant)
        return progress if progress.finished else None
    progress = participant_progress(participant=participant)
    if progress.finished:
        return progress
    if task_next_for_annotator(participant=participant) is None and not study_preparing(study_id=participant.study_id):
        return progress
    return None


def awaiting_pairs(*, participant: Participant) -> bool:
    """Asked once `next` found nothing: the quota is not met and the study's pairs are still being made, so
    the annotator is told to come back, not sent to the completion page."""
    return study_preparing(study_id=participant.study_id) and not participant_progress(participant=participant).finished
