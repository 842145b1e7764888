"""Query-independent baselines that SPICA must beat to claim anything (beside similarity-only retrieval).

- ratings: the constant predictor, g's mean rating over the bank's scenarios (the population's where g
  rated none of them): what "no retrieval at all" scores on rating RMSE.
- pairs: g's majority stance, the sum of g's contrastive votes over the whole bank (the preferred minus
  dispreferred candidate features of every bank scenario g has evidence on), the same vote for every
  query; with stance one-hot features it is exactly "always prefer the stance g prefers most often".
  The population's vote stands in for a group with no evidence in the bank.
"""

from __future__ import annotations

import numpy as np

from alignment.spica.data import GroupRatings, SpicaData
from alignment.spica.retrieval import SpicaIndex, pair_accuracy, rating_error


def constant_votes(index: SpicaIndex, group: int) -> np.ndarray:
    """(F,) g's vote summed over the bank, or the population's where g's is all zero."""
    votes = index.contrast[group].sum(axis=0)
    return votes if np.any(votes) else index.contrast.sum(axis=(0, 1))


def constant_score(data: SpicaData, index: SpicaIndex, group: int) -> float | None:
    """g's mean rating on [0, 1] over the bank's scenarios (the population's where g rated none); None
    without ratings in the bank."""
    if data.ratings is None:
        return None
    bank = data.ratings.for_scenarios(index.rows)
    if not len(bank):
        return None
    own = bank.group == group
    chosen = bank.rating[own] if own.any() else bank.rating
    return float((chosen.mean() - bank.low) / (bank.high - bank.low))


def constant_totals(data: SpicaData, index: SpicaIndex, features: np.ndarray, position: np.ndarray,
                    judgments, ratings: GroupRatings | None, group: int) -> np.ndarray:
    """[correct pairs, decided judgments, squared rating error, ratings] of the constant predictors on
    g's judgments and ratings of the queries (features (Q, C, F), `position` as in retrieval)."""
    utilities = features @ constant_votes(index, group)  # (Q, C)
    correct, n = pair_accuracy(utilities, position, judgments.take(judgments.group == group))
    squared, n_ratings = 0.0, 0
    score = constant_score(data, index, group)
    if ratings is not None and score is not None:
        predicted = np.full(utilities.shape, score)
        squared, n_ratings = rating_error(predicted, position, ratings.take(ratings.group == group))
    return np.array([correct, n, squared, n_ratings], dtype=np.float64)
