"""Reads behind the dashboards: one GROUP BY per question, never one row per judgment.

Every query here is built with the ORM (values()/annotate(), conditional counts) and runs on SQLite
and PostgreSQL alike. Results are plain lists of tuples.

Groups: judgments are grouped by their full group key ("country=FR|party=D"), or by participant id
where a participant's group can be looked up afterwards; slicing by one attribute (`attribute="party"`)
then sums the few aggregated rows that share that attribute's value (`group_label`). That sum runs
over pairs x groups rows, far cheaper than parsing the key of each of a million judgments in SQL.
"""

from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import numpy as np
from django.db import connection, transaction
from django.db.models import Count, F, Q, QuerySet
from django.db.models.functions import TruncDay, TruncHour

from annotation.counted_judgments import judgments_that_count, set_judgments_that_count
from annotation.gold import GOLD_STRATEGY
from annotation.models import Assignment, Candidate, CandidateSet, Pair, Participant, Prompt, Study

# "Prefers the pair's candidate_a", whichever side it was shown on (judgments store the candidates
# as shown, and `choice` refers to those).
PREFERS_PAIR_A = Q(choice="A", candidate_a_id=F("pair__candidate_a_id")) | Q(
    choice="B", candidate_b_id=F("pair__candidate_a_id")
)
PREFERS_PAIR_B = Q(choice="A", candidate_a_id=F("pair__candidate_b_id")) | Q(
    choice="B", candidate_b_id=F("pair__candidate_b_id")
)
COMPETITOR_FIELDS = ("source", "strategy")


@contextmanager
def analytical_reads() -> Iterator[None]:
    """A read transaction tuned for GROUP BYs over every judgment of a study (PostgreSQL only).

    JIT compilation costs 100-300 ms a query and saves less at a million rows, and the default 4 MB
    work_mem spills the pairs x groups aggregate to disk (an external merge sort); 64 MB keeps it a
    hash in memory. SET LOCAL ends with the transaction, so other requests keep the server's settings.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL jit = off")
                cursor.execute("SET LOCAL work_mem = '64MB'")
        yield


def _rows(queryset: QuerySet) -> list[tuple]:
    """Run an aggregate queryset and return its raw rows: for tens of thousands of rows of integers
    and strings, Django's per-row converters cost more than the query's transfer."""
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


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
    for row in rows:
        sums = merged[(*row[:label_at], group_label(row[label_at], attribute))]
        for i, value in enumerate(row[label_at + 1:]):
            sums[i] += value
    return [(*head, *sums) for head, sums in merged.items()]


def study_judgments(study: Study, prompts: str = "all") -> QuerySet:
    """The judgments that count (no gold answers, no excluded annotators, within the prompt scope): see
    annotation/counted_judgments.py."""
    return judgments_that_count(study=study, prompts=prompts)


# --- pairs and groups ------------------------------------------------------------------------------


def pair_group_counts(*, study: Study, prompts: str = "all") -> list[tuple[int, str, int, int, int, int]]:
    """(pair_id, full group key, prefers pair's a, prefers pair's b, ties, both bad) per pair and group."""
    return _rows(
        study_judgments(study, prompts)
        .values_list("pair_id", "group_key")
        .annotate(
            a=Count("id", filter=PREFERS_PAIR_A),
            b=Count("id", filter=PREFERS_PAIR_B),
            tie=Count("id", filter=Q(choice="tie")),
            bad=Count("id", filter=Q(choice="both_bad")),
        )
        .order_by()
    )


def pair_group_arrays(*, study: Study, prompts: str = "all", chunk: int = 50_000
                      ) -> tuple[np.ndarray, list[str], np.ndarray, np.ndarray]:
    """pair_group_counts as columns, read a chunk at a time: (pair ids, the full group keys, each row's
    index into them, answers as rows x (prefers a, prefers b, ties, both bad)). A few hundred thousand
    rows stay a few megabytes of arrays instead of as many Python tuples and strings."""
    queryset = (
        study_judgments(study, prompts).values_list("pair_id", "group_key")
        .annotate(a=Count("id", filter=PREFERS_PAIR_A), b=Count("id", filter=PREFERS_PAIR_B),
                  tie=Count("id", filter=Q(choice="tie")), bad=Count("id", filter=Q(choice="both_bad")))
        .order_by()
    )
    sql, params = queryset.query.sql_with_params()
    keys: dict[str, int] = {}
    pair_parts, key_parts, answer_parts = [], [], []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(chunk):
            pair_parts.append(np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows)))
            key_parts.append(np.fromiter((keys.setdefault(row[1], len(keys)) for row in rows), dtype=np.int32,
                                         count=len(rows)))
            answer_parts.append(np.array([row[2:] for row in rows], dtype=np.int64).reshape(-1, 4))
    if not pair_parts:
        return np.zeros(0, np.int64), [], np.zeros(0, np.int32), np.zeros((0, 4), np.int64)
    return np.concatenate(pair_parts), list(keys), np.concatenate(key_parts), np.concatenate(answer_parts)


def study_pairs(*, study: Study) -> list[tuple[int, int, str, float | None]]:
    """(pair_id, prompt_id, strategy, diversity) of every pair of the study."""
    return list(
        Pair.objects.filter(prompt__study_id=study.pk).exclude(strategy=GOLD_STRATEGY)
        .values_list("id", "prompt_id", "strategy", "diversity")
    )


def prompt_labels(*, study: Study) -> dict[int, tuple[str, list[str]]]:
    """prompt_id -> (external id, tags)."""
    return {
        pk: (external_id, [str(tag) for tag in tags] if isinstance(tags, list) else [])
        for pk, external_id, tags in Prompt.objects.filter(study_id=study.pk).values_list("id", "external_id", "tags")
    }


def pairs_with_texts(*, pair_ids: list[int]) -> dict[int, dict]:
    """The prompt's turns and both responses of a few pairs (the most divisive ones)."""
    rows = Pair.objects.filter(id__in=pair_ids).values(
        "id", "prompt__external_id", "prompt__turns", "candidate_a__external_id", "candidate_a__text",
        "candidate_a__source", "candidate_b__external_id", "candidate_b__text", "candidate_b__source",
    )
    return {row["id"]: row for row in rows}


