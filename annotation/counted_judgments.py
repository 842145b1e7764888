"""Which judgments count: the one selector that dashboards, refits and exports read through.

Left out: answers to gold items (attention checks, annotation/gold.py: gold pairs, and gold sets with their
comparisons), the judgments and ratings
of excluded annotators (annotation/annotator_review.py), and ties where the study says so
(`Study.ties`: "half", the default, counts a tie half a vote to each side downstream; "drop" leaves
them out of dashboards, leaderboards, fit counts and the PAL and SPICA datasets). Nothing is deleted:
lifting an exclusion or going back to "half" brings the judgments back everywhere, and the export
(raw data) keeps ties whatever the rule. Both exclusions are NOT IN over a short list (a study's gold
pairs, its excluded annotators), so the big GROUP BYs gain no join.

Prompt scope (issue 13): a researcher can leave out prompts that annotators wrote. `prompts="all"` (the
default) keeps everything; "pregenerated" leaves out every turn of a conversation whose first prompt the
annotator wrote (Community Alignment's `is_pregenerated_first_prompt = False`); "first-turns" keeps only
prompts nobody wrote: study prompts (pairs, sets outside conversations) and the first turn of conversations
that began with a pregenerated prompt (later user turns are always the annotator's). Only set judgments
belong to conversations, so the scope changes nothing in a pair study.
"""

from django.db.models import QuerySet
from django.utils import timezone

from annotation.errors import InputError
from annotation.models import Conversation, GoldItem, Judgment, Participant, Rating, SetJudgment, Study


def _gold_pairs(study_id: int) -> QuerySet:
    # Not NULL: a gold set's item has none, and NOT IN over a list holding NULL keeps nothing.
    return GoldItem.objects.filter(study_id=study_id, pair_id__isnull=False).values("pair_id")


def _gold_sets(study_id: int) -> QuerySet:
    return GoldItem.objects.filter(study_id=study_id, candidate_set_id__isnull=False).values("candidate_set_id")


def _gold_set_judgments(study_id: int) -> QuerySet:
    """Answers to gold sets: their comparisons (Judgment rows of origin "set") are gold answers too."""
    return SetJudgment.objects.filter(candidate_set_id__in=_gold_sets(study_id)).values("id")


def _without_gold(judgments: QuerySet, study_id: int, task: str) -> QuerySet:
    judgments = judgments.exclude(pair_id__in=_gold_pairs(study_id))
    if task == Study.Task.PAIR:
        return judgments  # no set judgments: the pair study's statements stay as they were
    return judgments.exclude(set_judgment_id__in=_gold_set_judgments(study_id))


def _excluded(study_id: int) -> QuerySet:
    return Participant.objects.filter(study_id=study_id, excluded_at__isnull=False).values("id")


PROMPT_SCOPES = {
    "all": "every prompt",
    "pregenerated": "conversations that began with a pregenerated prompt (annotator-written first prompts left out)",
    "first-turns": "prompts no annotator wrote (annotator-written first prompts and every later turn left out)",
}


def prompt_scope_check(prompts: str) -> str:
    """The scope, or InputError naming the field `prompts`: every door that takes a scope (pages, API, exports)
    and the selectors below check it here."""
    if prompts not in PROMPT_SCOPES:
        raise InputError(f"prompts must be one of {', '.join(PROMPT_SCOPES)}, got {prompts[:40]!r}", field="prompts")
    return prompts


def study_has_conversations(*, study: Study) -> bool:
    """Whether the prompt scope can change anything: only conversations hold annotator-written prompts."""
    return Conversation.objects.filter(study_id=study.pk).exists()


def _in_scope(set_judgments: QuerySet, prompts: str, via: str = "") -> QuerySet:
    """Set judgments (or, with via="set_judgment__", their pairwise judgments) within the prompt scope.
    Rows outside conversations (conversation NULL) are always in scope."""
    if prompt_scope_check(prompts) == "all":
        return set_judgments
    scoped = set_judgments.exclude(**{f"{via}conversation__first_prompt_pregenerated": False})
    if prompts == "first-turns":
        scoped = scoped.exclude(**{f"{via}turn__gt": 1})
    return scoped


def _tie_rule(judgments: QuerySet, ties: str) -> QuerySet:
    return judgments.exclude(choice=Judgment.Choice.TIE) if ties == Study.Ties.DROP else judgments


def judgments_that_count(*, study: Study, include_excluded: bool = False, keep_ties: bool = False,
                         prompts: str = "all") -> QuerySet:
    """The study's judgments without gold answers, without ties where the study drops them (unless
    keep_ties: the export is raw data), within the prompt scope and, unless asked, without excluded
    annotators'."""
    judgments = _without_gold(Judgment.objects.filter(participant__study_id=study.pk), study.pk, study.task)
    judgments = _in_scope(judgments, prompts, via="set_judgment__")
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
    ties, task = Study.objects.filter(pk=participant.study_id).values_list("ties", "task").first()
    judgments = _without_gold(Judgment.objects.filter(participant=participant), participant.study_id, task)
    return _tie_rule(judgments, ties)


def set_judgments_that_count(*, study: Study, include_excluded: bool = False, prompts: str = "all") -> QuerySet:
    """The study's set judgments (issue 13) within the prompt scope, without excluded annotators' unless asked:
    what the set exports write. Their pairwise judgments (origin "set") go through judgments_that_count like
    any other. Answers to gold sets are left out, as gold pairs' are."""
    judgments = _in_scope(SetJudgment.objects.filter(participant__study_id=study.pk)
                          .exclude(candidate_set_id__in=_gold_sets(study.pk)), prompts)
    if not include_excluded:
        judgments = judgments.exclude(participant_id__in=_excluded(study.pk))
    return judgments
