"""Bridging scores: which of a prompt's candidates every group prefers, not only the largest one.

Per prompt and group, a Bradley-Terry fit over the prompt's candidates (bradley_terry.py, batched over
prompts and groups); a candidate's *group win probability* is the mean of P(it beats j) =
sigmoid(s_i - s_j) over the prompt's other judged candidates j; its *bridging score* is the lowest of
those over the groups. It is high only when every group prefers the candidate to the prompt's others:
a majority's favourite that a minority rejects scores the minority's low probability, however large
its overall win rate. A group that never judged the candidate leaves the score undefined (NaN):
nothing says that group accepts it.

Intervals are support-aware and cheap: the delta method on the fit's Laplace covariance gives each
group's win probability a 95% interval (on the logit scale, so it stays inside 0..1), and the bridging
score's interval runs from the lowest group lower bound to the lowest group upper bound. A group with
two judgments of a pair has a wide interval, so a "bridge" seen on a handful of judgments has a low
lower bound. Prompts of more than DENSE_MAX candidates (a ratings import puts 1,500 on one prompt) are
fitted group by group on edge lists, each group over the candidates it judged: the same estimate and
intervals (tested), without K x K tables per group.
(A percentile bootstrap, as the leaderboard does, gave nearly the same intervals but
refits every (prompt, group) table hundreds of times: 76 s for 2,000 prompts x 4 groups with 200 draws
on the shared 2-core machine, against 0.4 s for this.)
No Django: arrays in, arrays out.
"""

from dataclasses import dataclass

import numpy as np

from alignment.dashboards.bradley_terry import (
    DENSE_MAX,
    MEMORY_BUDGET,
    bradley_terry_covariance,
    bradley_terry_uncentred,
    laplace_quadratic,
)
from alignment.dashboards.stats import Z95, wilson_interval

# Working arrays of one (prompt, group) problem, in units of K x K floats: wins, games, the fit's
# probabilities, curvature, Hessian and its inverse, the win-probability matrix, its gradient and mask.
_ARRAYS_PER_PROBLEM = 12


@dataclass
class Outcomes:
    """Counted judgments between two candidates of one prompt, one row per (group, unordered pair of
    candidates): decisive wins of either side and ties ("both bad" says nothing, it is left out)."""

    group: np.ndarray
    first: np.ndarray
    second: np.ndarray
    first_won: np.ndarray
    second_won: np.ndarray
    tied: np.ndarray


@dataclass
class Bridging:
    """Per candidate (axis 0) and group (axis 1 where there is one). NaN where not defined.

    win_rate: pooled share of games won (ties half), with its Wilson interval; games: pooled games.
    group_win: the group's mean BT win probability against the prompt's other judged candidates,
    with its delta-method interval; group_games: the group's games of the candidate.
    score: the lowest group_win (the bridging score), with the lowest lower and upper group bounds;
    lowest_group: the group that sets it (-1 where the score is NaN).
    """

    win_rate: np.ndarray
    win_low: np.ndarray
    win_high: np.ndarray
    games: np.ndarray
    group_win: np.ndarray
    group_low: np.ndarray
    group_high: np.ndarray
    group_games: np.ndarray
    score: np.ndarray
    low: np.ndarray
    high: np.ndarray
    lowest_group: np.ndarray


def bridging_scores(outcomes: Outcomes, prompt_of: np.ndarray, groups: int, *, z: float = Z95,
                    prior: float = 0.5) -> Bridging:
    """Bridging scores of candidates 0..C-1, where prompt_of[c] is candidate c's prompt (any integer id)."""
    prompt_of = np.asarray(prompt_of, dtype=np.int64)
    count = prompt_of.size
    first, second = np.asarray(outcomes.first, np.int64), np.asarray(outcomes.second, np.int64)
    if np.any(prompt_of[first] != prompt_of[second]):
        raise ValueError("outcomes compare candidates of different prompts")
    per_candidate = [np.full(count, np.nan) for _ in range(3)]
    per_group = [np.full((count, groups), np.nan) for _ in range(3)]
    result = Bridging(*per_candidate, np.zeros(count), *per_group, np.zeros((count, groups)),
                      *(np.full(count, np.nan) for _ in range(3)), np.full(count, -1, dtype=np.int64))
    # A candidate's place within its prompt; prompts are fitted in buckets of equal candidate count, so
    # a prompt of 4 candidates is never padded to the size of one of 50.
    order = np.argsort(prompt_of, kind="stable")
    prompts, starts, sizes = np.unique(prompt_of[order], return_index=True, return_counts=True)
    slot = np.empty(count, dtype=np.int64)
    slot[order] = np.arange(count) - np.repeat(starts, sizes)
    size_of_prompt = dict(zip(prompts.tolist(), sizes.tolist(), strict=True))
    judged = np.unique(prompt_of[first]) if first.size else np.array([], dtype=np.int64)
    for k in sorted({size_of_prompt[p] for p in judged.tolist()}):
        bucket = judged[np.array([size_of_prompt[p] for p in judged.tolist()]) == k]
        if k <= LARGE_PROMPT:
            _bucket(outcomes, first, second, prompt_of, slot, bucket, k, groups, result, z, prior)
        else:
            # The outcomes of each prompt from one sort, not a scan of all outcomes per prompt.
            by_prompt = np.argsort(prompt_of[first], kind="stable")
            bounds = np.searchsorted(prompt_of[first][by_prompt], np.stack([bucket, bucket + 1]))
            for prompt, start, end in zip(bucket.tolist(), *bounds.tolist(), strict=True):
                _large_prompt(outcomes, first, second, prompt_of, slot, prompt, by_prompt[start:end], k, groups,
                              result, z, prior)
    return result


