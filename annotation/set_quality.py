"""The quality page's numbers for a set study (issue 13), per annotator, in the same columns as pairs:

- judgments: set judgments (their expanded comparisons would count each pick three or more times);
- median and 10th-percentile time, and the share faster than min_judgment_ms, from the set judgments' own times
  (their comparisons carry none);
- position bias: the share of picks that were the response shown first; shown orders are drawn per assignment,
  so a careful annotator is near 1 / set size, one who always takes the first near 1.0;
- agreement: over every (their set judgment, another annotator's judgment of the same set), the share that
  picked the same best, with their own group and with other groups; excluded others are left out.
- gold accuracy with its n: answers to gold sets (annotation/gold.py), right when the best is the expected one.
Answers to gold sets are left out of every other column, as gold pairs' are in a pair study.
"""

import numpy as np
from django.db import connection
from django.db.models import Count, F, Q, Value

from annotation.models import GoldItem, SetJudgment, Study

_AGREEMENT_SQL = """
SELECT s1.participant_id,
       SUM(CASE WHEN s2.group_key = s1.group_key THEN 1 ELSE 0 END),
       SUM(CASE WHEN s2.group_key = s1.group_key AND s2.best_id = s1.best_id THEN 1 ELSE 0 END),
       SUM(CASE WHEN s2.group_key <> s1.group_key THEN 1 ELSE 0 END),
       SUM(CASE WHEN s2.group_key <> s1.group_key AND s2.best_id = s1.best_id THEN 1 ELSE 0 END)
FROM annotation_setjudgment s1
JOIN annotation_participant p1 ON p1.id = s1.participant_id
JOIN annotation_setjudgment s2 ON s2.candidate_set_id = s1.candidate_set_id AND s2.participant_id <> s1.participant_id
JOIN annotation_participant p2 ON p2.id = s2.participant_id
WHERE p1.study_id = %s AND p2.excluded_at IS NULL
  AND s1.candidate_set_id NOT IN (SELECT candidate_set_id FROM annotation_golditem
                                   WHERE study_id = %s AND candidate_set_id IS NOT NULL)
GROUP BY s1.participant_id"""


def percentiles(rows: list[tuple[int, float]]) -> dict[int, tuple[float, float]]:
    """(participant, time) rows ordered by participant -> (median, 10th percentile), linear interpolation
    (as PostgreSQL's percentile_cont)."""
    out: dict[int, tuple[float, float]] = {}
    start = 0
    for end in range(1, len(rows) + 1):
        if end == len(rows) or rows[end][0] != rows[start][0]:
            times = np.array([t for _, t in rows[start:end]], dtype=float)
            out[rows[start][0]] = (float(np.percentile(times, 50)), float(np.percentile(times, 10)))
            start = end
    return out


def _ordinary(study: Study):
    gold = GoldItem.objects.filter(study_id=study.pk, candidate_set_id__isnull=False).values("candidate_set_id")
    return SetJudgment.objects.filter(participant__study_id=study.pk).exclude(candidate_set_id__in=gold)


def set_counts(study: Study) -> dict[int, tuple[int, int, int, int, int]]:
    """participant -> (set judgments, picks of the first shown, set judgments, timed, faster than min_judgment_ms):
    the pair columns' shape, with "A as shown among A/B" read as "first shown among picks"."""
    judgments = _ordinary(study)
    fast = (Count("id", filter=Q(time_taken_ms__lt=study.min_judgment_ms)) if study.min_judgment_ms is not None
            else Value(0))
    rows = judgments.values_list("participant_id").annotate(n=Count("id"), timed=Count("time_taken_ms"),
                                                            fast=fast).order_by()
    first: dict[int, int] = {}
    # The first shown member sits in a JSON list: compared here rather than in SQL that each database spells
    # differently. One short row per set judgment.
    for pk, shown, best in judgments.values_list("participant_id", "shown", "best_id").iterator(chunk_size=5000):
        first[pk] = first.get(pk, 0) + int(bool(shown) and shown[0] == best)
    return {pk: (n, first.get(pk, 0), n, timed, fast) for pk, n, timed, fast in rows}


def set_times(study: Study) -> dict[int, tuple[float, float]]:
    rows = list(_ordinary(study).filter(time_taken_ms__isnull=False)
                .order_by("participant_id", "time_taken_ms").values_list("participant_id", "time_taken_ms"))
    return percentiles(rows)


def set_agreement(study: Study) -> dict[int, tuple[int, int, int, int]]:
    """participant -> (set judgments compared with own group, same best, with other groups, same best)."""
    with connection.cursor() as cursor:
        cursor.execute(_AGREEMENT_SQL, [study.pk, study.pk])
        return {pk: tuple(int(v or 0) for v in rest) for pk, *rest in cursor.fetchall()}


def set_gold(study: Study) -> dict[int, tuple[int, int]]:
    """participant -> (gold set answers, right ones: the best was the expected one)."""
    rows = (SetJudgment.objects.filter(participant__study_id=study.pk, candidate_set__gold__isnull=False)
            .values_list("participant_id")
            .annotate(n=Count("id"), right=Count("id", filter=Q(best_id=F("candidate_set__gold__expected_id"))))
            .order_by())
    return {pk: (n, right) for pk, n, right in rows}