# --- competitors ---------------------------------------------------------------------------------------


def competitor_counts(
    *, study: Study, prompts: str = "all", by: str, chunk: int = 50_000
) -> tuple[list[str], np.ndarray, list[str], np.ndarray, np.ndarray]:
    """Judgments between different competitors, where a competitor is a candidate's `source` or
    `strategy`, aggregated in SQL per (full group key, competitor of the pair's a, competitor of its b)
    and read a chunk at a time into columns: (group keys, each row's key index, competitor names, each
    row's (a, b) name indices as rows x 2, (a won, b won, ties) as rows x 3). Both-bad answers and pairs of
    one competitor say nothing about who is better and are left out."""
    if by not in COMPETITOR_FIELDS:
        raise ValueError(f"by must be one of {COMPETITOR_FIELDS}")
    first, second = f"pair__candidate_a__{by}", f"pair__candidate_b__{by}"
    queryset = (
        study_judgments(study, prompts).exclude(**{first: F(second)}).filter(choice__in=("A", "B", "tie"))
        .values_list("group_key", first, second)
        .annotate(a=Count("id", filter=PREFERS_PAIR_A), b=Count("id", filter=PREFERS_PAIR_B),
                  tie=Count("id", filter=Q(choice="tie")))
        .order_by()
    )
    sql, params = queryset.query.sql_with_params()
    keys: dict[str, int] = {}
    names: dict[str, int] = {}
    key_parts, name_parts, count_parts = [], [], []
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(chunk):
            key_parts.append(np.fromiter((keys.setdefault(row[0], len(keys)) for row in rows), np.int64, len(rows)))
            name_parts.append(np.fromiter((names.setdefault(name, len(names)) for row in rows for name in row[1:3]),
                                          np.int64, 2 * len(rows)).reshape(-1, 2))
            count_parts.append(np.array([row[3:] for row in rows], dtype=np.int64).reshape(-1, 3))
    if not key_parts:
        return [], np.zeros(0, np.int64), [], np.zeros((0, 2), np.int64), np.zeros((0, 3), np.int64)
    return (list(keys), np.concatenate(key_parts), list(names), np.concatenate(name_parts),
            np.concatenate(count_parts))


def competitors(*, study: Study, by: str) -> list[str]:
    if by not in COMPETITOR_FIELDS:
        raise ValueError(f"by must be one of {COMPETITOR_FIELDS}")
    return sorted(set(Candidate.objects.filter(prompt__study_id=study.pk).values_list(by, flat=True)))


# --- progress --------------------------------------------------------------------------------------


def judgments_over_time(*, study: Study, prompts: str = "all", attribute: str | None = None) -> tuple[str, list[tuple]]:
    """Judgments per (time bucket, group, choice as shown), in time order: daily buckets, or hourly ones
    when all judgments fall within two calendar days (one more pass, over a short study)."""

    def by(trunc) -> list[tuple]:
        rows = list(
            study_judgments(study, prompts)
            .annotate(bucket=trunc("created_at"))
            .values_list("bucket", "choice", "group_key")
            .annotate(n=Count("id"))
            .order_by()
        )
        return sorted((bucket, group, choice, n) for bucket, choice, group, n in
                      _sliced(rows, label_at=2, attribute=attribute))

    rows = by(TruncDay)
    if rows and rows[-1][0] - rows[0][0] <= timedelta(days=1):
        return "hour", by(TruncHour)
    return "day", rows