# Candidates per prompt above which a prompt is fitted on edge lists, group by group (_large_prompt).
LARGE_PROMPT = DENSE_MAX


def _large_prompt(outcomes: Outcomes, first: np.ndarray, second: np.ndarray, prompt_of: np.ndarray,
                  slot: np.ndarray, prompt: int, mine: np.ndarray, k: int, groups: int, result: Bridging, z: float,
                  prior: float) -> None:
    """One prompt of many candidates. A group's fit over the candidates it judged is the dense fit's
    restricted to them: the Laplace covariance is block-diagonal between judged and unjudged candidates,
    an unjudged one sits at 0 with the prior's variance alone (1 / (prior / 2)). `mine`: the prompt's outcomes."""
    i, j = slot[first[mine]], slot[second[mine]]
    tied = np.asarray(outcomes.tied, float)[mine]
    i_points = np.asarray(outcomes.first_won, float)[mine] + 0.5 * tied
    j_points = np.asarray(outcomes.second_won, float)[mine] + 0.5 * tied
    group = np.asarray(outcomes.group, np.int64)[mine]
    played = i_points + j_points
    won = np.bincount(i, i_points, k) + np.bincount(j, j_points, k)
    games = np.bincount(i, played, k) + np.bincount(j, played, k)
    play = np.flatnonzero(games > 0)  # the prompt's judged candidates: the "others" to beat
    group_games = np.zeros((groups, k))
    group_win, group_low, group_high = (np.full((groups, k), np.nan) for _ in range(3))
    for g in np.unique(group).tolist():
        edge = group == g
        a, b, a_points, b_points = i[edge], j[edge], i_points[edge], j_points[edge]
        group_games[g] = np.bincount(a, a_points + b_points, k) + np.bincount(b, a_points + b_points, k)
        seen = np.flatnonzero(group_games[g] > 0)
        local = np.full(k, -1, dtype=np.int64)
        local[seen] = np.arange(seen.size)
        fitted = bradley_terry_uncentred(local[a], local[b], a_points[None], b_points[None], seen.size, prior)[0]
        scores = np.zeros(k)
        scores[seen] = fitted
        # Win probabilities of the group's candidates against every other candidate in play.
        p_win = _sigmoid(fitted[:, None] - scores[None, play])
        others = play[None, :] != seen[:, None]
        count = others.sum(axis=1)
        win = (p_win * others).sum(axis=1) / np.maximum(count, 1)
        slope = p_win * (1 - p_win) * others / np.maximum(count, 1)[:, None]
        column = local[play]
        judged_column = column >= 0
        gradient = np.zeros((seen.size, seen.size))
        gradient[:, column[judged_column]] = -slope[:, judged_column]
        gradient[np.arange(seen.size), np.arange(seen.size)] += slope.sum(axis=1)
        variance = laplace_quadratic(local[a], local[b], a_points + b_points, fitted, prior, gradient) \
            + (slope[:, ~judged_column] ** 2).sum(axis=1) * 2 / prior
        group_win[g, seen], group_low[g, seen], group_high[g, seen] = _logit_interval(win, variance, count == 0, z)

    cand = np.flatnonzero(prompt_of == prompt)
    place = slot[cand]
    low, high = wilson_interval(won, games)
    with np.errstate(invalid="ignore", divide="ignore"):
        result.win_rate[cand] = np.where(games > 0, won / games, np.nan)[place]
    result.win_low[cand], result.win_high[cand] = low[place], high[place]
    result.games[cand] = games[place]
    for name, values in (("group_games", group_games), ("group_win", group_win), ("group_low", group_low),
                         ("group_high", group_high)):
        getattr(result, name)[cand] = values[:, place].T
    _lowest_group(result, cand)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1 + np.tanh(x / 2))


def _lowest_group(result: Bridging, cand: np.ndarray) -> None:
    """The bridging score and its bounds: the lowest over groups (NaN where some group never judged)."""
    # np.min propagates NaN: a candidate some group never judged has no bridging score.
    result.score[cand] = result.group_win[cand].min(axis=1)
    result.low[cand] = result.group_low[cand].min(axis=1)
    result.high[cand] = result.group_high[cand].min(axis=1)
    defined = ~np.isnan(result.score[cand])
    lowest = np.full(len(cand), -1, dtype=np.int64)
    lowest[defined] = np.argmin(result.group_win[cand][defined], axis=1)
    result.lowest_group[cand] = lowest


