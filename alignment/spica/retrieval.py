"""Group-informed retrieval: score(s | q, g) = cos(e_q, e_s) + sum_m alpha_m * z_g(metric_m(s, g)),
relevance first: only the query's `pool_size(m)` nearest scenarios by similarity compete on that score.

Why the pool: z-scored metrics times tuned alphas can spread far wider than the cosine similarities of a
bank of related texts (on real data, bonus spreads of 0.3-1.0 against cosine spreads of about 0.1), and an
unbounded bonus then returns the same high-metric scenarios for every query. Restricting the norm bonus to
re-ranking the POOL_FACTOR * m nearest scenarios makes every retrieved scenario one of the query's nearest
by construction, whatever the alphas: two queries whose neighbourhoods are disjoint get disjoint results.

A bank of scenarios is an index: unit embeddings, the z-scored metric table per group, and each
scenario's contrastive demonstration per group (features of g's preferred minus dispreferred candidate).
Scoring Q queries against the bank is one (Q, D) x (D, n_b) product plus one (n_b, M) x (M,) product
per group; alpha = 0 adds exact zeros, so it is the similarity-only baseline bit for bit.

Prediction rule (pluralweb's): each of the top-m retrieved scenarios casts one vote, the feature
vector of g's preferred candidate minus that of its dispreferred one; their sum v is g's inferred
direction of preference, and a query candidate's predicted utility is features(c) . v. With stance
one-hot features (synthetic data) this is a contrastive vote over stances; with candidate embeddings it
is a nearest-direction guess, the numeric stand-in for an LLM reading preferred/dispreferred demos.

Ratings are predicted from the same m demonstrations, as an affine map of that same utility (so a rating
prediction orders a query's candidates as the pair rule does): the demos' own preferred and dispreferred
answers fix the scale. Utility u is put on [-1, 1] by the utility a demo's preferred answer gets from
its own vote (|contrast|^2 / 2, summed over the m demos), and mapped to mid + x * half, where mid and
half are the mean centre and half-gap of g's scores of the demos' preferred and dispreferred answers.
With stance one-hots: a stance every demo prefers gets the demos' mean preferred score, one none of
them mentions gets the middle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alignment.spica.data import TIE, GroupJudgments, GroupRatings, SpicaData
from alignment.spica.metrics import SpicaMetrics

POOL_FACTOR = 3  # the norm bonus re-ranks the POOL_FACTOR * m nearest scenarios, never beyond them


def pool_size(m: int, n_bank: int) -> int:
    """How many of the query's nearest scenarios the metric bonus may re-rank for a top-m retrieval."""
    return max(1, min(n_bank, POOL_FACTOR * m))


@dataclass(frozen=True)
class SpicaIndex:
    rows: np.ndarray  # (n_b,) scenario rows of the bank in the data
    embeddings: np.ndarray  # (n_b, D) float32, unit rows
    z: np.ndarray  # (G, n_b, M) float32, metrics standardised per group over the bank
    contrast: np.ndarray  # (G, n_b, F) float32, features of preferred minus dispreferred candidate; 0 without evidence
    preferred: np.ndarray  # (n_b, G) candidate index local to the scenario; -1 where g has no evidence on it
    dispreferred: np.ndarray  # (n_b, G)
    # (G, n_b, 2) g's scores on [0, 1] of the preferred and dispreferred candidate: the mean rating where
    # g rated the scenario, the win rate elsewhere (metrics.py); NaN without evidence. Only rating
    # predictions need it.
    demo_scores: np.ndarray | None = None

    @property
    def evidence(self) -> np.ndarray:
        """(n_b, G) True where g's own judgments or ratings give the scenario a preferred and a dispreferred answer."""
        return self.preferred >= 0

    def __len__(self) -> int:
        return len(self.rows)


def standardise(table: np.ndarray) -> np.ndarray:
    """z_g: (n_b, G, M) -> (G, n_b, M), each metric centred and scaled per group over the bank's
    scenarios; a metric constant within a group gets z = 0 (it cannot rank anything)."""
    mean = table.mean(axis=0, keepdims=True)
    std = table.std(axis=0, keepdims=True)
    z = np.where(std > 0, (table - mean) / np.where(std > 0, std, 1), 0.0)
    return np.ascontiguousarray(z.transpose(1, 0, 2), dtype=np.float32)


