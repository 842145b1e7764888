"""Alphas per group, tuned on dev scenarios by coordinate-wise grid search.

Objective: accuracy of the prediction rule (retrieval.py) on group g's judgments of dev scenarios,
each dev scenario used as a query against the bank with itself left out (leave-scenario-out). The
(Q, n_b) similarity block is computed once; each grid point only adds a bonus vector and re-selects
the top m, so a point costs one pass over the block. Coordinate ascent starts at alpha = 0 and moves
only on a strict improvement, so a group whose metrics do not help keeps the similarity-only baseline.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alignment.spica.data import GroupJudgments, SpicaData
from alignment.spica.metrics import METRICS
from alignment.spica.retrieval import SpicaIndex, metric_bonus, pair_accuracy, predicted_utilities, top_m_from_scores

ALPHA_GRID = (-0.2, -0.1, 0.0, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6)


@dataclass(frozen=True)
class TunedAlphas:
    alphas: np.ndarray  # (G, M) in METRICS order
    dev_accuracy: np.ndarray  # (G,) with the tuned alphas
    dev_accuracy_similarity: np.ndarray  # (G,) alpha = 0
    metric_names: tuple[str, ...] = METRICS


@dataclass(frozen=True)
class QuerySet:
    """Queries against an index with their (Q, n_b) similarity block, own bank position (-1: not in
    the bank), candidate features and the judgments that score the predictions."""

    similarity: np.ndarray
    features: np.ndarray  # (Q, C, F)
    position: np.ndarray  # (n_s,) query position of each scenario row, -1 if not a query
    judgments: GroupJudgments


def query_set(data: SpicaData, index: SpicaIndex, rows: np.ndarray) -> QuerySet:
    rows = np.asarray(rows, dtype=np.int64)
    similarity = data.embeddings[rows].astype(np.float32) @ index.embeddings.T
    bank_position = np.full(data.n_scenarios, -1, dtype=np.int64)
    bank_position[index.rows] = np.arange(len(index))
    own = bank_position[rows]
    similarity[np.flatnonzero(own >= 0), own[own >= 0]] = -np.inf  # leave the query's scenario out
    position = np.full(data.n_scenarios, -1, dtype=np.int64)
    position[rows] = np.arange(len(rows))
    return QuerySet(similarity, data.candidate_features[rows], position, data.judgments.for_scenarios(rows))


def query_accuracy(index: SpicaIndex, queries: QuerySet, group: int, alphas: np.ndarray, m: int) -> float:
    scores = queries.similarity + metric_bonus(index, group, alphas)[None, :]
    retrieved = top_m_from_scores(scores, m)
    utilities = predicted_utilities(index, retrieved, group, queries.features)
    correct, n = pair_accuracy(utilities, queries.position, queries.judgments.take(queries.judgments.group == group))
    return correct / n if n else float("nan")


def tune_alphas(
    data: SpicaData,
    index: SpicaIndex,
    dev_rows: np.ndarray,
    *,
    m: int = 10,
    grid: tuple[float, ...] = ALPHA_GRID,
    sweeps: int = 2,
    max_queries: int = 400,
    seed: int = 0,
) -> TunedAlphas:
    """`index` is the bank the dev queries retrieve from (typically train + dev scenarios). At most
    `max_queries` dev scenarios, drawn at random, keep the similarity block small at 50k-scenario banks."""
    dev_rows = np.asarray(dev_rows, dtype=np.int64)
    if len(dev_rows) > max_queries:
        dev_rows = np.sort(np.random.default_rng(seed).choice(dev_rows, size=max_queries, replace=False))
    queries = query_set(data, index, dev_rows)
    n_metrics = index.z.shape[2]
    alphas, best, baseline = np.zeros((data.n_groups, n_metrics)), np.zeros(data.n_groups), np.zeros(data.n_groups)
    for group in range(data.n_groups):
        baseline[group] = best[group] = query_accuracy(index, queries, group, alphas[group], m)
        for _ in range(sweeps):
            for metric in range(n_metrics):
                for value in grid:
                    if value == alphas[group][metric]:
                        continue  # the current point: already scored
                    trial = alphas[group].copy()
                    trial[metric] = value
                    accuracy = query_accuracy(index, queries, group, trial, m)
                    if accuracy > best[group]:
                        best[group], alphas[group] = accuracy, trial
    return TunedAlphas(alphas, best, baseline)
