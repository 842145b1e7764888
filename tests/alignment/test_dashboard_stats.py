"""The dashboards' statistics and figures on data small enough to check by hand (no database)."""

import ast
import tracemalloc
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest

from alignment.dashboards import bradley_terry, plots, stats
from alignment.dashboards.bradley_terry import (
    Matches,
    bradley_terry_sparse,
    leaderboard_bootstrap,
    leaderboard_normal,
)

ROOT = Path(__file__).resolve().parents[2]


# --- rates and intervals ---------------------------------------------------------------------------


def test_a_tie_counts_half_a_vote_to_each_side():
    rate, n = stats.preference_rate(np.array([[3, 1, 0], [1, 1, 2], [0, 0, 0]]))
    assert rate[:2].tolist() == [0.75, 0.5] and np.isnan(rate[2])
    assert n.tolist() == [4, 4, 0]


def test_the_wilson_interval_matches_the_textbook_value_and_stays_inside_zero_one():
    low, high = stats.wilson_interval(np.array([8, 0, 10]), np.array([10, 10, 10]))
    # 8 of 10: Wilson 95% interval is (0.4902, 0.9433).
    assert low[0] == pytest.approx(0.4902, abs=1e-4) and high[0] == pytest.approx(0.9433, abs=1e-4)
    assert low[1] == pytest.approx(0) and 0 < high[1] < 0.35
    assert high[2] == pytest.approx(1) and 0.65 < low[2] < 1


def test_the_wilson_interval_of_no_judgments_is_undefined():
    low, high = stats.wilson_interval(np.array([0]), np.array([0]))
    assert np.isnan(low[0]) and np.isnan(high[0])


# --- divergence --------------------------------------------------------------------------------------


def test_a_pair_where_all_d_pick_a_and_all_r_pick_b_has_divergence_one():
    d_all_a, r_all_b = [5, 0, 0], [0, 4, 0]
    rate, _ = stats.preference_rate(np.array([[d_all_a, r_all_b]]))
    divergence = stats.pair_divergence(rate)
    assert divergence.abs_diff.tolist() == [1.0]
    assert divergence.js.tolist() == [1.0]
    assert divergence.splits.tolist() == [True]


def test_groups_that_agree_have_divergence_zero():
    divergence = stats.pair_divergence(np.array([[0.7, 0.7], [0.5, 0.5]]))
    assert divergence.abs_diff.tolist() == [0.0, 0.0]
    assert divergence.js == pytest.approx([0.0, 0.0], abs=1e-12)
    assert divergence.splits.tolist() == [False, False]


def test_jensen_shannon_of_two_bernoullis_is_the_hand_computed_value():
    # JS(0.8, 0.2) = H(0.5) - H(0.8) = 1 - 0.7219 bits.
    assert stats.js_divergence(0.8, 0.2) == pytest.approx(1 - 0.721928, abs=1e-6)
    assert stats.js_divergence(0.3, 0.3) == pytest.approx(0.0)


def test_a_pair_judged_by_one_group_has_no_divergence():
    divergence = stats.pair_divergence(np.array([[1.0, np.nan, np.nan]]))
    assert divergence.groups.tolist() == [1]
    assert np.isnan(divergence.abs_diff[0]) and np.isnan(divergence.js[0]) and not divergence.splits[0]


def test_no_pairs_and_no_groups_give_empty_answers():
    assert stats.pair_divergence(np.zeros((0, 0))).abs_diff.shape == (0,)
    assert stats.divergence_matrix(np.zeros((0, 2)))[1].tolist() == [[0, 0], [0, 0]]
    assert np.isnan(stats.agreement_rates(np.zeros((0, 2, 4))).rates).all()


def test_divergence_of_several_groups_is_the_largest_gap_and_the_generalised_js():
    divergence = stats.pair_divergence(np.array([[1.0, 0.0, 1.0, 0.0], [0.9, 0.6, np.nan, 0.6]]))
    assert divergence.abs_diff == pytest.approx([1.0, 0.3])
    # Two groups always A and two always B: the mixture is a fair coin (1 bit), each group is certain.
    assert divergence.js[0] == pytest.approx(1.0)
    assert divergence.groups.tolist() == [4, 3]


