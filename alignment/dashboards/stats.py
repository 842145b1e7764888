"""The statistics behind the dashboards: NumPy/SciPy on count tables, no Django.

Everything here takes counts that the database has already aggregated (per pair and group, per
pair of competitors), never one row per judgment. Conventions shared by every function:

- A *preference* is a judgment that prefers the pair's candidate_a (1), its candidate_b (0) or
  calls a tie (0.5, half a vote to each side). "Both bad" says nothing about which is better, so
  it is left out of preference rates and counted separately.
- Preference counts come as arrays whose last axis is (prefers_a, prefers_b, ties).
- Missing values (a group that never judged a pair) are NaN, so that means skip them.
"""

from dataclasses import dataclass

import numpy as np
from scipy.special import xlogy
from scipy.stats import norm

# Re-exported: the leaderboard's Bradley-Terry fit and bootstrap live in their own module.
from alignment.dashboards.bradley_terry import Leaderboard, bradley_terry, bradley_terry_bootstrap  # noqa: F401

Z95 = float(norm.ppf(0.975))


def preference_rate(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rate of preferring candidate_a and the number of preference judgments, over the last axis."""
    counts = np.asarray(counts, dtype=float)
    wins = counts[..., 0] + 0.5 * counts[..., 2]
    n = counts.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(n > 0, wins / n, np.nan)
    return rate, n


def wilson_interval(successes: np.ndarray, n: np.ndarray, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a binomial rate; half-counted ties make `successes` fractional, which
    the formula takes as it is. NaN where n is 0."""
    successes, n = np.asarray(successes, dtype=float), np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = successes / n
        denominator = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denominator
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denominator
    low, high = np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)
    missing = n <= 0
    return np.where(missing, np.nan, low), np.where(missing, np.nan, high)


def _entropy_bits(p: np.ndarray) -> np.ndarray:
    return -(xlogy(p, p) + xlogy(1 - p, 1 - p)) / np.log(2)


