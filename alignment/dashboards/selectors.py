"""Reads behind the dashboards: one GROUP BY per question, never one row per judgment.

Every query here runs on SQLite and PostgreSQL alike (the ORM's values()/annotate(), conditional
counts). Results are plain lists of tuples or dicts.

Groups: rows are grouped by the full group key ("country=FR|party=D") in SQL; slicing by one
attribute (`attribute="party"`) then sums the few rows of each pair or bucket that share that
attribute's value. That sum runs over aggregated rows (pairs x groups), which is far cheaper than
parsing the key for each of a million judgments in SQL.
"""

from collections import defaultdict
from datetime import timedelta

from django.db.models import Count, F, Max, Min, Q
from django.db.models.functions import TruncDay, TruncHour

from annotation.models import Assignment, Candidate, Judgment, Pair, Prompt, Study

# "Prefers the pair's candidate_a", whichever side it was shown on (judgments store the candidates
# as shown, and `choice` refers to those).
PREFERS_PAIR_A = Q(choice="A", candidate_a_id=F("pair__candidate_a_id")) | Q(
    choice="B", candidate_b_id=F("pair__candidate_a_id")
)
PREFERS_PAIR_B = Q(choice="A", candidate_a_id=F("pair__candidate_b_id")) | Q(
    choice="B", candidate_b_id=F("pair__candidate_b_id")
)


def group_label(key: str, attribute: str | None) -> str:
    """The group a full key belongs to when slicing by one attribute: "country=FR|party=D" -> "party=D"."""
    if not attribute:
        return key
    prefix = f"{attribute}="
    for part in key.split("|"):
        if part.startswith(prefix):
            return part
    return f"{attribute}=?"


def _sliced(rows: list[tuple], *, label_at: int, attribute: str | None) -> list[tuple]:
    """Relabel the group column of aggregated rows and sum the numeric columns after it."""
    if not attribute or not rows:
        return rows
    merged: dict[tuple, list[int]] = defaultdict(lambda: [0] * (len(rows[0]) - label_at - 1))
    labels: dict[str, str] = {}
    for row in rows:
        key = row[label_at]
        label = labels.get(key) or labels.setdefault(key, group_label(key, attribute))
        sums = merged[(*row[:label_at], label)]
        for i, value in enumerate(row[label_at + 1:]):
            sums[i] += value
    return [(*head, *sums) for head, sums in merged.items()]


def study_judgments(study: Study):
    return Judgment.objects.filter(pair__prompt__study_id=study.pk)


def pair_group_counts(*, study: Study, attribute: str | None = None) -> list[tuple[int, str, int, int, int, int]]:
    """(pair_id, group, prefers pair's a, prefers pair's b, ties, both bad) for each pair and group."""
    rows = list(
        study_judgments(study)
        .values_list("pair_id", "group_key")
        .annotate(
            a=Count("id", filter=PREFERS_PAIR_A),
            b=Count("id", filter=PREFERS_PAIR_B),
            tie=Count("id", filter=Q(choice="tie")),
            bad=Count("id", filter=Q(choice="both_bad")),
        )
        .order_by()
    )
    return _sliced(rows, label_at=1, attribute=attribute)


def study_pairs(*, study: Study) -> list[tuple[int, int, str, float | None]]:
    """(pair_id, prompt_id, strategy, diversity) of every pair of the study."""
    return list(
        Pair.objects.filter(prompt__study_id=study.pk).values_list("id", "prompt_id", "strategy", "diversity")
    )


def prompt_labels(*, study: Study) -> dict[int, tuple[str, list[str]]]:
    """prompt_id -> (external id, tags)."""
    return {
        pk: (external_id, tags if isinstance(tags, list) else [])
        for pk, external_id, tags in Prompt.objects.filter(study_id=study.pk).values_list("id", "external_id", "tags")
    }