def pair_completion(*, study: Study, prompts: str = "all") -> tuple[int, int, int]:
    """(pairs, pairs with a judgment, pairs with k = overlap judgments or more: complete)."""
    per_pair = study_judgments(study, prompts).values("pair_id").annotate(n=Count("id")).order_by()
    return (Pair.objects.filter(prompt__study_id=study.pk).exclude(strategy=GOLD_STRATEGY).count(), per_pair.count(),
            per_pair.filter(n__gte=study.overlap).count())


def participant_groups(*, study: Study) -> dict[int, tuple[str, str]]:
    """participant_id -> (external id, full group key)."""
    return {pk: (external_id, key) for pk, external_id, key in
            Participant.objects.filter(study_id=study.pk).values_list("id", "external_id", "group_key")}


def judgments_per_participant(*, study: Study, prompts: str = "all") -> list[tuple[int, int, int]]:
    """(participant_id, judgments, both-bad answers) for every participant with a judgment."""
    return _rows(
        study_judgments(study, prompts).values_list("participant_id")
        .annotate(n=Count("id"), bad=Count("id", filter=Q(choice="both_bad"))).order_by()
    )


def assignments_per_participant(*, study: Study) -> list[tuple[int, str, int]]:
    """(participant_id, assignment status, assignments): leases handed out, judged, expired."""
    return _rows(
        Assignment.objects.filter(participant__study_id=study.pk, participant__excluded_at__isnull=True)
        .exclude(pair__strategy=GOLD_STRATEGY)
        .values_list("participant_id", "status").annotate(n=Count("id")).order_by()
    )


# --- bridging ------------------------------------------------------------------------------------------


def pair_candidates(*, study: Study) -> dict[int, tuple[int, int, int]]:
    """pair_id -> (prompt_id, candidate_a_id, candidate_b_id) of every pair of the study but gold ones."""
    return {pk: (prompt, a, b) for pk, prompt, a, b in _rows(
        Pair.objects.filter(prompt__study_id=study.pk).exclude(strategy=GOLD_STRATEGY)
        .values_list("id", "prompt_id", "candidate_a_id", "candidate_b_id")
    )}


def study_candidates(*, study: Study) -> list[tuple[int, int, str, str]]:
    """(candidate_id, prompt_id, external id, source) of every candidate of the study."""
    return _rows(Candidate.objects.filter(prompt__study_id=study.pk)
                 .values_list("id", "prompt_id", "external_id", "source").order_by("id"))


def candidate_texts(*, candidate_ids: list[int]) -> dict[int, str]:
    return dict(Candidate.objects.filter(id__in=candidate_ids).values_list("id", "text"))


def prompt_texts(*, prompt_ids: list[int]) -> dict[int, tuple[str, str]]:
    """prompt_id -> (external id, its turns' contents as one text) for a few prompts."""
    return {pk: (external_id, "\n\n".join(str(turn.get("content", "")) for turn in turns if isinstance(turn, dict))
                 if isinstance(turns, list) else "")
            for pk, external_id, turns in Prompt.objects.filter(id__in=prompt_ids)
            .values_list("id", "external_id", "turns")}


def set_first_choices(*, study: Study, prompts: str = "all", attribute: str | None = None
                      ) -> tuple[dict[int, tuple[str, list[str]]], list[tuple[int, str, str]]]:
    """Sets judged by two or more full groups: set id -> (prompt external id, member external ids), and one
    (set id, group, best's external id) per counted set judgment of them. Sets judged by one group (every
    set of a Community Alignment import) cannot diverge, so they stay in the database."""
    judgments = set_judgments_that_count(study=study, prompts=prompts)
    shared = (judgments.values("candidate_set_id").annotate(groups=Count("group_key", distinct=True))
              .filter(groups__gte=2).values("candidate_set_id"))
    picks = [(set_id, group_label(key, attribute), best) for set_id, key, best in
             judgments.filter(candidate_set_id__in=shared).values_list("candidate_set_id", "group_key",
                                                                       "best__external_id")]
    sets = {pk: (prompt, members) for pk, prompt, members in CandidateSet.objects.filter(
        pk__in={set_id for set_id, *_ in picks}).values_list("pk", "prompt__external_id", "members")}
    names = dict(Candidate.objects.filter(pk__in={c for _, members in sets.values() for c in members})
                 .values_list("pk", "external_id"))
    return {pk: (prompt, [names[c] for c in members]) for pk, (prompt, members) in sets.items()}, picks