def js_divergence(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Jensen-Shannon divergence in bits between Bernoulli(p) and Bernoulli(q): 0 when equal,
    1 when one group always picks A and the other always B."""
    p, q = np.asarray(p, dtype=float), np.asarray(q, dtype=float)
    return _entropy_bits((p + q) / 2) - (_entropy_bits(p) + _entropy_bits(q)) / 2


@dataclass
class PairDivergence:
    """Per pair (rows of the rate matrix): groups that judged it, the largest gap between two groups'
    rates (|p_g - p_h|, the range), the generalised Jensen-Shannon divergence of all its groups with
    equal weights (bits; equals js_divergence for two groups) and whether the groups' majorities
    point to different candidates."""

    groups: np.ndarray
    abs_diff: np.ndarray
    js: np.ndarray
    splits: np.ndarray


def pair_divergence(rates: np.ndarray) -> PairDivergence:
    """Divergence of each pair (row) across groups (columns of `rates`, NaN where a group is absent).
    Pairs with fewer than two groups get NaN."""
    rates = np.asarray(rates, dtype=float)
    present = ~np.isnan(rates)
    groups = present.sum(axis=1)
    enough = groups >= 2
    spread = np.max(np.where(present, rates, -np.inf), axis=1, initial=-np.inf) - np.min(
        np.where(present, rates, np.inf), axis=1, initial=np.inf
    )
    filled = np.nan_to_num(rates)
    weight = np.maximum(groups, 1)
    mean_entropy = np.where(present, _entropy_bits(filled), 0).sum(axis=1) / weight
    js = _entropy_bits(filled.sum(axis=1) / weight) - mean_entropy
    splits = enough & np.any(present & (filled > 0.5), axis=1) & np.any(present & (filled < 0.5), axis=1)
    return PairDivergence(
        groups=groups,
        abs_diff=np.where(enough, spread, np.nan),
        js=np.where(enough, np.clip(js, 0, 1), np.nan),
        splits=splits,
    )


def gap_lower_bound(rates: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Per pair (row): the largest lower 95% bound of a gap p_g - p_h between two of its groups, by
    Newcombe's hybrid score interval from each group's Wilson interval (low, high): p_g - p_h -
    sqrt((p_g - low_g)^2 + (high_h - p_h)^2), at least 0. A gap seen on one or two judgments has a low
    bound near 0, so ranking by it puts the well-supported divisive pairs first. NaN below two groups.

    One group at a time against all others, so memory stays (pairs x groups), not (pairs x groups^2).
    """
    rates, low, high = (np.asarray(a, dtype=float) for a in (rates, low, high))
    best = np.full(rates.shape[0], -np.inf)
    for g in range(rates.shape[1]):
        gap = rates[:, [g]] - rates
        bound = gap - np.sqrt((rates[:, [g]] - low[:, [g]]) ** 2 + (high - rates) ** 2)
        bound[:, g] = np.nan
        with np.errstate(invalid="ignore"):
            best = np.fmax(best, np.nanmax(np.where(np.isnan(bound), -np.inf, bound), axis=1))
    enough = (~np.isnan(rates)).sum(axis=1) >= 2
    return np.where(enough, np.clip(best, 0, 1), np.nan)


def divergence_matrix(rates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group x group mean |p_g - p_h| over the pairs both groups judged, and how many pairs that is.

    One group against all others at a time: memory stays (pairs x groups), not (pairs x groups^2)
    (45k pairs x 39 x 39 groups would be half a gigabyte an array)."""
    rates = np.asarray(rates, dtype=float)
    present = ~np.isnan(rates)
    filled = np.nan_to_num(rates)
    k = rates.shape[1] if rates.ndim == 2 else 0
    sums, shared = np.zeros((k, k)), np.zeros((k, k), dtype=np.int64)
    for g in range(k):
        both = present[:, [g]] & present
        sums[g] = (np.abs(filled[:, [g]] - filled) * both).sum(axis=0)
        shared[g] = both.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(shared > 0, sums / shared, np.nan), shared


def group_means(values: np.ndarray, labels: np.ndarray, n_labels: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean of `values` per integer label (NaN values skipped) and the count behind each mean."""
    values = np.asarray(values, dtype=float)
    keep = ~np.isnan(values)
    counts = np.bincount(labels[keep], minlength=n_labels)
    sums = np.bincount(labels[keep], weights=values[keep], minlength=n_labels)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / counts, np.nan), counts


@dataclass
class Agreement:
    """Pairwise agreement: the chance that two different annotators of groups g and h who judged the
    same pair gave the same answer (prefers a, prefers b, tie or both bad). The diagonal is agreement
    within a group; `annotator_pairs` says how many such pairs of annotators each rate rests on."""

    rates: np.ndarray
    annotator_pairs: np.ndarray


def agreement_rates(counts: np.ndarray) -> Agreement:
    """`counts` is pairs x groups x answers. Rates are pooled over pairs (weighted by the number of
    annotator pairs each contributes), so that pairs judged by many count for more."""
    counts = np.asarray(counts, dtype=float)
    per_group = counts.sum(axis=2)
    same = np.einsum("pgc,phc->gh", counts, counts)
    total = np.einsum("pg,ph->gh", per_group, per_group)
    # On the diagonal an annotator must not be paired with themself: remove the n_c self-pairs.
    diagonal = np.arange(counts.shape[1])
    same[diagonal, diagonal] -= counts.sum(axis=(0, 2))
    total[diagonal, diagonal] -= per_group.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = np.where(total > 0, same / total, np.nan)
    return Agreement(rates=rates, annotator_pairs=total)


def krippendorff_alpha(counts: np.ndarray) -> float:
    """Krippendorff's alpha for nominal answers from a units x answers count table (units judged by
    fewer than two annotators carry no information and are skipped). NaN when undefined."""
    counts = np.asarray(counts, dtype=float)
    m = counts.sum(axis=1)
    counts = counts[m >= 2]
    m = m[m >= 2]
    if counts.size == 0:
        return float("nan")
    coincidence = np.einsum("uc,uk->ck", counts / (m - 1)[:, None], counts)
    coincidence[np.diag_indices_from(coincidence)] -= (counts / (m - 1)[:, None]).sum(axis=0)
    totals = coincidence.sum(axis=1)
    n = totals.sum()
    observed = coincidence.sum() - np.trace(coincidence)
    expected = (totals.sum() ** 2 - (totals**2).sum()) / (n - 1)
    if expected <= 0:
        return float("nan")
    return float(1 - observed / expected)


# --- distributions ---------------------------------------------------------------------------


def histogram(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts of the finite values in each bin; the last bin includes its right edge."""
    values = np.asarray(values, dtype=float)
    return np.histogram(values[np.isfinite(values)], bins=edges)[0]


def quantiles(values: np.ndarray, qs: tuple[float, ...] = (0.25, 0.5, 0.75)) -> list[float]:
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return [float("nan")] * len(qs)
    return np.quantile(values, qs).tolist()