def test_the_group_matrix_averages_gaps_over_the_pairs_both_groups_judged():
    rates = np.array([[1.0, 0.0, np.nan], [0.5, 0.5, 0.0], [0.6, np.nan, 0.2]])
    matrix, shared = stats.divergence_matrix(rates)
    assert matrix[0, 1] == pytest.approx(0.5)  # pairs 0 and 1: gaps 1 and 0
    assert matrix[0, 2] == pytest.approx(0.45)  # pairs 1 and 2: gaps 0.5 and 0.4
    assert matrix[1, 2] == pytest.approx(0.5)
    assert np.diag(matrix).tolist() == [0, 0, 0]
    assert shared.tolist() == [[3, 2, 2], [2, 2, 1], [2, 1, 2]]


def test_group_means_skip_pairs_without_a_value():
    means, counts = stats.group_means(np.array([1.0, 0.0, np.nan, 0.5]), np.array([0, 0, 1, 1]), 3)
    assert means[:2].tolist() == [0.5, 0.5] and np.isnan(means[2])
    assert counts.tolist() == [2, 1, 0]


# --- agreement -------------------------------------------------------------------------------------


def test_groups_that_agree_inside_and_disagree_with_each_other_show_it_in_agreement():
    counts = np.zeros((1, 2, 4))
    counts[0, 0, 0] = 3  # three D annotators prefer A
    counts[0, 1, 1] = 2  # two R annotators prefer B
    agreement = stats.agreement_rates(counts)
    assert agreement.rates.tolist() == [[1.0, 0.0], [0.0, 1.0]]
    assert agreement.annotator_pairs.tolist() == [[6, 6], [6, 2]]  # ordered pairs of different annotators


def test_agreement_within_a_split_group_is_the_share_of_matching_annotator_pairs():
    counts = np.array([[[2, 1, 0, 0]]], dtype=float)  # A, A, B: of 6 ordered pairs, 2 agree
    assert stats.agreement_rates(counts).rates[0, 0] == pytest.approx(2 / 6)


def test_krippendorffs_alpha_is_one_for_perfect_agreement_and_matches_a_hand_computed_value():
    assert stats.krippendorff_alpha(np.array([[3, 0], [0, 3]])) == pytest.approx(1.0)
    # Two units of (2 of one value, 1 of the other): o_cc = 1 per value, o_ck = 2 per direction;
    # n = 6, n_c = 3: alpha = 1 - (n - 1) * 4 / (2 * 3 * 3) = -1/9.
    assert stats.krippendorff_alpha(np.array([[2, 1], [1, 2]])) == pytest.approx(-1 / 9)
    assert np.isnan(stats.krippendorff_alpha(np.array([[1, 0]])))


# --- Bradley-Terry --------------------------------------------------------------------------------


def test_bradley_terry_recovers_the_odds_of_two_competitors():
    wins = np.array([[0, 75], [25, 0]], dtype=float)
    scores = stats.bradley_terry(wins, prior=0)  # no prior: the maximum-likelihood fit
    assert scores[0] - scores[1] == pytest.approx(np.log(3))
    assert scores.sum() == pytest.approx(0)


def test_bradley_terry_orders_a_transitive_tournament_and_keeps_a_perfect_record_finite():
    wins = np.array([[0, 10, 10], [0, 0, 10], [0, 0, 0]], dtype=float)
    scores = stats.bradley_terry(wins)
    assert scores[0] > scores[1] > scores[2]
    assert np.all(np.isfinite(scores))


def test_bradley_terry_fits_many_tables_at_once_like_one_at_a_time():
    tables = np.array([[[0, 8, 9], [2, 0, 6], [1, 4, 0]], [[0, 1, 2], [5, 0, 3], [7, 2, 0]]], dtype=float)
    together = stats.bradley_terry(tables)
    assert together[0] == pytest.approx(stats.bradley_terry(tables[0]))
    assert together[1] == pytest.approx(stats.bradley_terry(tables[1]))


