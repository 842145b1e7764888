"""SPICA on a population with known group norms: it beats similarity-only retrieval, most for the far group."""

import numpy as np
import pytest

from alignment.spica import build_index, compute_metrics, make_scenarios, run_spica, split_scenarios, tune_alphas


@pytest.fixture(scope="module")
def run():
    population = make_scenarios(n_scenarios=1500, dim=16, seed=0)
    split = split_scenarios(population.data.n_scenarios, seed=0)
    return population, run_spica(population.data, split, m=10, max_queries=300, seed=0)


def test_spica_beats_similarity_only_on_held_out_scenarios(run):
    _, result = run
    gains = np.array(list(result.report.gain.values()))
    assert gains.mean() > 0.02
    assert np.all(gains > -0.02)  # no group pays noticeably for the others' gain


def test_the_gain_is_largest_for_the_group_furthest_from_the_population(run):
    population, result = run
    gains = result.report.gain
    far = population.data.group_names[population.furthest_group]
    assert far == "group-3"
    assert max(gains, key=gains.get) == far
    assert gains[far] > 0.1


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
