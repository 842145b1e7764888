"""Adaptive allocation (plain Python, no Django): where the next judgment of a pair tells most about group divergence.

Each (pair, group) has a Beta posterior over the group's preference rate p_g for the pair's candidate A:
Beta(1 + wins, 1 + n - wins), ties counting half a win. The quantity of interest is the divergence
|p_g - p_h| between two groups. Its posterior variance is read off a normal approximation of
p_g - p_h (mean m_g - m_h, variance v_g + v_h) folded at zero:

    Var|X| = mu^2 + s^2 - E|X|^2,  E|X| = s sqrt(2/pi) exp(-mu^2 / 2s^2) + mu erf(mu / (s sqrt 2)).

Folding is what makes the rule favour pairs whose groups may disagree: when the groups agree (mu near 0)
|X| varies less than X (about 0.36 s^2), when they split it varies as much as X does.

The priority of a pair for the next annotator of group g (its `gain`) is the expected reduction, from one
more judgment by g, of the sum over the other groups h of Var|p_g - p_h|: the judgment is a win with the
posterior probability m_g, and the variance after either outcome is computed exactly. With one group (a
study without group attributes) the divergence is replaced by the rate itself (Var p_g).

A pair stops (its open slots close) once every group has `k_min` judgments and, for every two groups,
the posterior standard deviation of |p_g - p_h| is below `precision`. No pair ever gets more judgments
than its slots allow (`k_max`, split across groups like k: annotation/groups.py).

PostgreSQL runs the same rule inside the submit function (annotation/loop_sql/pair_allocate.v1.sql), with
the same erf approximation, so the two agree to rounding (tests/annotation/test_allocation.py).
"""

import math
from dataclasses import dataclass

_SQRT2 = math.sqrt(2.0)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


@dataclass(frozen=True)
class GroupCount:
    """One group's judgments of one pair: n preference judgments, wins for the pair's candidate A."""

    n: float
    wins: float


@dataclass(frozen=True)
class AllocationRule:
    k_min: int = 2  # judgments per group before a pair may stop
    precision: float = 0.1  # stop once every divergence's posterior sd is below this


def erf(x: float) -> float:
    """Abramowitz and Stegun 7.1.26 (|error| < 1.5e-7): the form the SQL side can write too."""
    sign = 1.0 if x >= 0 else -1.0
    x = abs(x)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * math.exp(-x * x))


def beta_moments(count: GroupCount) -> tuple[float, float]:
    """Posterior mean and variance of the group's rate under a uniform Beta(1, 1) prior."""
    a = 1.0 + count.wins
    b = 1.0 + count.n - count.wins
    mean = a / (a + b)
    return mean, mean * (1.0 - mean) / (a + b + 1.0)


def folded_variance(mu: float, var: float) -> float:
    """Var|X| for X ~ Normal(mu, var)."""
    if var <= 0.0:
        return 0.0
    s = math.sqrt(var)
    mean_abs = s * _SQRT_2_OVER_PI * math.exp(-mu * mu / (2.0 * var)) + mu * erf(mu / (s * _SQRT2))
    return max(mu * mu + var - mean_abs * mean_abs, 0.0)


def divergence_variance(counts: list[GroupCount], g: int) -> float:
    """Sum over the other groups h of Var|p_g - p_h| (Var p_g alone when there is one group)."""
    mean_g, var_g = beta_moments(counts[g])
    if len(counts) == 1:
        return var_g
    total = 0.0
    for h, count in enumerate(counts):
        if h != g:
            mean_h, var_h = beta_moments(count)
            total += folded_variance(mean_g - mean_h, var_g + var_h)
    return total


def gain(counts: list[GroupCount], g: int) -> float:
    """Expected reduction of divergence_variance(counts, g) from one more judgment by group g."""
    mean_g, _ = beta_moments(counts[g])
    now = divergence_variance(counts, g)
    win = list(counts)
    win[g] = GroupCount(counts[g].n + 1.0, counts[g].wins + 1.0)
    loss = list(counts)
    loss[g] = GroupCount(counts[g].n + 1.0, counts[g].wins)
    expected = mean_g * divergence_variance(win, g) + (1.0 - mean_g) * divergence_variance(loss, g)
    return max(now - expected, 0.0)


def is_precise(counts: list[GroupCount], rule: AllocationRule) -> bool:
    """Every group has k_min judgments and every divergence's posterior sd is below the precision."""
    if any(count.n < rule.k_min for count in counts):
        return False
    limit = rule.precision * rule.precision
    if len(counts) == 1:
        return beta_moments(counts[0])[1] < limit
    moments = [beta_moments(count) for count in counts]
    for g in range(len(counts)):
        for h in range(g + 1, len(counts)):
            if folded_variance(moments[g][0] - moments[h][0], moments[g][1] + moments[h][1]) >= limit:
                return False
    return True


def divergence_estimate(counts: list[GroupCount]) -> float:
    """The largest |m_g - m_h| between two groups' posterior means: what a ranking of divisive pairs reads."""
    means = [beta_moments(count)[0] for count in counts]
    return max(means) - min(means) if means else 0.0
