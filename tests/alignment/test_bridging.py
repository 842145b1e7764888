"""Bridging scores on known truth (no database): what every group prefers against what wins overall."""

import numpy as np
import plotly.graph_objects as go
import pytest

from alignment.dashboards.bridging import Outcomes, bridging_scores
from alignment.dashboards.bridging_plots import group_win_figure
from alignment.dashboards.plots import has_content

# Candidates of a prompt: F, the majority's favourite, which the minority dislikes; B, liked by both
# groups (less than F by the majority); two middling ones. Utilities per group (majority, minority).
F, B = 0, 1
UTILITY = np.array([[2.0, 1.0, 0.0, 0.0], [-1.0, 1.0, 0.0, 0.0]])


def simulate(utility: np.ndarray, raters: tuple[int, ...], *, prompts: int = 1, seed: int = 0,
             scale: float = 1.0) -> tuple[Outcomes, np.ndarray]:
    """Every pair of each prompt judged by raters[g] members of group g, choosing by Bradley-Terry on
    their group's utilities (times `scale`: below 1, weaker signals)."""
    rng = np.random.default_rng(seed)
    k = utility.shape[1]
    rows = []
    for p in range(prompts):
        for a in range(k):
            for b in range(a + 1, k):
                for g, n in enumerate(raters):
                    chance = 1 / (1 + np.exp(-scale * (utility[g, a] - utility[g, b])))
                    won = rng.binomial(n, chance)
                    rows.append((g, p * k + a, p * k + b, won, n - won, 0))
    columns = np.array(rows, dtype=np.int64)
    return Outcomes(*columns.T), np.repeat(np.arange(prompts), k)


@pytest.mark.parametrize("seed", range(5))
def test_bridging_ranks_the_candidate_both_groups_like_first_and_win_rate_the_majoritys_favourite(seed):
    outcomes, prompt_of = simulate(UTILITY, (150, 50), seed=seed)  # a minority of 25%
    result = bridging_scores(outcomes, prompt_of, 2)
    assert np.nanargmax(result.win_rate) == F
    assert np.nanargmax(result.score) == B
    # The favourite's score is the minority's low opinion of it; the bridge's interval clears one half.
    assert result.lowest_group[F] == 1 and result.score[F] < 0.35
    assert result.low[B] > 0.5 and result.score[B] > result.high[F]


def test_the_bridging_interval_holds_the_lowest_group_bounds_and_narrows_with_more_judgments():
    few = bridging_scores(*simulate(UTILITY, (6, 2), seed=1), 2)
    many = bridging_scores(*simulate(UTILITY, (600, 200), seed=1), 2)
    for result in (few, many):
        assert np.all(result.low <= result.score) and np.all(result.score <= result.high)
        assert result.low == pytest.approx(np.nanmin(result.group_low, axis=1))
    assert np.all(many.high - many.low < (few.high - few.low) / 3)
    assert few.group_games[B].tolist() == [18, 6]  # n per group: raters x the 3 other candidates


@pytest.mark.parametrize("seed", range(5))
def test_on_crowd_shaped_data_with_no_candidate_liked_by_all_no_bridge_is_invented(seed):
    # 40 prompts of 4 candidates; each candidate one group likes the other dislikes (weak signals),
    # 3 raters of the majority and 2 of the minority per pair, as crowd studies get.
    rng = np.random.default_rng(100 + seed)
    outcomes_rows, prompt_of = [], []
    for p in range(40):
        majority = rng.normal(0, 1, 4)
        outcomes, _ = simulate(np.stack([majority, -majority]), (3, 2), seed=seed * 1000 + p, scale=0.8)
        columns = np.stack([outcomes.group, outcomes.first + 4 * p, outcomes.second + 4 * p, outcomes.first_won,
                            outcomes.second_won, outcomes.tied], axis=1)
        outcomes_rows.append(columns)
        prompt_of += [p] * 4
    result = bridging_scores(Outcomes(*np.concatenate(outcomes_rows).T), np.array(prompt_of), 2)
    tops = [int(np.nanargmax(result.score[4 * p: 4 * p + 4])) + 4 * p for p in range(40)]
    assert all(result.low[top] < 0.5 for top in tops)  # no prompt's top bridge is supported
    assert np.mean(result.score[tops]) < 0.6


def test_a_candidate_some_group_never_judged_has_no_bridging_score():
    # Group 1 judged only candidates 0 and 1 of a three-candidate prompt.
    outcomes = Outcomes(group=np.array([0, 0, 0, 1]), first=np.array([0, 0, 1, 0]), second=np.array([1, 2, 2, 1]),
                        first_won=np.array([5, 5, 5, 3]), second_won=np.array([1, 1, 1, 3]), tied=np.zeros(4))
    result = bridging_scores(outcomes, np.zeros(3, dtype=np.int64), 2)
    assert np.isnan(result.score[2]) and result.lowest_group[2] == -1
    assert result.group_games[2].tolist() == [12, 0]
    assert not np.isnan(result.score[:2]).any()


