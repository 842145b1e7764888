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


def divergence_matrix(rates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group x group mean |p_g - p_h| over the pairs both groups judged, and how many pairs that is."""
    rates = np.asarray(rates, dtype=float)
    present = ~np.isnan(rates)
    filled = np.nan_to_num(rates)
    both = present[:, :, None] & present[:, None, :]
    gaps = np.abs(filled[:, :, None] - filled[:, None, :]) * both
    shared = both.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(shared > 0, gaps.sum(axis=0) / shared, np.nan), shared


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


# --- Bradley-Terry ---------------------------------------------------------------------------


def bradley_terry(wins: np.ndarray, *, prior: float = 0.5, iterations: int = 50, tol: float = 1e-10) -> np.ndarray:
    """Bradley-Terry log-strengths from a win matrix (wins[..., i, j] = times i beat j, ties counted half
    to each), centred to mean 0, so that P(i beats j) = sigmoid(s_i - s_j).

    `prior` adds that many virtual wins and losses against a reference of strength 0: it keeps a
    competitor that never lost (or never won) finite, pulls thin evidence toward the middle and makes
    the log-likelihood strictly concave, so Newton's method converges in a handful of steps (prior=0 is
    the plain maximum-likelihood fit, which needs every competitor to have won and lost). Every
    leading axis (groups, bootstrap draws) is fitted at once with batched solves.
    """
    wins = np.asarray(wins, dtype=float)
    games = wins + np.swapaxes(wins, -1, -2)
    won = wins.sum(axis=-1)
    scores = np.zeros(wins.shape[:-1])
    for _ in range(iterations):
        p_win = _sigmoid(scores[..., :, None] - scores[..., None, :])
        p_ref = _sigmoid(scores)
        gradient = won - (games * p_win).sum(axis=-1) + prior * (1 - 2 * p_ref)
        curvature = games * p_win * (1 - p_win)
        hessian = curvature - np.eye(scores.shape[-1]) * (
            curvature.sum(axis=-1) + 2 * prior * p_ref * (1 - p_ref)
        )[..., None]
        if prior == 0:
            # Without the reference, strengths are identified only up to a shift; pinning the direction of
            # all-ones (which the gradient never has a component along) makes the system solvable.
            hessian = hessian - 1.0
        step = np.linalg.solve(hessian, gradient[..., None])[..., 0]
        scores = scores - step
        if np.max(np.abs(step), initial=0.0) < tol:
            break
    return scores - scores.mean(axis=-1, keepdims=True)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.tanh(x / 2))


@dataclass
class Leaderboard:
    """Per table (leading axis) and competitor: centred log-strength, its bootstrap interval and the
    number of games behind it. NaN for a competitor with no games in that table."""

    scores: np.ndarray
    low: np.ndarray
    high: np.ndarray
    games: np.ndarray


def bradley_terry_bootstrap(
    wins: np.ndarray, ties: np.ndarray | None = None, *, draws: int = 200, seed: int = 0, level: float = 0.95,
    prior: float = 0.5,
) -> Leaderboard:
    """Bradley-Terry scores with percentile bootstrap intervals for several tables at once (one per
    group): wins[t, i, j] = decisive judgments where i beat j; ties[t, i, j] + ties[t, j, i] = ties between
    i and j, each counted half to both sides.

    The judgments are resampled as one multinomial draw over the cells of each count table (who beat
    whom, who tied with whom), which is resampling judgments with replacement without touching them
    one by one. All tables and draws are fitted in one vectorised MM run.
    """
    wins = np.asarray(wins, dtype=float)
    ties = np.zeros_like(wins) if ties is None else np.asarray(ties, dtype=float)
    tables, k = wins.shape[0], wins.shape[-1]
    cells = np.concatenate([wins.reshape(tables, -1), ties.reshape(tables, -1)], axis=1)
    totals = cells.sum(axis=1)
    games = (wins + np.swapaxes(wins, 1, 2) + ties + np.swapaxes(ties, 1, 2)).sum(axis=2)
    seen = games > 0
    if k == 0:
        return Leaderboard(scores=games, low=games, high=games, games=games)

    rng = np.random.default_rng(seed)
    pvals = np.where(totals[:, None] > 0, cells / np.maximum(totals, 1)[:, None], 1 / cells.shape[1])
    sampled_cells = rng.multinomial(np.rint(totals).astype(np.int64), pvals, size=(draws, tables))
    fitted = bradley_terry(_effective_wins(np.concatenate([cells[None], sampled_cells]), (k, k)), prior=prior)
    # Centre on the competitors each table has seen, so that an absent one does not shift the others.
    centre = np.where(seen, fitted, 0).sum(axis=-1, keepdims=True) / np.maximum(seen.sum(axis=-1), 1)[:, None]
    fitted = np.where(seen, fitted - centre, np.nan)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(fitted[1:], [tail, 100 - tail], axis=0) if draws else (fitted[0], fitted[0])
    return Leaderboard(scores=fitted[0], low=low, high=high, games=games)


def _effective_wins(cells: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """(..., wins cells + ties cells) -> (..., K, K) wins with each tie split half to either side."""
    size = shape[0] * shape[1]
    wins = cells[..., :size].reshape(*cells.shape[:-1], *shape)
    ties = cells[..., size:].reshape(*cells.shape[:-1], *shape)
    return wins + 0.5 * (ties + np.swapaxes(ties, -1, -2))


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
