"""SPICA on a population with known group norms: it beats similarity-only retrieval and the constant
predictor in pair accuracy and, with ratings, in rating RMSE.

Salience varies between scenarios of one topic here (`salience_flip`): retrieval is relevance-first (the
norm bonus only re-ranks the query's nearest scenarios), so the metrics can only help by telling, among
relevant scenarios, those where the group's norm shows from those where it does not. The far group's
large gain measured before demonstrations were restricted to what a group judged came from the
population-filled demonstrations that similarity-only retrieval served it; with honest demonstrations
its gain is like the others'."""

from dataclasses import replace

import numpy as np
import pytest

from alignment.spica import (
    TunedAlphas,
    build_index,
    compute_metrics,
    evaluate_spica,
    make_scenarios,
    run_spica,
    split_scenarios,
    tune_alphas,
)

RATERS = (1.0, 1.0, 1.0, 0.5)  # mean raters per scenario and group; the far group rates least


FLIP = 0.35  # share of a group's scenarios whose salience is the opposite of their topic's


@pytest.fixture(scope="module")
def run():
    population = make_scenarios(n_scenarios=1500, dim=16, salience_flip=FLIP, seed=0)
    split = split_scenarios(population.data.n_scenarios, seed=0)
    return population, run_spica(population.data, split, m=10, max_queries=300, seed=0)


def test_spica_beats_similarity_only_on_held_out_scenarios(run):
    _, result = run
    gains = np.array(list(result.report.gain.values()))
    assert gains.mean() > 0.02
    assert np.all(gains > 0)


def test_spica_beats_both_baselines_for_every_group(run):
    population, result = run
    report = result.report
    assert report.verdict == dict.fromkeys(population.data.group_names, "beats_both")
    assert set(report.verdict_on.values()) == {"accuracy"}
    assert all(report.accuracy[g] > report.accuracy_constant[g] for g in report.group_names)


def test_similarity_only_serves_the_far_group_worst(run):
    population, result = run
    similarity = result.report.accuracy_similarity
    assert min(similarity, key=similarity.get) == population.data.group_names[population.furthest_group]


def test_tuning_on_dev_never_ends_below_the_similarity_only_baseline(run):
    _, result = run
    tuned = result.tuned
    assert np.all(tuned.dev_accuracy >= tuned.dev_accuracy_similarity)


def test_tuning_keeps_alpha_zero_when_the_metrics_carry_no_signal():
    population = make_scenarios(n_scenarios=300, dim=8, seed=2)
    data = population.data
    split = split_scenarios(data.n_scenarios, seed=2)
    index = build_index(data, compute_metrics(data), np.concatenate([split.train, split.dev]))
    index.z[:] = 0  # metrics that cannot rank anything
    tuned = tune_alphas(data, index, split.dev, m=5, max_queries=60)
    assert not np.any(tuned.alphas)


def test_a_run_is_reproducible_from_its_seed(run):
    population, result = run
    split = split_scenarios(population.data.n_scenarios, seed=0)
    again = run_spica(population.data, split, m=10, max_queries=300, seed=0)
    assert again.report.gain == result.report.gain
    assert np.array_equal(again.tuned.alphas, result.tuned.alphas)


@pytest.fixture(scope="module")
def rated():
    population = make_scenarios(n_scenarios=3000, dim=16, raters_per_group=RATERS, seed=0)
    split = split_scenarios(population.data.n_scenarios, seed=0)
    return population, split, run_spica(population.data, split, m=10, max_queries=300, seed=0)


def test_with_ratings_spica_predicts_the_far_groups_ratings_with_lower_rmse_than_similarity_only(rated):
    population, _, result = rated
    far = population.data.group_names[population.furthest_group]
    report = result.report
    assert report.rmse[far] < report.rmse_similarity[far]
    assert report.rmse_gain[far] == pytest.approx(report.rmse_similarity[far] - report.rmse[far])
    assert report.rating_scale == (1.0, 5.0) and report.sizes["test_ratings"] > 1000


def test_alpha_zero_reproduces_similarity_only_exactly_for_rmse_too(rated):
    population, split, result = rated
    zero = TunedAlphas(np.zeros_like(result.tuned.alphas), result.tuned.dev_accuracy_similarity,
                       result.tuned.dev_accuracy_similarity)
    report = evaluate_spica(population.data, result.index, zero, split.test, m=10)
    assert all(value is not None for value in report.rmse.values())
    assert report.rmse == report.rmse_similarity == result.report.rmse_similarity
    assert all(gain == 0 for gain in report.rmse_gain.values())
    assert report.accuracy == report.accuracy_similarity


def test_rmse_is_absent_not_zero_for_a_group_without_rated_test_scenarios(rated):
    population, split, result = rated
    ratings = population.data.ratings
    only_group_0 = replace(population.data, ratings=ratings.take(ratings.group == 0))
    report = evaluate_spica(only_group_0, result.index, result.tuned, split.test, m=10)
    assert report.rmse["group-0"] is not None and report.rmse["group-0"] > 0
    assert [report.rmse[g] for g in ("group-1", "group-2", "group-3")] == [None] * 3
    assert report.rmse_similarity["group-1"] is None and report.rmse_gain["group-1"] is None


def test_without_ratings_the_report_has_no_rmse(run):
    _, result = run
    report = result.report
    assert set(report.rmse.values()) == {None} == set(report.rmse_similarity.values())
    assert report.rating_scale is None and report.sizes["test_ratings"] == 0


def test_ratings_leave_the_judgments_of_a_seed_unchanged():
    plain = make_scenarios(n_scenarios=200, dim=8, seed=5).data.judgments
    with_ratings = make_scenarios(n_scenarios=200, dim=8, raters_per_group=RATERS, seed=5).data.judgments
    for column in ("scenario", "group", "a", "b", "label", "annotator"):
        assert np.array_equal(getattr(plain, column), getattr(with_ratings, column))


def test_known_truth_ratings_follow_the_groups_utility_and_are_extreme_only_where_it_cares(rated):
    population, _, _ = rated
    r = population.data.ratings
    topic = population.topic[r.scenario]
    utility = population.utility[r.group, topic]  # (n, K)
    centred = utility[np.arange(len(r)), population.stance[r.scenario, r.candidate]] - utility.mean(axis=1)
    strong = population.salience[r.group, topic] == population.salience.max()
    assert np.corrcoef(centred[strong], r.rating[strong])[0, 1] > 0.7
    assert np.abs(r.rating[strong] - 3).mean() > np.abs(r.rating[~strong] - 3).mean() + 0.5


def test_with_ratings_the_alphas_are_tuned_on_rating_error_and_never_end_above_the_baseline(rated):
    tuned = rated[2].tuned
    assert tuned.objective == ("rmse",) * len(tuned.objective)
    assert np.all(tuned.dev_rmse <= tuned.dev_rmse_similarity)


def test_without_ratings_the_alphas_are_tuned_on_pair_accuracy(run):
    tuned = run[1].tuned
    assert set(tuned.objective) == {"accuracy"}
    assert np.all(np.isnan(tuned.dev_rmse))
