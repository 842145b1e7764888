"""Which judgments count: the one selector that dashboards, refits and exports read through.

Left out: answers to gold items (attention checks, annotation/gold.py), and the judgments and ratings
of excluded annotators (annotation/annotator_review.py). Nothing is deleted: lifting an exclusion
brings an annotator's judgments back everywhere. Both exclusions are NOT IN over a short list (a
study's gold pairs, its excluded annotators), so the big GROUP BYs gain no join.
"""

from django.db.models import QuerySet

from annotation.models import GoldItem, Judgment, Participant, Rating, Study


def _gold_pairs(study_id: int) -> QuerySet:
    return GoldItem.objects.filter(study_id=study_id).values("pair_id")


def _excluded(study_id: int) -> QuerySet:
    return Participant.objects.filter(study_id=study_id, excluded_at__isnull=False).values("id")


def judgments_that_count(*, study: Study, include_excluded: bool = False) -> QuerySet:
    """The study's judgments without gold answers and, unless asked, without excluded annotators'."""
    judgments = Judgment.objects.filter(participant__study_id=study.pk).exclude(pair_id__in=_gold_pairs(study.pk))
    if not include_excluded:
        judgments = judgments.exclude(participant_id__in=_excluded(study.pk))
    return judgments


def ratings_that_count(*, study: Study, include_excluded: bool = False) -> QuerySet:
    ratings = Rating.objects.filter(participant__study_id=study.pk)
    if not include_excluded:
        ratings = ratings.exclude(participant_id__in=_excluded(study.pk))
    return ratings


def participant_judgments_that_count(*, participant: Participant) -> QuerySet:
    """One annotator's judgments without their gold answers (few-shot mixtures)."""
    return Judgment.objects.filter(participant=participant).exclude(pair_id__in=_gold_pairs(participant.study_id))