def test_bootstrap_intervals_contain_the_estimate_and_narrow_with_more_data():
    small = np.array([[0, 6], [4, 0]], dtype=float)
    board = stats.bradley_terry_bootstrap(np.stack([small, small * 20]), draws=300, seed=1)
    assert np.all(board.low <= board.scores + 1e-9) and np.all(board.scores <= board.high + 1e-9)
    widths = board.high - board.low
    assert widths[1, 0] < widths[0, 0] / 2
    assert board.games.tolist() == [[10, 10], [200, 200]]


def test_bootstrap_is_reproducible_with_a_seed():
    wins = np.array([[[0, 6, 3], [4, 0, 5], [2, 5, 0]]], dtype=float)
    first = stats.bradley_terry_bootstrap(wins, draws=50, seed=7)
    second = stats.bradley_terry_bootstrap(wins, draws=50, seed=7)
    assert first.low.tolist() == second.low.tolist() and first.high.tolist() == second.high.tolist()


def test_ties_count_half_to_each_side_in_bradley_terry():
    wins = np.zeros((1, 2, 2))
    ties = np.array([[[0, 10], [0, 0]]], dtype=float)
    board = stats.bradley_terry_bootstrap(wins, ties, draws=20)
    assert board.scores[0] == pytest.approx([0, 0], abs=1e-9)
    assert board.games.tolist() == [[10, 10]]


def test_a_leaderboard_of_no_competitors_is_empty():
    board = stats.bradley_terry_bootstrap(np.zeros((2, 0, 0)))
    assert board.scores.shape == (2, 0)


def test_a_competitor_without_games_has_no_score_and_does_not_shift_the_others():
    wins = np.array([[[0, 30, 0], [10, 0, 0], [0, 0, 0]]], dtype=float)
    board = stats.bradley_terry_bootstrap(wins, draws=20)
    assert np.isnan(board.scores[0, 2]) and np.isnan(board.low[0, 2])
    assert board.scores[0, 0] == pytest.approx(-board.scores[0, 1])


def test_the_edge_list_solver_gives_the_dense_solvers_estimate():
    rng = np.random.default_rng(3)
    wins = rng.poisson(1.0, (2, 30, 30)).astype(float)
    wins[:, np.arange(30), np.arange(30)] = 0
    first, second = np.triu_indices(30, k=1)
    sparse = bradley_terry_sparse(first, second, wins[:, first, second], wins[:, second, first], 30)
    assert sparse == pytest.approx(stats.bradley_terry(wins), abs=1e-8)


def _sparse_tournament(k: int, seed: int = 0) -> tuple[Matches, np.ndarray]:
    """Each competitor meets about eight others a few times; i beats j with P = sigmoid(s_i - s_j)."""
    rng = np.random.default_rng(seed)
    strength = rng.normal(0, 1, k)
    first = np.repeat(np.arange(k), 4)
    second = (first + rng.integers(1, k, first.size)) % k
    keys = np.unique(np.minimum(first, second) * k + np.maximum(first, second))
    first, second = keys // k, keys % k
    games = rng.integers(2, 6, first.size)
    first_won = rng.binomial(games, 1 / (1 + np.exp(strength[second] - strength[first]))).astype(float)
    return Matches(first, second, first_won, games - first_won, np.zeros(first.size)), strength


