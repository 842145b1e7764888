"""Which judgments count: the one selector that dashboards, refits and exports read through.

Left out: answers to gold items (attention checks, annotation/gold.py), the judgments and ratings
of excluded annotators (annotation/annotator_review.py), and ties where the study says so
(`Study.ties`: "half", the default, counts a tie half a vote to each side downstream; "drop" leaves
them out of dashboards, leaderboards, fit counts and the PAL and SPICA datasets). Nothing is deleted:
lifting an exclusion or going back to "half" brings the judgments back everywhere, and the export
(raw data) keeps ties whatever the rule. Both exclusions are NOT IN over a short list (a study's gold
pairs, its excluded annotators), so the big GROUP BYs gain no join.
"""

from django.db.models import QuerySet
from django.utils import timezone

from annotation.models import GoldItem, Judgment, Participant, Rating, SetJudgment, Study


def _gold_pairs(study_id: int) -> QuerySet:
    return GoldItem.objects.filter(study_id=study_id).values("pair_id")


def _excluded(study_id: int) -> QuerySet:
    return Participant.objects.filter(study_id=study_id, excluded_at__isnull=False).values("id")


def _tie_rule(judgments: QuerySet, ties: str) -> QuerySet:
    return judgments.exclude(choice=Judgment.Choice.TIE) if ties == Study.Ties.DROP else judgments


def judgments_that_count(*, study: Study, include_excluded: bool = False, keep_ties: bool = False) -> QuerySet:
    """The study's judgments without gold answers, without ties where the study drops them (unless
    keep_ties: the export is raw data) and, unless asked, without excluded annotators'."""
    judgments = Judgment.objects.filter(participant__study_id=study.pk).exclude(pair_id__in=_gold_pairs(study.pk))
    if not include_excluded:
        judgments = judgments.exclude(participant_id__in=_excluded(study.pk))
    return judgments if keep_ties else _tie_rule(judgments, study.ties)


def ties_left_out(*, study: Study) -> int:
    """How many ties the study's rule leaves out (0 when ties count half)."""
    if study.ties != Study.Ties.DROP:
        return 0
    return judgments_that_count(study=study, keep_ties=True).filter(choice=Judgment.Choice.TIE).count()


def tie_rule_text(*, study: Study) -> str:
    """The rule as the researcher pages state it: "ties count half" or "ties left out (1,234)"."""
    if study.ties != Study.Ties.DROP:
        return "ties count half"
    return f"ties left out ({ties_left_out(study=study):,})"


def study_ties_set(*, study: Study, ties: str) -> None:
    """Change the tie rule; dashboard snapshots computed before now no longer say what counts."""
    if ties not in Study.Ties.values:
        raise ValueError(f"ties must be one of {', '.join(Study.Ties.values)}")
    now = timezone.now()
    Study.objects.filter(pk=study.pk).update(ties=ties, exclusions_changed_at=now)
    study.ties, study.exclusions_changed_at = ties, now


def ratings_that_count(*, study: Study, include_excluded: bool = False) -> QuerySet:
    ratings = Rating.objects.filter(participant__study_id=study.pk)
    if not include_excluded:
        ratings = ratings.exclude(participant_id__in=_excluded(study.pk))
    return ratings


def participant_judgments_that_count(*, participant: Participant) -> QuerySet:
    """One annotator's judgments without their gold answers, under the study's tie rule (few-shot mixtures)."""
    judgments = Judgment.objects.filter(participant=participant).exclude(pair_id__in=_gold_pairs(participant.study_id))
    ties = Study.objects.filter(pk=participant.study_id).values_list("ties", flat=True).first()
    return _tie_rule(judgments, ties)


def set_judgments_that_count(*, study: Study, include_excluded: bool = False) -> QuerySet:
    """The study's set judgments (issue 13), without excluded annotators' unless asked: what the set exports
    write. Their pairwise judgments (origin "set") go through judgments_that_count like any other."""
    judgments = SetJudgment.objects.filter(participant__study_id=study.pk)
    if not include_excluded:
        judgments = judgments.exclude(participant_id__in=_excluded(study.pk))
    return judgments
