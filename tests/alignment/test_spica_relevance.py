"""SPICA stays relevant: on a weak-salience population shaped like real crowd data (many topics, a small
cosine spread, 2 raters per group and scenario, noisy 1-5 ratings), tuned alphas may not make retrieval
ignore the query; and the report says whether SPICA beats the baselines that can say no."""

import numpy as np
import pytest

from alignment.spica import (
    POOL_FACTOR,
    TunedAlphas,
    evaluate_spica,
    nearest_pool,
    pool_size,
    run_spica,
    split_scenarios,
    top_m,
    weak_salience_scenarios,
)

M = 5


@pytest.fixture(scope="module")
def weak():
    population = weak_salience_scenarios(n_scenarios=1500, dim=32, seed=0)
    split = split_scenarios(population.data.n_scenarios, seed=0)
    return population, split, run_spica(population.data, split, m=M, max_queries=300, seed=0)


def test_the_weak_salience_population_has_the_shape_of_real_crowd_data(weak):
    population, _, _ = weak
    data, topic = population.data, population.topic
    ratings = data.ratings
    per_cell = np.bincount(ratings.scenario * data.n_groups + ratings.group) // data.max_candidates
    assert set(per_cell.tolist()) == {2}  # two raters per group and scenario
    assert set(np.unique(ratings.rating)) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    similarity = data.embeddings @ data.embeddings.T
    same = topic[:, None] == topic[None, :]
    np.fill_diagonal(same, False)
    spread = similarity[same].mean() - similarity[topic[:, None] != topic[None, :]].mean()
    assert 0.05 < spread < 0.25  # related texts only a little closer than unrelated ones


def test_tuning_gives_some_group_a_metric_bonus_wider_than_the_cosine_spread(weak):
    # The situation the pool guards against: without it, this bonus alone would pick the scenarios.
    _, _, result = weak
    index, alphas = result.index, result.tuned.alphas
    spreads = [np.ptp(index.z[g] @ alphas[g]) for g in range(len(alphas))]
    assert max(spreads) > 0.3


def test_two_unrelated_queries_share_almost_none_of_their_top_m_after_tuning(weak):
    population, split, result = weak
    data, topic, rng = population.data, population.topic, np.random.default_rng(0)
    overlaps = []
    for group in range(data.n_groups):
        alphas = result.tuned.alphas[group]
        for _ in range(80):
            a, b = rng.choice(split.test, size=2, replace=False)
            if topic[a] == topic[b]:
                continue
            top_a, top_b = (set(top_m(result.index, data.embeddings[q], group, alphas, M)[0].tolist()) for q in (a, b))
            overlaps.append(len(top_a & top_b) / M)
    assert np.mean(overlaps) < 0.05 and max(overlaps) <= 0.4


def test_retrieved_scenarios_are_always_among_the_querys_nearest_whatever_the_alphas(weak):
    population, split, result = weak
    queries = population.data.embeddings[split.test[:50]]
    similarity = queries @ result.index.embeddings.T
    pool = nearest_pool(similarity, pool_size(M, len(result.index)))
    assert pool.shape[1] == POOL_FACTOR * M
    for alphas in (np.full(4, 100.0), np.array([-50.0, 80.0, 30.0, -10.0])):
        retrieved = top_m(result.index, queries, 3, alphas, M)
        assert all(set(r) <= set(p) for r, p in zip(retrieved.tolist(), pool.tolist(), strict=True))


def test_the_report_gives_the_mean_similarity_of_retrieved_scenarios_beside_similarity_only(weak):
    _, _, result = weak
    report = result.report
    for g in report.group_names:
        spica, baseline = report.retrieved_similarity[g], report.retrieved_similarity_baseline[g]
        assert 0 < spica <= baseline + 1e-6  # similarity-only retrieves the most similar by definition
        assert spica > 0.85 * baseline


def test_the_constant_baselines_are_reported_with_their_n(weak):
    population, split, result = weak
    report, data = result.report, population.data
    test_ratings = data.ratings.for_scenarios(split.test)
    for gi, g in enumerate(report.group_names):
        assert report.n_ratings[g] == int(np.sum(test_ratings.group == gi))
        assert 0 < report.rmse_constant[g] < 4 and 0 < report.accuracy_constant[g] < 1
    assert sum(report.n_judgments.values()) == report.sizes["test_judgments"]


def test_the_rating_constant_is_the_groups_mean_bank_rating(weak):
    population, split, result = weak
    data, report = population.data, result.report
    bank = data.ratings.for_scenarios(result.index.rows)
    test = data.ratings.for_scenarios(split.test)
    for gi, g in enumerate(report.group_names):
        mean = bank.rating[bank.group == gi].mean()
        expected = np.sqrt(np.mean((test.rating[test.group == gi] - mean) ** 2))
        assert report.rmse_constant[g] == pytest.approx(expected, rel=1e-6)


def test_spica_that_is_similarity_only_is_not_reported_as_beating_it(weak):
    population, split, result = weak
    zero = TunedAlphas(np.zeros_like(result.tuned.alphas), result.tuned.dev_accuracy_similarity,
                       result.tuned.dev_accuracy_similarity)
    report = evaluate_spica(population.data, result.index, zero, split.test, m=M)
    assert set(report.verdict.values()) <= {"not_better_than_similarity", "not_better_than_either"}
    assert set(report.verdict_on.values()) == {"rmse"}


def test_verdicts_follow_the_headline_figures(weak):
    _, _, result = weak
    report = result.report
    for g in report.group_names:
        better_than = (report.rmse[g] < report.rmse_similarity[g], report.rmse[g] < report.rmse_constant[g])
        expected = {(True, True): "beats_both", (False, True): "not_better_than_similarity",
                    (True, False): "not_better_than_constant", (False, False): "not_better_than_either"}[better_than]
        assert report.verdict[g] == expected