def test_a_leaderboard_of_1500_competitors_bootstraps_in_bounded_memory():
    # The dense bootstrap held (draws + 1) x 2 x 1500^2 cells: 0.75 GB for 20 draws, 27 GiB for the
    # real study's 200 draws and four tables. The edge lists hold the games played.
    matches, strength = _sparse_tournament(1500)
    tracemalloc.start()
    try:
        board = leaderboard_bootstrap([matches], 1500, draws=20, seed=0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 150 * 2**20
    scores = board.scores[0]
    assert np.all(np.isfinite(scores)) and np.corrcoef(scores, strength)[0, 1] > 0.8
    assert np.all(board.low[0] <= scores + 1e-9) and np.all(scores <= board.high[0] + 1e-9)
    assert board.games[0].sum() == 2 * (matches.first_won + matches.second_won).sum()


def _round_robin(k: int, games: int, seed: int) -> tuple[Matches, np.ndarray]:
    """Every pair of k competitors plays `games` times; i beats j with P = sigmoid(s_i - s_j), s centred."""
    rng = np.random.default_rng(seed)
    strength = rng.normal(0, 1, k)
    strength -= strength.mean()
    first, second = np.triu_indices(k, 1)
    first_won = rng.binomial(games, 1 / (1 + np.exp(strength[second] - strength[first]))).astype(float)
    return Matches(first, second, first_won, games - first_won, np.zeros(first.size)), strength


def test_normal_intervals_agree_with_the_bootstrap_where_every_competitor_has_many_games():
    matches, _ = _round_robin(30, 30, seed=1)
    boot = leaderboard_bootstrap([matches], 30, draws=400, seed=0)
    normal = leaderboard_normal([matches], 30)
    assert normal.scores == pytest.approx(boot.scores, abs=1e-6)  # the same fit
    ratio = (normal.high - normal.low) / (boot.high - boot.low)
    assert 0.85 < ratio.min() and ratio.max() < 1.15
    assert normal.games.tolist() == boot.games.tolist()


def test_normal_intervals_cover_the_true_strengths_about_as_often_as_they_say():
    covered = total = 0
    for seed in range(10):
        matches, strength = _round_robin(25, 12, seed=seed)
        board = leaderboard_normal([matches], 25)
        covered += int(((board.low[0] <= strength) & (strength <= board.high[0])).sum())
        total += 25
    # 95% intervals (a small prior pulls toward 0, so slightly more or less): 250 checks.
    assert 0.88 <= covered / total <= 0.995


def test_normal_intervals_by_conjugate_gradients_equal_the_whole_inverse(monkeypatch):
    matches, _ = _sparse_tournament(300, seed=2)
    whole = leaderboard_normal([matches], 300)
    monkeypatch.setattr(bradley_terry, "INVERSE_DENSE_MAX", 10)
    solved = leaderboard_normal([matches], 300)
    assert solved.low == pytest.approx(whole.low, abs=1e-7) and solved.high == pytest.approx(whole.high, abs=1e-7)


def test_a_leaderboard_of_1500_competitors_takes_normal_intervals_in_one_fit():
    matches, strength = _sparse_tournament(1500)
    tables = [matches, Matches(matches.first[:0], matches.second[:0], *(np.zeros(0),) * 3)]
    board = leaderboard_normal(tables, 1500)
    scores = board.scores[0]
    assert np.all(np.isfinite(scores)) and np.corrcoef(scores, strength)[0, 1] > 0.8
    assert np.all(board.low[0] < scores) and np.all(scores < board.high[0])
    assert np.isnan(board.scores[1]).all()  # a board without games shows none


# --- distributions ----------------------------------------------------------------------------------


def test_histogram_and_quantiles_skip_missing_values():
    values = np.array([0.1, 0.2, 0.25, 0.9, np.nan])
    assert stats.histogram(values, np.array([0, 0.5, 1.0])).tolist() == [3, 1]
    assert stats.quantiles(values, (0.5,)) == [pytest.approx(0.225)]
    assert all(np.isnan(stats.quantiles(np.array([np.nan]))))


# --- figures -----------------------------------------------------------------------------------------

GROUPS = ["party=D", "party=R"]


def _rate(pair_id, group, rate, n=4):
    return {"pair_id": pair_id, "prompt": f"p{pair_id}", "group": group, "prefers_a": 0, "prefers_b": 0, "ties": 0,
            "both_bad": 1, "n": n, "rate_a": rate, "low": max(rate - 0.2, 0), "high": min(rate + 0.2, 1)}


def _valid(figure: dict) -> go.Figure:
    # graph_objects raises on any property plotly.js would not understand.
    return go.Figure(figure)


def test_the_group_rates_figure_has_one_trace_per_group_with_error_bars_from_the_interval():
    figure = plots.group_rates_figure([_rate(1, "party=D", 1.0), _rate(1, "party=R", 0.0)], GROUPS)
    _valid(figure)
    d, r = figure["data"]
    assert (d["name"], d["y"], d["error_y"]["arrayminus"], d["error_y"]["array"]) == ("party=D", [1.0], [0.2], [0.0])
    assert (r["name"], r["y"]) == ("party=R", [0.0])


def test_every_dashboard_figure_is_a_valid_plotly_figure_even_without_data():
    divergence_tables = {
        "top_pairs": [_rate(1, "party=D", 1.0), _rate(1, "party=R", 0.0)],
        "group_matrix": [{"group_a": a, "group_b": b, "mean_abs_diff": 0.0 if a == b else 1.0, "pairs": 1}
                         for a in GROUPS for b in GROUPS],
        "tags": [{"tag": "t", "pairs": 1, "mean_abs_diff": 1.0, "mean_js": 1.0, "split_share": 1.0}],
        "strategies": [{"strategy": "nc", "pairs": 1, "mean_abs_diff": 1.0, "mean_js": 1.0, "split_share": 1.0}],
        "agreement": [{"kind": "within", "group_a": "party=D", "group_b": "party=D", "agreement": 1.0,
                       "annotator_pairs": 2, "alpha": None},
                      {"kind": "across", "group_a": "party=D", "group_b": "party=R", "agreement": 0.0,
                       "annotator_pairs": 4, "alpha": None},
                      {"kind": "all", "group_a": "all groups", "group_b": "all groups", "agreement": 0.3,
                       "annotator_pairs": 12, "alpha": -0.2}],
    }
    leaderboard_tables = {"scores": [
        {"group": g, "competitor": c, "score": s, "low": s - 0.5, "high": s + 0.5, "games": 10, "win_rate": 0.5}
        for g in ["all groups", *GROUPS] for c, s in (("m1", 0.4), ("m2", -0.4))
    ]}
    strategies_tables = {
        "diversity_bins": [{"strategy": "nc", "low": 0.0, "high": 0.5, "pairs": 3},
                           {"strategy": "random", "low": 0.0, "high": 0.5, "pairs": 1}],
        "strategies": [{"strategy": "nc", "split_share": 0.5, "split_low": 0.1, "split_high": 0.9, "pairs_split": 1,
                        "pairs_compared": 2, "mean_abs_diff": 0.4}],
    }
    progress_tables = {
        "over_time": [{"bucket": "2025-01-01T00:00:00+00:00", "group": "party=D", "judgments": 2, "cumulative": 2}],
        "annotators": [{"annotator": "w1", "group": "party=D", "judgments": 2, "both_bad": 0}],
        "assignments": [{"group": "party=D", "status": "expired", "assignments": 1}],
    }
    empty = lambda tables: {name: [] for name in tables}  # noqa: E731
    for build, tables in [
        (plots.divergence_figures, divergence_tables), (plots.leaderboard_figures, leaderboard_tables),
        (plots.strategies_figures, strategies_tables), (plots.progress_figures, progress_tables),
    ]:
        for figures in (build(tables, GROUPS), build(empty(tables), [])):
            for figure in figures:
                _valid(figure["figure"])
        # Built from rows, every figure has something to draw; from no rows, none has (the page then
        # says "Nothing to show yet" instead of drawing bare axes).
        assert all(plots.has_content(figure["figure"]) for figure in build(tables, GROUPS))
        assert not any(plots.has_content(figure["figure"]) for figure in build(empty(tables), []))


def test_the_leaderboard_puts_the_pooled_fit_first_and_orders_competitors_by_it():
    rows = [{"group": g, "competitor": c, "score": s, "low": s - 1, "high": s + 1, "games": 5, "win_rate": 0.5}
            for g in ["all groups", "party=D"] for c, s in (("weak", -1.0), ("strong", 1.0))]
    figure = plots.leaderboard_figure(rows, ["party=D"])
    assert [trace["name"] for trace in figure["data"]] == ["all groups", "party=D"]
    assert figure["layout"]["yaxis"]["categoryarray"] == ["weak", "strong"]


# --- the boundary ------------------------------------------------------------------------------------


@pytest.mark.parametrize("module", ["alignment/dashboards/stats.py", "alignment/dashboards/plots.py",
                                    "alignment/dashboards/bradley_terry.py"])
def test_the_dashboard_stats_and_plots_import_nothing_of_django(module):
    tree = ast.parse((ROOT / module).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert not {name for name in imported if name.split(".")[0] in ("django", "rest_framework", "annotation")}
