"""SPICA metrics on toys small enough to check by hand (plain pytest, no database)."""

import numpy as np
import pytest

from alignment.spica import GroupJudgments, GroupRatings, SpicaData, compute_metrics, member_counts, win_counts

TAU = 2.0


def _data(scenario, group, a, b, label, *, annotator=None, n_scenarios=1, n_groups=2, candidates=3,
          ratings=None) -> SpicaData:
    """Without `annotator`, every judgment comes from a member of its own."""
    rng = np.random.default_rng(0)
    annotator = np.arange(len(label)) if annotator is None else annotator
    embeddings = rng.normal(size=(n_scenarios, 4))
    return SpicaData(
        embeddings=(embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)).astype(np.float32),
        candidate_features=np.tile(np.eye(candidates, dtype=np.float32), (n_scenarios, 1, 1)),
        n_candidates=np.full(n_scenarios, candidates),
        judgments=GroupJudgments.from_arrays(scenario, group, a, b, label, annotator=annotator),
        group_names=tuple(f"g{i}" for i in range(n_groups)),
        ratings=ratings,
    )


def _unanimous_group_zero():
    """Group 0: four members, each prefers candidate 0 (over 1 twice, over 2 twice). Group 1 (one
    judgment): prefers 1 over 0."""
    return _data([0] * 5, [0, 0, 0, 0, 1], [0, 0, 2, 1, 0], [1, 2, 0, 0, 1], [1, 1, 0, 0, 0])


def test_a_unanimous_group_prefers_its_candidate_with_full_raw_consensus():
    metrics = compute_metrics(_unanimous_group_zero(), tau=1e-9)
    assert metrics.preferred[0, 0] == 0
    assert metrics.consensus[0, 0] == pytest.approx(1.0)
    assert metrics.support[0].tolist() == [4, 1]


def test_scores_are_win_rates_shrunk_toward_the_population():
    metrics = compute_metrics(_unanimous_group_zero(), tau=TAU)
    # Population: candidate 0 won 4 of 5 appearances -> (4 + 1) / (5 + 2) = 5/7.
    p_pop0 = 5 / 7
    # Group 1 saw candidate 0 once and it lost: (0 + 2 * 5/7) / (1 + 2).
    assert metrics.scores[0, 1, 0] == pytest.approx((0 + TAU * p_pop0) / (1 + TAU))
    # Group 0: 4 wins in 4 appearances.
    assert metrics.scores[0, 0, 0] == pytest.approx((4 + TAU * p_pop0) / (4 + TAU))


def test_shrinkage_pulls_a_one_judgment_group_toward_the_population():
    # Group 0: eight members all preferring candidate 0; group 1: one judgment, 1 over 0.
    data = _data([0] * 9, [0] * 8 + [1], [0, 0, 2, 1] * 2 + [0], [1, 2, 0, 0] * 2 + [1], [1, 1, 0, 0] * 2 + [0])
    raw = compute_metrics(data, tau=1e-9)
    shrunk = compute_metrics(data, tau=TAU)
    # Shrunk, the population's candidate 0 stays ahead of candidate 1 in group 1's scores...
    assert shrunk.scores[0, 1, 0] > shrunk.scores[0, 1, 1]
    # ...but the preferred answer is what group 1 itself chose, 1 over 0, shrunk or not.
    assert raw.preferred[0, 1] == shrunk.preferred[0, 1] == 1
    assert raw.dispreferred[0, 1] == shrunk.dispreferred[0, 1] == 0
    assert shrunk.intensity[0, 1] < raw.intensity[0, 1]
    assert shrunk.distinctiveness[0, 1] < raw.distinctiveness[0, 1]


def test_consensus_is_zero_when_every_comparison_splits_evenly():
    data = _data([0] * 4, [0] * 4, [0, 1, 0, 2], [1, 0, 2, 0], [1, 1, 1, 1], n_groups=1)
    assert compute_metrics(data, tau=1e-9).consensus[0, 0] == pytest.approx(0.0)


def test_a_group_without_judgments_takes_the_population_values():
    data = _data([0] * 4, [0] * 4, [0, 0, 1, 0], [1, 2, 2, 1], [1, 1, 1, 1], n_groups=2)
    metrics = compute_metrics(data, tau=TAU)
    assert metrics.support[0, 1] == 0
    assert metrics.preferred[0, 0] == 0
    # No judgment of its own: no preferred or dispreferred answer, no intensity.
    assert metrics.preferred[0, 1] == metrics.dispreferred[0, 1] == -1 and not metrics.evidence[0, 1]
    assert metrics.intensity[0, 1] == 0
    assert metrics.consensus[0, 1] == pytest.approx(1.0)  # the population's (unanimous) consensus
    assert metrics.distinctiveness[0, 1] == pytest.approx(0.0, abs=1e-12)


def test_intensity_is_the_gap_between_preferred_and_dispreferred_scores():
    metrics = compute_metrics(_unanimous_group_zero(), tau=TAU)
    s = metrics.scores[0, 0]
    assert metrics.intensity[0, 0] == pytest.approx(np.nanmax(s) - np.nanmin(s))
    assert metrics.dispreferred[0, 0] == int(np.nanargmin(s))