def build_index(data: SpicaData, metrics: SpicaMetrics, rows: np.ndarray | None = None) -> SpicaIndex:
    rows = np.arange(data.n_scenarios) if rows is None else np.asarray(rows, dtype=np.int64)
    features = data.candidate_features[rows]
    pref, dispref = metrics.preferred[rows], metrics.dispreferred[rows]
    has = (pref >= 0)[:, :, None]
    safe_pref, safe_dispref = np.maximum(pref, 0)[:, :, None], np.maximum(dispref, 0)[:, :, None]
    # (n_b, G, F): take each group's preferred / dispreferred candidate's features; no vote without evidence.
    contrast = np.where(has, np.take_along_axis(features, safe_pref, axis=1)
                        - np.take_along_axis(features, safe_dispref, axis=1), 0.0)
    scores = metrics.scores[rows]  # (n_b, G, C)
    demo = np.where(has, np.concatenate([np.take_along_axis(scores, safe_pref, axis=2),
                                         np.take_along_axis(scores, safe_dispref, axis=2)], axis=2), np.nan)
    return SpicaIndex(
        rows=rows,
        embeddings=np.ascontiguousarray(data.embeddings[rows], dtype=np.float32),
        z=standardise(metrics.table()[rows]),
        contrast=np.ascontiguousarray(contrast.transpose(1, 0, 2), dtype=np.float32),
        preferred=pref,
        dispreferred=dispref,
        demo_scores=np.ascontiguousarray(demo.transpose(1, 0, 2), dtype=np.float32),
    )


def metric_bonus(index: SpicaIndex, group: int, alphas: np.ndarray) -> np.ndarray:
    """(n_b,) sum_m alpha_m z_g(metric_m); exact zeros when every alpha is 0."""
    alphas = np.asarray(alphas, dtype=np.float32)
    if not np.any(alphas):
        return np.zeros(len(index), dtype=np.float32)
    return index.z[group] @ alphas


def retrieval_scores(index: SpicaIndex, queries: np.ndarray, group: int, alphas: np.ndarray) -> np.ndarray:
    """(Q, n_b) scores of unit query embeddings (Q, D) (or one (D,)) against the whole bank; `top_m`
    compares them only within each query's nearest pool."""
    queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
    return queries @ index.embeddings.T + metric_bonus(index, group, alphas)[None, :]


def nearest_pool(similarity: np.ndarray, size: int) -> np.ndarray:
    """(Q, size) bank positions of each query's most similar scenarios; argpartition keeps it O(n_b)."""
    size = min(size, similarity.shape[1])
    if size == similarity.shape[1]:
        return np.broadcast_to(np.arange(size), similarity.shape).copy()
    return np.argpartition(-similarity, size - 1, axis=1)[:, :size]


def rerank_pool(similarity: np.ndarray, pool: np.ndarray, bonus: np.ndarray, m: int) -> np.ndarray:
    """(Q, m) bank positions, best first by similarity + bonus among each query's `pool` (Q, P).
    Equal scores keep the more similar scenario first, so alpha = 0 is similarity-only retrieval."""
    sim = np.take_along_axis(similarity, pool, axis=1)
    scores = sim + bonus[pool]
    order = np.lexsort((-sim, -scores), axis=1)[:, : min(m, pool.shape[1])]
    return np.take_along_axis(pool, order, axis=1)


def top_m(
    index: SpicaIndex, queries: np.ndarray, group: int, alphas: np.ndarray, m: int, *, exclude: np.ndarray | None = None
) -> np.ndarray:
    """(Q, m) bank positions of the best-scored scenarios per query among its `pool_size(m)` nearest.
    `exclude` (Q,): a bank position per query never to return (the query's own scenario, for
    leave-scenario-out), -1 for none."""
    queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
    similarity = queries @ index.embeddings.T
    if exclude is not None:
        hit = np.asarray(exclude) >= 0
        similarity[np.flatnonzero(hit), np.asarray(exclude)[hit]] = -np.inf
    pool = nearest_pool(similarity, pool_size(m, len(index)))
    return rerank_pool(similarity, pool, metric_bonus(index, group, alphas), m)


