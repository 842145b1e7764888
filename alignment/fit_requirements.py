"""The least data each kind of refit needs, and what a study has of it: the runners refuse less, and the
launch form states both before anyone launches. Light on imports (no torch) so the web process can read it."""

from dataclasses import dataclass

from django.db.models import Count

from annotation.counted_judgments import judgments_that_count
from annotation.models import Study

PAL_MIN_JUDGMENTS = 40
PAL_MIN_ANNOTATORS = 4
SPICA_MIN_SCENARIOS = 10
SPICA_MIN_GROUPS = 2
FIT_CHOICES = ("A", "B", "tie")  # "both bad" says nothing about which answer is better


@dataclass(frozen=True)
class FitRequirement:
    kind: str
    needs: str
    has: str
    met: bool


def fit_requirements(*, study: Study) -> dict[str, FitRequirement]:
    # What the runners will read: the judgments that count (gold, exclusions and the tie rule applied).
    counts = judgments_that_count(study=study).filter(choice__in=FIT_CHOICES).aggregate(
        judgments=Count("id"), annotators=Count("participant_id", distinct=True),
        scenarios=Count("pair__prompt_id", distinct=True), groups=Count("group_key", distinct=True),
    )
    judgments, annotators = counts["judgments"], counts["annotators"]
    choices = "A/B" if study.ties == Study.Ties.DROP else "A/B/tie"
    scenarios, groups = counts["scenarios"], counts["groups"]
    return {
        "pal": FitRequirement(
            "pal", f"at least {PAL_MIN_JUDGMENTS} {choices} judgments from {PAL_MIN_ANNOTATORS} annotators",
            f"{judgments} from {annotators}",
            judgments >= PAL_MIN_JUDGMENTS and annotators >= PAL_MIN_ANNOTATORS),
        "spica": FitRequirement(
            "spica", f"at least {SPICA_MIN_SCENARIOS} judged prompts (scenarios) and {SPICA_MIN_GROUPS} groups",
            f"{scenarios} prompts and {groups} groups",
            scenarios >= SPICA_MIN_SCENARIOS and groups >= SPICA_MIN_GROUPS),
    }
