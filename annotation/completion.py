"""When a participant has earned the study's completion code."""

from annotation.assignment import Progress, pair_next_for_annotator, participant_progress
from annotation.models import Participant


def completion_progress(*, participant: Participant) -> Progress | None:
    """The participant's progress once the code is earned (quota met, or nothing left to judge); None while
    work remains. Asking `next` is what "nothing left" means: it leases the pair the annotate page then shows."""
    progress = participant_progress(participant=participant)
    if progress.finished or pair_next_for_annotator(participant=participant) is None:
        return progress
    return None
