"""The quality page's numbers, per annotator: one GROUP BY per question, in the database.

- judgments: ordinary judgments (gold answers apart), whether or not the annotator is excluded, since
  this page is where exclusions are decided;
- median and 10th-percentile time, and the share faster than the study's min_judgment_ms (of timed ones);
- gold accuracy with its n;
- position bias: the share of A, as shown, among A / B answers (sides are randomised per lease, so a
  careful annotator is near 0.5 and one who always presses A is at 1.0);
- agreement with their own group vs other groups: over every (their judgment, another annotator's
  judgment of the same pair), the share that prefer the same side (or both say tie, or both say both
  bad); others who are excluded are left out.
"""

from dataclasses import asdict, dataclass

from django.db import connection
from django.db.models import Count, Q, Value

from annotation.gold_serving import GOLD_RIGHT
from annotation.models import GoldItem, Judgment, Participant, Study
from annotation.set_quality import percentiles, set_agreement, set_counts, set_gold, set_times


@dataclass
class AnnotatorQuality:
    participant_id: int
    annotator: str
    group: str
    judgments: int = 0
    median_ms: float | None = None
    p10_ms: float | None = None
    timed: int = 0
    fast_share: float | None = None
    gold_n: int = 0
    gold_accuracy: float | None = None
    position_bias: float | None = None
    ab_answers: int = 0
    own_group_agreement: float | None = None
    own_group_n: int = 0
    other_group_agreement: float | None = None
    other_group_n: int = 0
    flagged: bool = False
    flag_note: str = ""
    excluded: bool = False
    screened_out: bool = False

    def as_row(self) -> dict:
        return asdict(self)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _ordinary(study: Study):
    gold = GoldItem.objects.filter(study_id=study.pk, pair_id__isnull=False).values("pair_id")
    return Judgment.objects.filter(participant__study_id=study.pk).exclude(pair_id__in=gold)


def _counts(study: Study) -> dict[int, tuple[int, int, int, int, int]]:
    """participant -> (judgments, A as shown, A or B, timed, faster than min_judgment_ms)."""
    fast = (Count("id", filter=Q(time_taken_ms__lt=study.min_judgment_ms)) if study.min_judgment_ms is not None
            else Value(0))
    rows = (_ordinary(study).values_list("participant_id")
            .annotate(n=Count("id"), a=Count("id", filter=Q(choice="A")), ab=Count("id", filter=Q(choice__in="AB")),
                      timed=Count("time_taken_ms"), fast=fast).order_by())
    return {pk: rest for pk, *rest in rows}


def _gold(study: Study) -> dict[int, tuple[int, int]]:
    """participant -> (gold answers, right ones)."""
    rows = (Judgment.objects.filter(participant__study_id=study.pk, pair__gold__isnull=False)
            .values_list("participant_id").annotate(n=Count("id"), right=Count("id", filter=GOLD_RIGHT)).order_by())
    return {pk: (n, right) for pk, n, right in rows}


_PERCENTILES_SQL = """
SELECT j.participant_id,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY j.time_taken_ms),
       percentile_cont(0.1) WITHIN GROUP (ORDER BY j.time_taken_ms)
FROM annotation_judgment j JOIN annotation_participant pa ON pa.id = j.participant_id
WHERE pa.study_id = %s AND j.time_taken_ms IS NOT NULL
  AND j.pair_id NOT IN (SELECT pair_id FROM annotation_golditem WHERE study_id = %s AND pair_id IS NOT NULL)
GROUP BY j.participant_id"""


def _times(study: Study) -> dict[int, tuple[float, float]]:
    """participant -> (median, 10th percentile) of time taken, linear interpolation (percentile_cont)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_PERCENTILES_SQL, [study.pk, study.pk])
            return {pk: (float(median), float(p10)) for pk, median, p10 in cursor.fetchall()}
    # SQLite has no ordered-set aggregates: one ordered pass over (participant, time).
    timed = _ordinary(study).filter(time_taken_ms__isnull=False).order_by("participant_id", "time_taken_ms")
    return percentiles(list(timed.values_list("participant_id", "time_taken_ms")))


_CHOSEN = "CASE {j}.choice WHEN 'A' THEN {j}.candidate_a_id WHEN 'B' THEN {j}.candidate_b_id END"
_AGREE = (f"(({_CHOSEN.format(j='j1')}) = ({_CHOSEN.format(j='j2')})"
          " OR (j1.choice = j2.choice AND j1.choice IN ('tie', 'both_bad')))")
_AGREEMENT_SQL = f"""
SELECT j1.participant_id,
       SUM(CASE WHEN j2.group_key = j1.group_key THEN 1 ELSE 0 END),
       SUM(CASE WHEN j2.group_key = j1.group_key AND {_AGREE} THEN 1 ELSE 0 END),
       SUM(CASE WHEN j2.group_key <> j1.group_key THEN 1 ELSE 0 END),
       SUM(CASE WHEN j2.group_key <> j1.group_key AND {_AGREE} THEN 1 ELSE 0 END)
FROM annotation_judgment j1
JOIN annotation_participant p1 ON p1.id = j1.participant_id
JOIN annotation_judgment j2 ON j2.pair_id = j1.pair_id AND j2.participant_id <> j1.participant_id
JOIN annotation_participant p2 ON p2.id = j2.participant_id
WHERE p1.study_id = %s AND p2.excluded_at IS NULL
  AND j1.pair_id NOT IN (SELECT pair_id FROM annotation_golditem WHERE study_id = %s AND pair_id IS NOT NULL)
GROUP BY j1.participant_id"""


def _agreement(study: Study) -> dict[int, tuple[int, int, int, int]]:
    """participant -> (comparisons with own group, agreeing, with other groups, agreeing)."""
    with connection.cursor() as cursor:
        cursor.execute(_AGREEMENT_SQL, [study.pk, study.pk])
        return {pk: tuple(int(v or 0) for v in rest) for pk, *rest in cursor.fetchall()}


def study_annotator_quality(*, study: Study) -> list[AnnotatorQuality]:
    """Every annotator of the study, most judgments first. In a set study the columns read set judgments
    (annotation/set_quality.py): picks, their times, picks of the first shown, same best as others."""
    if study.task == Study.Task.PAIR:
        counts, gold, times, agreement = _counts(study), _gold(study), _times(study), _agreement(study)
    else:
        counts, gold, times, agreement = set_counts(study), set_gold(study), set_times(study), set_agreement(study)
    out = []
    for p in Participant.objects.filter(study_id=study.pk).order_by("external_id"):
        row = AnnotatorQuality(
            participant_id=p.pk, annotator=p.external_id, group=p.group_key, flagged=p.flagged_at is not None,
            flag_note=p.flag_note, excluded=p.excluded_at is not None, screened_out=p.screened_out_at is not None,
        )
        if p.pk in counts:
            row.judgments, a, row.ab_answers, row.timed, fast = counts[p.pk]
            row.position_bias = _share(a, row.ab_answers)
            if study.min_judgment_ms is not None:
                row.fast_share = _share(fast, row.timed)
        if p.pk in times:
            row.median_ms, row.p10_ms = times[p.pk]
        if p.pk in gold:
            row.gold_n, right = gold[p.pk]
            row.gold_accuracy = _share(right, row.gold_n)
        if p.pk in agreement:
            row.own_group_n, own, row.other_group_n, other = agreement[p.pk]
            row.own_group_agreement = _share(own, row.own_group_n)
            row.other_group_agreement = _share(other, row.other_group_n)
        out.append(row)
    out.sort(key=lambda r: (-r.judgments, r.annotator))
    return out