def pairs_with_texts(*, pair_ids: list[int]) -> dict[int, dict]:
    """The prompt's turns and both responses of a few pairs (the most divisive ones)."""
    rows = Pair.objects.filter(id__in=pair_ids).values(
        "id", "prompt__external_id", "prompt__turns", "candidate_a__external_id", "candidate_a__text",
        "candidate_a__source", "candidate_b__external_id", "candidate_b__text", "candidate_b__source",
    )
    return {row["id"]: row for row in rows}


def competitor_counts(
    *, study: Study, by: str, attribute: str | None = None
) -> list[tuple[str, str, str, int, int, int]]:
    """(group, competitor shown as A, competitor shown as B, A won, B won, ties) where a competitor is a
    candidate's `source` or `strategy`. Both-bad answers and same-competitor pairs say nothing about
    who is better and are left out."""
    field = {"source": "source", "strategy": "strategy"}[by]
    rows = list(
        study_judgments(study)
        .exclude(choice="both_bad")
        .exclude(**{f"candidate_a__{field}": F(f"candidate_b__{field}")})
        .values_list("group_key", f"candidate_a__{field}", f"candidate_b__{field}")
        .annotate(
            a=Count("id", filter=Q(choice="A")),
            b=Count("id", filter=Q(choice="B")),
            tie=Count("id", filter=Q(choice="tie")),
        )
        .order_by()
    )
    # The group column comes first here; move it behind the competitors for _sliced, then back.
    moved = [(a, b, group, *counts) for group, a, b, *counts in rows]
    return [(group, a, b, *counts) for a, b, group, *counts in _sliced(moved, label_at=2, attribute=attribute)]


def competitors(*, study: Study, by: str) -> list[str]:
    field = {"source": "source", "strategy": "strategy"}[by]
    return sorted(set(Candidate.objects.filter(prompt__study_id=study.pk).values_list(field, flat=True)))


def judgment_span(*, study: Study) -> tuple:
    span = study_judgments(study).aggregate(first=Min("created_at"), last=Max("created_at"))
    return span["first"], span["last"]


def judgments_over_time(*, study: Study, attribute: str | None = None) -> tuple[str, list[tuple]]:
    """Judgments per (time bucket, group): hourly buckets for studies that span two days or less,
    daily ones otherwise. Returns the bucket size and (bucket, group, judgments) rows in time order."""
    first, last = judgment_span(study=study)
    hourly = first is not None and last - first <= timedelta(days=2)
    trunc = TruncHour if hourly else TruncDay
    rows = list(
        study_judgments(study)
        .annotate(bucket=trunc("created_at"))
        .values_list("bucket", "group_key")
        .annotate(n=Count("id"))
        .order_by()
    )
    return ("hour" if hourly else "day"), sorted(_sliced(rows, label_at=1, attribute=attribute))


def judgments_per_annotator(*, study: Study, attribute: str | None = None) -> list[tuple[str, str, int, int]]:
    """(annotator external id, group, judgments, both-bad answers) for every participant with a judgment."""
    rows = (
        Judgment.objects.filter(participant__study_id=study.pk)
        .values_list("participant__external_id", "group_key")
        .annotate(n=Count("id"), bad=Count("id", filter=Q(choice="both_bad")))
        .order_by()
    )
    return [(annotator, group_label(key, attribute), n, bad) for annotator, key, n, bad in rows]


def choice_counts(*, study: Study, attribute: str | None = None) -> list[tuple[str, str, int]]:
    """(group, choice as shown, judgments)."""
    rows = list(study_judgments(study).values_list("group_key", "choice").annotate(n=Count("id")).order_by())
    moved = [(choice, group, n) for group, choice, n in rows]
    return [(group, choice, n) for choice, group, n in _sliced(moved, label_at=1, attribute=attribute)]


def assignment_counts(*, study: Study, attribute: str | None = None) -> list[tuple[str, str, int]]:
    """(group, assignment status, assignments): leases handed out, judged, and expired."""
    rows = list(
        Assignment.objects.filter(participant__study_id=study.pk)
        .values_list("participant__group_key", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    moved = [(status, group, n) for group, status, n in rows]
    return [(group, status, n) for status, group, n in _sliced(moved, label_at=1, attribute=attribute)]