def test_a_tie_counts_half_a_win_to_each_side():
    outcomes = Outcomes(group=np.array([0]), first=np.array([0]), second=np.array([1]), first_won=np.array([0]),
                        second_won=np.array([0]), tied=np.array([10]))
    result = bridging_scores(outcomes, np.array([7, 7]), 1)
    assert result.win_rate.tolist() == [0.5, 0.5] and result.games.tolist() == [10, 10]
    assert result.score == pytest.approx([0.5, 0.5])


def test_prompts_of_different_sizes_are_fitted_as_if_alone():
    small, small_prompts = simulate(UTILITY[:, :3], (20, 10), seed=3)
    large, large_prompts = simulate(np.tile(UTILITY, 2)[:, :6], (20, 10), seed=4)
    alone = bridging_scores(small, small_prompts, 2)
    both = Outcomes(*(np.concatenate([getattr(small, f), getattr(large, f) + (3 if f in ("first", "second") else 0)])
                      for f in ("group", "first", "second", "first_won", "second_won", "tied")))
    together = bridging_scores(both, np.concatenate([small_prompts, large_prompts + 1]), 2)
    assert together.score[:3] == pytest.approx(alone.score)
    assert together.low[:3] == pytest.approx(alone.low)
    assert not np.isnan(together.score[3:]).any()


def test_outcomes_between_candidates_of_different_prompts_are_refused():
    outcomes = Outcomes(*(np.array([v]) for v in (0, 0, 1, 1, 0, 0)))
    with pytest.raises(ValueError, match="different prompts"):
        bridging_scores(outcomes, np.array([0, 1]), 1)


def test_the_figure_shows_each_groups_win_probability_per_top_candidate_and_validates():
    row = {"prompt": "p0", "candidate": "c1", "win_rate": 0.6, "win_low": 0.5, "win_high": 0.7, "games": 40,
           "groups": [{"group": "party=D", "win": 0.7, "low": 0.6, "high": 0.8, "n": 30},
                      {"group": "party=R", "win": 0.55, "low": 0.4, "high": 0.7, "n": 10}]}
    figure = group_win_figure([row], [row], ["party=D", "party=R"])
    go.Figure(figure)  # plotly accepts it
    assert [trace["name"] for trace in figure["data"]] == ["overall win rate (all groups)", "party=D", "party=R"]
    assert figure["data"][1]["x"] == [0.7] and figure["data"][2]["customdata"] == [[10]]
    assert not has_content(group_win_figure([], [], ["party=D"]))


def _sparse_outcomes(k: int, groups: int, seed: int) -> Outcomes:
    """Each group judges a random third of a prompt's pairs a few times each, with ties; the last group
    only the first half of the candidates (the rest are others it never judged), the last candidate nobody."""
    rng = np.random.default_rng(seed)
    utility = rng.normal(0, 1, (groups, k))
    rows = []
    for g in range(groups):
        judged = k // 2 if g == groups - 1 else k - 1
        for a in range(judged):
            for b in range(a + 1, judged):
                if rng.random() < 0.33:
                    n = int(rng.integers(1, 5))
                    tied = int(rng.binomial(n, 0.2))
                    won = int(rng.binomial(n - tied, 1 / (1 + np.exp(utility[g, b] - utility[g, a]))))
                    rows.append((g, a, b, won, n - tied - won, tied))
    return Outcomes(*np.array(rows, dtype=np.int64).T)


@pytest.mark.parametrize("seed", range(3))
def test_a_prompt_of_many_candidates_fitted_group_by_group_gives_the_dense_fits_scores_and_intervals(
        seed, monkeypatch):
    from alignment.dashboards import bridging

    outcomes = _sparse_outcomes(24, 3, seed)
    prompts = np.zeros(24, dtype=np.int64)
    dense = bridging_scores(outcomes, prompts, 3)
    monkeypatch.setattr(bridging, "LARGE_PROMPT", 8)
    by_group = bridging_scores(outcomes, prompts, 3)
    for field in ("win_rate", "win_low", "games", "group_games", "group_win", "group_low", "group_high",
                  "score", "low", "high", "lowest_group"):
        assert getattr(by_group, field) == pytest.approx(getattr(dense, field), abs=1e-7, nan_ok=True), field
    assert np.isnan(dense.score[23]) and not np.isnan(dense.score[:23]).all()


def test_several_prompts_of_many_candidates_are_each_fitted_as_if_alone(monkeypatch):
    from alignment.dashboards import bridging

    monkeypatch.setattr(bridging, "LARGE_PROMPT", 8)
    first, second = _sparse_outcomes(24, 3, 0), _sparse_outcomes(24, 3, 1)
    alone = [bridging_scores(o, np.zeros(24, dtype=np.int64), 3) for o in (first, second)]
    shifted = {"first": 24, "second": 24}
    # The second prompt's outcomes first: the grouping must not depend on their order.
    both = Outcomes(*(np.concatenate([getattr(second, f) + shifted.get(f, 0), getattr(first, f)])
                      for f in ("group", "first", "second", "first_won", "second_won", "tied")))
    together = bridging_scores(both, np.repeat([0, 1], 24), 3)
    for part, fit in enumerate(alone):
        span = slice(24 * part, 24 * (part + 1))
        assert together.score[span] == pytest.approx(fit.score, nan_ok=True)
        assert together.low[span] == pytest.approx(fit.low, nan_ok=True)
