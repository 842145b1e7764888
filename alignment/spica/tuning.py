"""Alphas per group, tuned on dev scenarios by coordinate-wise grid search.

Objective: how well the prediction rule (retrieval.py) predicts group g's own answers on dev scenarios,
each dev scenario used as a query against the bank with itself left out (leave-scenario-out): the RMSE
of g's ratings where g rated dev scenarios (ratings are the finer signal, and what SPICA's paper
scores), otherwise the accuracy on g's pairwise judgments. The
(Q, n_b) similarity block is computed once; each grid point only adds a bonus vector and re-selects
the top m, so a point costs one pass over the block. Coordinate ascent starts at alpha = 0 and moves
only on a strict improvement, so a group whose metrics do not help keeps the similarity-only baseline.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alignment.spica.data import GroupJudgments, GroupRatings, SpicaData
from alignment.spica.metrics import METRICS
from alignment.spica.retrieval import (
    SpicaIndex,
    metric_bonus,
    nearest_pool,
    pair_accuracy,
    pool_size,
    predicted_ratings,
    predicted_utilities,
    rating_error,
    rerank_pool,
    retrieved_similarity,
)

ALPHA_GRID = (-0.2, -0.1, 0.0, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6)


@dataclass(frozen=True)
class TunedAlphas:
    alphas: np.ndarray  # (G, M) in METRICS order
    dev_accuracy: np.ndarray  # (G,) with the tuned alphas
    dev_accuracy_similarity: np.ndarray  # (G,) alpha = 0
    metric_names: tuple[str, ...] = METRICS
    objective: tuple[str, ...] = ()  # per group: "rmse" (g rated dev scenarios) or "accuracy"
    dev_rmse: np.ndarray | None = None  # (G,) NaN for a group tuned on accuracy
    dev_rmse_similarity: np.ndarray | None = None


@dataclass(frozen=True)
class QuerySet:
    """Queries against an index with their (Q, n_b) similarity block, their nearest pools for top-m
    retrieval, own bank position (-1: not in the bank), candidate features and the judgments (and
    ratings, if any) that score the predictions."""

    similarity: np.ndarray
    pool: np.ndarray  # (Q, P) bank positions the metric bonus may re-rank
    features: np.ndarray  # (Q, C, F)
    position: np.ndarray  # (n_s,) query position of each scenario row, -1 if not a query
    judgments: GroupJudgments
    ratings: GroupRatings | None = None


def query_set(data: SpicaData, index: SpicaIndex, rows: np.ndarray, m: int) -> QuerySet:
    rows = np.asarray(rows, dtype=np.int64)
    similarity = data.embeddings[rows].astype(np.float32) @ index.embeddings.T
    bank_position = np.full(data.n_scenarios, -1, dtype=np.int64)
    bank_position[index.rows] = np.arange(len(index))
    own = bank_position[rows]
    similarity[np.flatnonzero(own >= 0), own[own >= 0]] = -np.inf  # leave the query's scenario out
    position = np.full(data.n_scenarios, -1, dtype=np.int64)
    position[rows] = np.arange(len(rows))
    ratings = None if data.ratings is None else data.ratings.for_scenarios(rows)
    pool = nearest_pool(similarity, pool_size(m, len(index)))
    return QuerySet(similarity, pool, data.candidate_features[rows], position, data.judgments.for_scenarios(rows),
                    ratings)


def _retrieve(index: SpicaIndex, queries: QuerySet, group: int, alphas: np.ndarray, m: int) -> tuple[np.ndarray, ...]:
    """(Q, m) retrieved bank positions and the (Q, C) utilities they give the query candidates."""
    retrieved = rerank_pool(queries.similarity, queries.pool, metric_bonus(index, group, alphas), m)
    return retrieved, predicted_utilities(index, retrieved, group, queries.features)


def query_totals(index: SpicaIndex, queries: QuerySet, group: int, alphas: np.ndarray, m: int) -> np.ndarray:
    """[correct pairs, decided judgments, squared rating error, ratings, summed similarity of the
    retrieved scenarios to their queries, retrieved scenarios] of g's judgments and ratings of the
    queries, from one retrieval: sums, so chunks of queries pool by adding them."""
    retrieved, utilities = _retrieve(index, queries, group, alphas, m)
    correct, n = pair_accuracy(utilities, queries.position, queries.judgments.take(queries.judgments.group == group))
    squared, n_ratings = 0.0, 0
    if queries.ratings is not None:
        predicted = predicted_ratings(index, retrieved, group, utilities)
        squared, n_ratings = rating_error(predicted, queries.position,
                                          queries.ratings.take(queries.ratings.group == group))
    similarity, n_retrieved = retrieved_similarity(queries.similarity, retrieved)
    return np.array([correct, n, squared, n_ratings, similarity, n_retrieved], dtype=np.float64)


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
    queries = query_set(data, index, dev_rows, m)
    n_metrics = index.z.shape[2]
    alphas = np.zeros((data.n_groups, n_metrics))
    best_totals, base_totals = np.zeros((data.n_groups, 6)), np.zeros((data.n_groups, 6))
    for group in range(data.n_groups):
        best_totals[group] = base_totals[group] = query_totals(index, queries, group, alphas[group], m)
        best = _objective(best_totals[group])
        for _ in range(sweeps):
            for metric in range(n_metrics):
                for value in grid:
                    if value == alphas[group][metric]:
                        continue  # the current point: already scored
                    trial = alphas[group].copy()
                    trial[metric] = value
                    totals = query_totals(index, queries, group, trial, m)
                    if _objective(totals) > best:
                        best, best_totals[group], alphas[group] = _objective(totals), totals, trial
    return TunedAlphas(
        alphas, _accuracy(best_totals), _accuracy(base_totals),
        objective=tuple("rmse" if rated else "accuracy" for rated in base_totals[:, 3] > 0),
        dev_rmse=_rmse(best_totals), dev_rmse_similarity=_rmse(base_totals),
    )


def _objective(totals: np.ndarray) -> float:
    """Higher is better: minus the rating RMSE where there are ratings, else pair accuracy."""
    correct, n, squared, n_ratings = totals[:4]
    if n_ratings > 0:
        return -float(np.sqrt(squared / n_ratings))
    return correct / n if n else float("-inf")


def _accuracy(totals: np.ndarray) -> np.ndarray:
    return np.where(totals[:, 1] > 0, totals[:, 0] / np.maximum(totals[:, 1], 1), np.nan)


def _rmse(totals: np.ndarray) -> np.ndarray:
    return np.where(totals[:, 3] > 0, np.sqrt(totals[:, 2] / np.maximum(totals[:, 3], 1)), np.nan)
