"""Reads for pages and the API."""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count

from annotation.errors import Forbidden, NotFound
from annotation.models import Assignment, Judgment, Pair, Participant, Prompt, Study


def study_get(*, slug: str) -> Study:
    study = Study.objects.filter(slug=slug).first()
    if study is None:
        raise NotFound(f"no study with slug {slug!r}", code="unknown_study")
    return study


def participant_in_study(*, slug: str, user: AbstractBaseUser) -> Participant:
    """The user's profile in the study, in one query; the errors say which of the two is missing."""
    if user.is_authenticated:
        participant = Participant.objects.select_related("study").filter(study__slug=slug, user=user).first()
        if participant is not None:
            return participant
    return participant_of(study=study_get(slug=slug), user=user)


def participant_of(*, study: Study, user: AbstractBaseUser) -> Participant:
    participant = None
    if user.is_authenticated:
        participant = Participant.objects.select_related("study").filter(study=study, user=user).first()
    if participant is None:
        raise Forbidden(f"you have not joined study {study.slug!r}", code="not_joined")
    return participant


def participant_for_assignment(*, assignment_id: int, user: AbstractBaseUser) -> Participant:
    """The user's participant profile in the study the assignment belongs to."""
    own = Participant.objects.select_related("study").filter(assignments__id=assignment_id, user=user).first()
    if own is not None:
        return own  # the common case in one query; the rest only finds the right error
    study_id = Assignment.objects.filter(pk=assignment_id).values_list("participant__study_id", flat=True).first()
    if study_id is None:
        raise NotFound(f"assignment {assignment_id} does not exist", code="unknown_assignment")
    participant = Participant.objects.select_related("study").filter(study_id=study_id, user=user).first()
    if participant is None:
        raise Forbidden(f"assignment {assignment_id} belongs to another annotator", code="foreign_assignment")
    return participant


def study_counts(*, study: Study) -> dict[str, int]:
    by_status = dict(
        Assignment.objects.filter(participant__study=study).values_list("status").annotate(n=Count("id"))
    )
    return {
        "prompts": Prompt.objects.filter(study=study).count(),
        "pairs": Pair.objects.filter(prompt__study=study).count(),
        "participants": Participant.objects.filter(study=study).count(),
        "judgments": Judgment.objects.filter(participant__study=study).count(),
        "leases_active": by_status.get(Assignment.Status.ACTIVE, 0),
        "leases_expired": by_status.get(Assignment.Status.EXPIRED, 0),
    }
