"""The rows a refit trains on: a study's A / B / tie judgments and its ratings up to the ids recorded at
launch, so that a run reads exactly its snapshot however much arrives before a worker starts it."""

from dataclasses import dataclass

from django.db.models import Max, QuerySet

from alignment.pal.data import TIE
from annotation.counted_judgments import judgments_that_count, ratings_that_count
from annotation.models import Judgment, Rating, Study

# "Both bad" says nothing about which answer is better: no fit trains on it.
LABELS = {Judgment.Choice.A: 1.0, Judgment.Choice.B: 0.0, Judgment.Choice.TIE: TIE}


@dataclass(frozen=True)
class TrainingSnapshot:
    judgment_count: int
    last_judgment_id: int | None
    last_rating_id: int | None


def training_snapshot(*, study: Study) -> TrainingSnapshot:
    judgments = Judgment.objects.filter(participant__study=study)
    last_rating = Rating.objects.filter(participant__study=study).aggregate(last=Max("id"))["last"]
    last_judgment = judgments.aggregate(last=Max("id"))["last"]
    count = training_judgments(study=study, last_judgment_id=last_judgment).count()
    return TrainingSnapshot(count, last_judgment, last_rating)


def training_judgments(*, study: Study, last_judgment_id: int | None = None,
                       prompts: str = "all") -> QuerySet[Judgment]:
    """The judgments that count (no gold answers, no excluded annotators, within the prompt scope) up to the
    snapshot; None: all of them now (a run passes 0 for a study that had none at launch)."""
    rows = judgments_that_count(study=study, prompts=prompts).filter(choice__in=list(LABELS))
    return rows if last_judgment_id is None else rows.filter(id__lte=last_judgment_id)


def training_ratings(*, study: Study, last_rating_id: int | None = None) -> QuerySet[Rating]:
    rows = ratings_that_count(study=study)
    return rows if last_rating_id is None else rows.filter(id__lte=last_rating_id)