def test_padding_candidates_are_never_preferred_or_dispreferred():
    data = SpicaData(
        embeddings=np.eye(2, 4, dtype=np.float32),
        candidate_features=np.tile(np.eye(4, dtype=np.float32), (2, 1, 1)),
        n_candidates=np.array([2, 4]),
        judgments=GroupJudgments.from_arrays([0, 1], [0, 0], [0, 3], [1, 2], [0, 1], annotator=[7, 7]),
        group_names=("g0",),
    )
    metrics = compute_metrics(data)
    assert metrics.preferred[0, 0] == 1 and metrics.dispreferred[0, 0] == 0
    assert np.isnan(metrics.scores[0, 0, 2:]).all()
    assert metrics.preferred[1, 0] == 3


def test_win_counts_match_a_per_judgment_loop():
    rng = np.random.default_rng(3)
    n = 300
    a = rng.integers(0, 4, n)
    b = (a + rng.integers(1, 4, n)) % 4
    label = rng.choice([0.0, 0.5, 1.0], n)
    data = _data(rng.integers(0, 5, n), rng.integers(0, 3, n), a, b, label, n_scenarios=5, n_groups=3, candidates=4)
    counts = win_counts(data)
    wins, appearances = np.zeros((5, 3, 4)), np.zeros((5, 3, 4))
    j = data.judgments
    for s, g, x, y, lab in zip(j.scenario, j.group, j.a, j.b, j.label, strict=True):
        wins[s, g, x] += lab
        wins[s, g, y] += 1 - lab
        appearances[s, g, x] += 1
        appearances[s, g, y] += 1
    np.testing.assert_allclose(counts.wins, wins)
    np.testing.assert_allclose(counts.appearances, appearances)


def test_ratings_give_the_scores_where_a_group_rated_the_scenario():
    ratings = GroupRatings.from_arrays([0, 0, 0], [0, 0, 0], [0, 1, 2], [1, 5, 3], annotator=[9, 9, 9])
    data = _data([0], [1], [0], [1], [1], ratings=ratings)
    metrics = compute_metrics(data, tau=TAU)
    assert metrics.preferred[0, 0] == 1  # rated 5, though no pairwise judgment of group 0
    assert metrics.dispreferred[0, 0] == 0
    assert metrics.preferred[0, 1] == 0  # group 1 only judged pairs: 0 beat 1


def test_it_rejects_a_judgment_of_a_candidate_beyond_its_scenario():
    with pytest.raises(ValueError, match="beyond its scenario"):
        _data([0], [0], [0], [3], [1])


def test_it_rejects_labels_other_than_win_loss_or_tie():
    with pytest.raises(ValueError, match="labels"):
        GroupJudgments.from_arrays([0], [0], [0], [1], [0.7], annotator=[0])


def test_population_consensus_pools_votes_so_opposed_groups_do_not_agree():
    # Group 0 unanimously 0 over 1, group 1 unanimously 1 over 0; group 2 has no judgment and so
    # takes the population's consensus, which is an even split.
    data = _data([0] * 4, [0, 0, 1, 1], [0, 0, 1, 1], [1, 1, 0, 0], [1, 1, 1, 1], n_groups=3)
    metrics = compute_metrics(data, tau=TAU)
    assert metrics.consensus[0, 2] == pytest.approx(0.0)
    assert metrics.consensus[0, 0] == pytest.approx((2 * 1 + TAU * 0) / (2 + TAU))


def test_support_counts_distinct_members_not_judgments():
    # Group 0: members 10 and 11 judge all three pairs each (six judgments); group 1: member 20 judges
    # two pairs. Shrinkage still weighs judgments; support counts the people.
    pairs_a, pairs_b = [0, 0, 1], [1, 2, 2]
    data = _data([0] * 8, [0] * 6 + [1, 1], pairs_a * 2 + [0, 1], pairs_b * 2 + [1, 2], [1] * 8,
                 annotator=[10, 10, 10, 11, 11, 11, 20, 20])
    metrics = compute_metrics(data, tau=TAU)
    assert metrics.support[0].tolist() == [2, 1]
    assert win_counts(data).judgments[0].tolist() == [6, 2]


def test_a_member_who_judged_and_rated_a_scenario_counts_once_and_a_rater_counts_too():
    # Member 5 judged a pair and rated two candidates of scenario 0; member 6 only rated; in group 1,
    # member 8 only rated scenario 1.
    ratings = GroupRatings.from_arrays([0, 0, 0, 1], [0, 0, 0, 1], [0, 1, 2, 0], [4, 2, 5, 3], annotator=[5, 5, 6, 8])
    data = _data([0], [0], [0], [1], [1], annotator=[5], n_scenarios=2, ratings=ratings)
    assert member_counts(data).tolist() == [[2, 0], [0, 1]]
    assert compute_metrics(data).support.tolist() == [[2, 0], [0, 1]]


def test_the_same_annotator_id_in_two_scenarios_counts_in_each():
    data = _data([0, 1, 1], [0, 0, 0], [0, 0, 1], [1, 2, 2], [1, 1, 0], annotator=[3, 3, 3], n_scenarios=2)
    assert member_counts(data)[:, 0].tolist() == [1, 1]


def test_it_rejects_judgments_without_an_annotator_for_each():
    with pytest.raises(ValueError, match="same length"):
        GroupJudgments.from_arrays([0, 0], [0, 0], [0, 1], [1, 2], [1, 1], annotator=[4])


def test_it_rejects_a_rating_of_a_candidate_beyond_its_scenario():
    ratings = GroupRatings.from_arrays([0], [0], [3], [4], annotator=[1])
    with pytest.raises(ValueError, match="a rating refers"):
        _data([0], [0], [0], [1], [1], ratings=ratings)