def _bucket(outcomes: Outcomes, first: np.ndarray, second: np.ndarray, prompt_of: np.ndarray, slot: np.ndarray,
            bucket: np.ndarray, k: int, groups: int, result: Bridging, z: float, prior: float) -> None:
    """Fit every prompt of one candidate count k: tables (prompts, 1 + groups, k, k), table 0 pooled."""
    tables = 1 + groups
    row_of = {p: r for r, p in enumerate(bucket.tolist())}
    mine = np.flatnonzero(np.isin(prompt_of[first], bucket))
    rows = np.array([row_of[p] for p in prompt_of[first[mine]].tolist()], dtype=np.int64)
    i, j = slot[first[mine]], slot[second[mine]]
    wins = np.zeros((len(bucket), tables, k, k))
    tied = np.zeros((len(bucket), tables, k, k))
    for table in (np.zeros_like(rows), 1 + np.asarray(outcomes.group, np.int64)[mine]):
        np.add.at(wins, (rows, table, i, j), np.asarray(outcomes.first_won, float)[mine])
        np.add.at(wins, (rows, table, j, i), np.asarray(outcomes.second_won, float)[mine])
        np.add.at(tied, (rows, table, i, j), np.asarray(outcomes.tied, float)[mine])
    points = wins + 0.5 * (tied + np.swapaxes(tied, -1, -2))  # a tie is half a win to each side
    played = (points + np.swapaxes(points, -1, -2)).sum(axis=-1)  # (prompts, tables, k)
    in_play = played[:, 0, :] > 0  # the prompt's candidates with a judgment: the "others" to beat

    group_win, group_low, group_high = (np.full((len(bucket), groups, k), np.nan) for _ in range(3))
    chunk = max(1, MEMORY_BUDGET // (_ARRAYS_PER_PROBLEM * 8 * groups * k * k))
    for start in range(0, len(bucket), chunk):
        part = slice(start, start + chunk)
        scores, covariance = bradley_terry_covariance(points[part, 1:], prior=prior)
        group_win[part], group_low[part], group_high[part] = _win_probability(scores, covariance, in_play[part], z)
    judged_by = played[:, 1:, :] > 0  # NaN wherever a group never judged the candidate
    group_win, group_low, group_high = (np.where(judged_by, a, np.nan) for a in (group_win, group_low, group_high))

    cand = np.flatnonzero(np.isin(prompt_of, bucket))  # every candidate of these prompts, judged or not
    place = (np.searchsorted(bucket, prompt_of[cand]), slot[cand])
    won, games = points[:, 0].sum(axis=-1), played[:, 0]
    low, high = wilson_interval(won, games)
    with np.errstate(invalid="ignore", divide="ignore"):
        result.win_rate[cand] = np.where(games > 0, won / games, np.nan)[place]
    result.win_low[cand], result.win_high[cand] = low[place], high[place]
    result.games[cand] = games[place]
    for name, values in (("group_games", played[:, 1:]), ("group_win", group_win), ("group_low", group_low),
                         ("group_high", group_high)):
        getattr(result, name)[cand] = np.moveaxis(values, 1, -1)[place]
    _lowest_group(result, cand)


def _win_probability(scores: np.ndarray, covariance: np.ndarray, in_play: np.ndarray,
                     z: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(prompts, groups, k) mean P(i beats j) over the prompt's other candidates in play, and its delta-
    method interval on the logit scale: var(w_i) = g_i' C g_i, g_i the gradient of w_i in the scores."""
    p_win = 0.5 * (1 + np.tanh((scores[..., :, None] - scores[..., None, :]) / 2))
    k = scores.shape[-1]
    others = in_play[:, None, :, None] & in_play[:, None, None, :] & ~np.eye(k, dtype=bool)
    count = np.maximum(others.sum(axis=-1), 1)
    win = (p_win * others).sum(axis=-1) / count
    slope = p_win * (1 - p_win) * others / count[..., None]  # d w_i / d s_j = -slope_ij for j != i
    gradient = -slope + np.eye(k) * slope.sum(axis=-1)[..., None]
    variance = np.einsum("...ia,...ab,...ib->...i", gradient, covariance, gradient)
    return _logit_interval(win, variance, others.sum(axis=-1) == 0, z)


def _logit_interval(win: np.ndarray, variance: np.ndarray, missing: np.ndarray,
                    z: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The delta-method interval of a win probability on the logit scale (inside 0..1); NaN where
    `missing` (a candidate alone in its prompt beats no one)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        logit = np.log(win / (1 - win))
        half = z * np.sqrt(np.maximum(variance, 0)) / (win * (1 - win))
    low = np.where(missing, np.nan, 1 / (1 + np.exp(-(logit - half))))
    high = np.where(missing, np.nan, 1 / (1 + np.exp(-(logit + half))))
    return np.where(missing, np.nan, win), low, high
