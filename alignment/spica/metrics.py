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
- preferred / dispreferred = the best / worst of the candidates g itself judged or rated on s, by g's own
  raw score (its mean rating where it rated s, else its win rate), ties broken by p. Never a candidate g
  did not judge: a population or neutral fill-in would win the argmin exactly where g has no opinion.
  A cell where g judged fewer than two candidates, or scored all it judged alike, has no evidence
  (`evidence` False, preferred = dispreferred = -1): it casts no vote and offers no demonstration.
- intensity            max(0, p[pref] - p[dispref]) on an evidenced cell, else 0 (0: indifferent,
  1: one always wins, one always loses)
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
    preferred: np.ndarray  # (n_s, G) candidate index; -1 where the cell has no evidence
    dispreferred: np.ndarray  # (n_s, G)
    consensus: np.ndarray  # (n_s, G), each of these on [0, 1]
    intensity: np.ndarray
    distinctiveness: np.ndarray
    support: np.ndarray  # (n_s, G) distinct members of g who judged or rated s
    evidence: np.ndarray | None = None  # (n_s, G) True where g's own judgments/ratings order two candidates

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
    raw = np.where(counts.appearances > 0, counts.wins / np.maximum(counts.appearances, 1), np.nan)
    if data.ratings is not None:
        scores, raw = _with_ratings(scores, raw, data.ratings, tau)
    scores = np.where(mask, scores, np.nan)
    raw = np.where(mask, raw, np.nan)
    preferred, dispreferred, evidence = _contrastive_pair(raw, scores)
    intensity = np.where(evidence, np.maximum(_take(scores, preferred) - _take(scores, dispreferred), 0.0), 0.0)
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
        evidence=evidence,
    )


def _contrastive_pair(raw: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per (s, g): the best and worst candidates among those g scored itself (raw not NaN), by raw
    score then shrunk score; -1 and evidence False where g did not order two of them."""
    judged = ~np.isnan(raw)
    shrunk = np.nan_to_num(scores)
    best = np.lexsort((np.where(judged, shrunk, -np.inf), np.where(judged, raw, -np.inf)), axis=-1)[:, :, -1]
    worst = np.lexsort((np.where(judged, shrunk, np.inf), np.where(judged, raw, np.inf)), axis=-1)[:, :, 0]
    spread = np.nanmax(np.where(judged, raw, -np.inf), axis=2) - np.nanmin(np.where(judged, raw, np.inf), axis=2)
    evidence = (judged.sum(axis=2) >= 2) & (spread > 0)
    return np.where(evidence, best, -1), np.where(evidence, worst, -1), evidence


def _take(scores: np.ndarray, index: np.ndarray) -> np.ndarray:
    """scores[s, g, index[s, g]]; NaN where index is -1 (a cell without evidence)."""
    picked = np.take_along_axis(scores, np.maximum(index, 0)[:, :, None], axis=2)[:, :, 0]
    return np.where(index >= 0, picked, np.nan)


def _consensus(data: SpicaData, judgments: np.ndarray, tau: float) -> np.ndarray:
    votes_lo, n_pair = pair_counts(data)
    margin = np.abs(2 * votes_lo - n_pair).sum(axis=2)
    raw = margin / np.maximum(judgments, 1)  # 0 where g has no judgments: weighed by n = 0 anyway
    # The population's consensus pools the groups' votes per comparison first: two groups split
    # against each other are not a population in agreement.
    pop_margin = np.abs(2 * votes_lo.sum(axis=1) - n_pair.sum(axis=1)).sum(axis=1)[:, None]
    raw_pop = pop_margin / np.maximum(judgments.sum(axis=1, keepdims=True), 1)
    return (judgments * raw + tau * raw_pop) / (judgments + tau)


def _with_ratings(
    scores: np.ndarray, raw: np.ndarray, ratings: GroupRatings, tau: float
) -> tuple[np.ndarray, np.ndarray]:
    """(shrunk, raw) mean rating on [0, 1] where the group rated the scenario, the win rates elsewhere;
    raw is NaN for a candidate the group did not rate on a scenario it rated."""
    n_s, n_g, n_c = scores.shape
    flat = (ratings.scenario * n_g + ratings.group) * n_c + ratings.candidate
    r01 = (ratings.rating - ratings.low) / (ratings.high - ratings.low)
    total = np.bincount(flat, r01, n_s * n_g * n_c).reshape(scores.shape)
    count = np.bincount(flat, minlength=n_s * n_g * n_c).reshape(scores.shape)
    r_pop = (total.sum(axis=1, keepdims=True) + tau / 2) / (count.sum(axis=1, keepdims=True) + tau)
    mean = (total + tau * r_pop) / (count + tau)
    rated = count.sum(axis=2, keepdims=True) > 0
    own = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return np.where(rated, mean, scores), np.where(rated, own, raw)