def retrieved_similarity(similarity: np.ndarray, retrieved: np.ndarray) -> tuple[float, int]:
    """(sum, count) of the cosine similarities of retrieved (Q, m) scenarios to their queries; the
    figure that shows whether retrieval stays relevant (a left-out query's own scenario never counts)."""
    values = np.take_along_axis(similarity, retrieved, axis=1)
    finite = np.isfinite(values)
    return float(values[finite].sum()), int(finite.sum())


def predicted_utilities(index: SpicaIndex, retrieved: np.ndarray, group: int, query_features: np.ndarray) -> np.ndarray:
    """(Q, C) utility of each query candidate: features . sum of the retrieved scenarios' contrasts."""
    votes = index.contrast[group][retrieved].sum(axis=1)  # (Q, F)
    return np.einsum("qcf,qf->qc", query_features, votes)


def pair_accuracy(utilities: np.ndarray, position: np.ndarray, judgments: GroupJudgments) -> tuple[float, int]:
    """Accuracy of utilities (Q, C) on decided judgments whose scenario sits at `position[scenario]`
    (-1: not a query). An equal-utility prediction counts half. Returns (correct, judgments) summed,
    so callers can pool chunks; accuracy is their ratio."""
    pos = position[judgments.scenario]
    keep = (pos >= 0) & (judgments.label != TIE)
    pos, a, b, label = pos[keep], judgments.a[keep], judgments.b[keep], judgments.label[keep]
    margin = utilities[pos, a] - utilities[pos, b]
    predicted = np.where(margin > 0, 1.0, np.where(margin < 0, 0.0, TIE))
    return float(np.sum(1 - np.abs(predicted - label))), int(keep.sum())


def predicted_ratings(index: SpicaIndex, retrieved: np.ndarray, group: int, utilities: np.ndarray) -> np.ndarray:
    """(Q, C) predicted scores on [0, 1] from the utilities (Q, C) of `predicted_utilities` on the same
    retrieved (Q, m) scenarios: mid + half * clip(u / unit, -1, 1), see the module docstring."""
    if index.demo_scores is None:
        raise ValueError("this index carries no demonstration scores; build it with build_index")
    contrast = index.contrast[group][retrieved]  # (Q, m, F)
    unit = 0.5 * np.einsum("qmf,qmf->q", contrast, contrast)  # 0 only when every contrast is 0, and then u = 0
    demo = index.demo_scores[group][retrieved]  # (Q, m, 2), NaN for a demo without evidence
    has = ~np.isnan(demo[:, :, 0])
    n = has.sum(axis=1)
    # Only demos with evidence set the scale; with none among the m, the middle of the scale and no spread.
    mid = np.where(n > 0, np.where(has, demo.sum(axis=2), 0).sum(axis=1) / np.maximum(2 * n, 1), 0.5)
    half = np.where(n > 0, np.where(has, demo[:, :, 0] - demo[:, :, 1], 0).sum(axis=1) / np.maximum(2 * n, 1), 0.0)
    x = np.clip(utilities / np.where(unit > 0, unit, 1)[:, None], -1.0, 1.0)
    return mid[:, None] + half[:, None] * x


def rating_error(predicted: np.ndarray, position: np.ndarray, ratings: GroupRatings) -> tuple[float, int]:
    """Squared error, on the ratings' own scale, of predicted scores (Q, C) on [0, 1] against the ratings
    whose scenario sits at `position[scenario]` (-1: not a query). Returns (sum of squares, ratings) so
    callers can pool chunks; RMSE is the root of their ratio."""
    pos = position[ratings.scenario]
    keep = pos >= 0
    guess = ratings.low + (ratings.high - ratings.low) * predicted[pos[keep], ratings.candidate[keep]]
    return float(np.sum((guess - ratings.rating[keep]) ** 2)), int(keep.sum())
