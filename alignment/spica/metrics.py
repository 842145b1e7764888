"""Group-informed metrics per (scenario, group), as dense (n_s, G) arrays.

pluralweb's own formulas, after SPICA's norm metrics (Jackson's return-potential model: which
behaviour the group approves, how intensely, how crystallised). `tau` is the shrinkage strength in
judgments: a group with n judgments on a scenario weighs them n : tau against the population. The
shrinkage weights count judgments (or ratings), the evidence behind each estimate; `support` alone
counts members, as SPICA.md defines it.

- population win rate  p_pop[s, c] = (W_pop + tau / 2) / (N_pop + tau)  (W wins, a tie half a win;
  N appearances; the population itself is shrunk toward a coin flip)
- score                p[s, g, c]  = (W[s, g, c] + tau * p_pop[s, c]) / (N[s, g, c] + tau)
  with ratings: where g rated s, the shrunk mean rating on [0, 1] instead,
  (sum r01 + tau * r_pop) / (n + tau), r_pop the population's mean shrunk toward 0.5 the same way
- preferred / dispreferred = argmax / argmin of p over the scenario's candidates
- intensity            p[pref] - p[dispref]  (0: indifferent, 1: one always wins, one always loses)
- consensus            raw = sum_pairs |2 V_lo - n_pair| / sum_pairs n_pair, V_lo the votes for the
  lower-index candidate of each compared pair (1: every member sides the same way on every
  comparison, 0: every comparison split evenly); shrunk as (n * raw + tau * raw_pop) / (n + tau)
- distinctiveness      n / (n + tau) * mean over candidates of |p[s, g, c] - p_rest[s, g, c]|, p_rest
  the shrunk win rate of all other groups pooled; the factor makes a group with no judgments on s
  (whose scores are the population's, not the rest's) not distinctive at all
- support              k[s, g] = |{members of g who judged or rated s}|, distinct annotators (one who
  judged six pairs and rated four candidates of s counts once); log1p(k) when used in retrieval
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alignment.spica.data import GroupRatings, SpicaData, member_counts, pair_counts, win_counts

METRICS = ("consensus", "intensity", "distinctiveness", "support")


@dataclass(frozen=True)
class SpicaMetrics:
    scores: np.ndarray  # (n_s, G, C); NaN on padding slots
    preferred: np.ndarray  # (n_s, G) candidate index
    dispreferred: np.ndarray  # (n_s, G)
    consensus: np.ndarray  # (n_s, G), each of these on [0, 1]
    intensity: np.ndarray
    distinctiveness: np.ndarray
    support: np.ndarray  # (n_s, G) distinct members of g who judged or rated s

    def table(self) -> np.ndarray:
        """(n_s, G, M) in METRICS order, the inputs of retrieval's z_g; support as log1p so a few
        scenarios with hundreds of members do not dominate the standardisation."""
        return np.stack([self.consensus, self.intensity, self.distinctiveness, np.log1p(self.support)], axis=2)


def compute_metrics(data: SpicaData, *, tau: float = 2.0) -> SpicaMetrics:
    if tau <= 0:
        raise ValueError("tau must be positive (it also stands in for missing judgments)")
    counts = win_counts(data)
    mask = data.candidate_mask()[:, None, :]
    pop_wins, pop_app = counts.wins.sum(axis=1, keepdims=True), counts.appearances.sum(axis=1, keepdims=True)
    p_pop = (pop_wins + tau / 2) / (pop_app + tau)
    scores = (counts.wins + tau * p_pop) / (counts.appearances + tau)
    rest = (pop_wins - counts.wins + tau * p_pop) / (pop_app - counts.appearances + tau)
    if data.ratings is not None:
        scores = _with_ratings(scores, data.ratings, tau)
    scores = np.where(mask, scores, np.nan)
    preferred = np.argmax(np.where(mask, scores, -np.inf), axis=2)
    dispreferred = np.argmin(np.where(mask, scores, np.inf), axis=2)
    intensity = _take(scores, preferred) - _take(scores, dispreferred)
    gap = np.nansum(np.abs(scores - np.where(mask, rest, np.nan)), axis=2) / data.n_candidates[:, None]
    distinct = counts.judgments / (counts.judgments + tau) * gap
    return SpicaMetrics(
        scores=scores,
        preferred=preferred,
        dispreferred=dispreferred,
        consensus=_consensus(data, counts.judgments, tau),
        intensity=intensity,
        distinctiveness=distinct,
        support=member_counts(data),
    )


def _take(scores: np.ndarray, index: np.ndarray) -> np.ndarray:
    return np.take_along_axis(scores, index[:, :, None], axis=2)[:, :, 0]


def _consensus(data: SpicaData, judgments: np.ndarray, tau: float) -> np.ndarray:
    votes_lo, n_pair = pair_counts(data)
    margin = np.abs(2 * votes_lo - n_pair).sum(axis=2)
    raw = margin / np.maximum(judgments, 1)  # 0 where g has no judgments: weighed by n = 0 anyway
    # The population's consensus pools the groups' votes per comparison first: two groups split
    # against each other are not a population in agreement.
    pop_margin = np.abs(2 * votes_lo.sum(axis=1) - n_pair.sum(axis=1)).sum(axis=1)[:, None]
    raw_pop = pop_margin / np.maximum(judgments.sum(axis=1, keepdims=True), 1)
    return (judgments * raw + tau * raw_pop) / (judgments + tau)


def _with_ratings(scores: np.ndarray, ratings: GroupRatings, tau: float) -> np.ndarray:
    """Mean rating on [0, 1] where the group rated the scenario, the win rate elsewhere."""
    n_s, n_g, n_c = scores.shape
    flat = (ratings.scenario * n_g + ratings.group) * n_c + ratings.candidate
    r01 = (ratings.rating - ratings.low) / (ratings.high - ratings.low)
    total = np.bincount(flat, r01, n_s * n_g * n_c).reshape(scores.shape)
    count = np.bincount(flat, minlength=n_s * n_g * n_c).reshape(scores.shape)
    r_pop = (total.sum(axis=1, keepdims=True) + tau / 2) / (count.sum(axis=1, keepdims=True) + tau)
    mean = (total + tau * r_pop) / (count + tau)
    rated = count.sum(axis=2, keepdims=True) > 0
    return np.where(rated, mean, scores)
