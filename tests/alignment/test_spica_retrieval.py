"""SPICA retrieval: vectorised scores, the alpha = 0 baseline, leave-scenario-out and the prediction rule."""

import numpy as np
import pytest

from alignment.spica import (
    GroupJudgments,
    GroupRatings,
    build_index,
    compute_metrics,
    make_scenarios,
    metric_bonus,
    pair_accuracy,
    predicted_ratings,
    predicted_utilities,
    rating_error,
    retrieval_scores,
    standardise,
    top_m,
)


@pytest.fixture(scope="module")
def small():
    population = make_scenarios(n_scenarios=120, dim=8, seed=1)
    metrics = compute_metrics(population.data)
    return population.data, metrics, build_index(population.data, metrics)


def test_scores_for_many_scenarios_equal_a_per_scenario_computation(small):
    data, metrics, index = small
    alphas = np.array([0.3, -0.2, 0.5, 0.1])
    table = metrics.table()
    query = data.embeddings[7]
    for group in range(data.n_groups):
        vectorised = retrieval_scores(index, query, group, alphas)[0]
        mean, std = table[:, group].mean(axis=0), table[:, group].std(axis=0)
        for s in range(data.n_scenarios):
            z = (table[s, group] - mean) / std
            expected = float(np.dot(query, data.embeddings[s])) + float(np.dot(alphas, z))
            assert vectorised[s] == pytest.approx(expected, abs=1e-4)


def test_alpha_zero_reproduces_similarity_only_retrieval_exactly(small):
    data, _, index = small
    queries = data.embeddings[:20]
    similarity = queries @ data.embeddings.T
    for group in range(data.n_groups):
        scores = retrieval_scores(index, queries, group, np.zeros(4))
        assert np.array_equal(scores, similarity)
        expected = np.argsort(-similarity, axis=1, kind="stable")[:, :10]
        assert np.array_equal(top_m(index, queries, group, np.zeros(4), 10), expected)


def test_top_m_is_best_first_and_leaves_out_the_excluded_scenario(small):
    data, _, index = small
    alphas = np.array([0.2, 0.2, 0.2, 0.2])
    queries = data.embeddings[:5]
    plain = top_m(index, queries, 1, alphas, 8)
    left_out = top_m(index, queries, 1, alphas, 8, exclude=plain[:, 0])
    scores = retrieval_scores(index, queries, 1, alphas)
    assert np.all(np.diff(np.take_along_axis(scores, plain, axis=1), axis=1) <= 0)
    assert not np.any(left_out == plain[:, :1])
    assert np.array_equal(left_out[:, :7], plain[:, 1:])


def test_a_bank_subset_is_standardised_over_its_own_scenarios(small):
    data, metrics, _ = small
    rows = np.arange(0, data.n_scenarios, 2)
    index = build_index(data, metrics, rows)
    np.testing.assert_allclose(index.z.mean(axis=1), 0, atol=1e-5)
    assert np.array_equal(index.rows, rows) and len(index) == len(rows)


def test_a_constant_metric_gets_z_zero():
    table = np.zeros((5, 2, 1))
    table[:, 1, 0] = np.arange(5)
    z = standardise(table)
    assert np.all(z[0] == 0) and z[1, :, 0].std() == pytest.approx(1)


def test_metric_bonus_is_exactly_zero_without_alphas(small):
    _, _, index = small
    assert not np.any(metric_bonus(index, 0, np.zeros(4)))


def test_retrieved_votes_predict_the_stance_they_prefer(small):
    data, metrics, _ = small
    index = build_index(data, metrics)  # its own copy: the contrasts are overwritten below
    # Two retrieved scenarios whose group-0 contrast favours stance 2 over stance 4.
    index.contrast[0, :2] = 0
    index.contrast[0, :2, 2], index.contrast[0, :2, 4] = 1, -1
    features = np.eye(5, dtype=np.float32)[[[4, 2, 0, 1]]]  # one query: candidates of stances 4, 2, 0, 1
    utilities = predicted_utilities(index, np.array([[0, 1]]), 0, features)
    assert utilities.tolist() == [[-2, 2, 0, 0]]


def test_pair_accuracy_counts_equal_utilities_half_and_skips_tie_labels():
    utilities = np.array([[-2.0, 2.0, 0.0, 0.0]])
    position = np.full(10, -1)
    position[3] = 0
    judgments = GroupJudgments.from_arrays(
        [3, 3, 3, 3, 5], [0] * 5, [1, 0, 2, 1, 0], [0, 1, 3, 2, 1], [1, 1, 1, 0.5, 1], annotator=[0, 1, 2, 3, 4]
    )
    # right, wrong, a coin flip (equal utilities), a tie label (skipped), not a query (skipped)
    assert pair_accuracy(utilities, position, judgments) == (1.5, 3)


def test_ratings_take_the_demos_preferred_score_for_a_stance_they_all_prefer_and_the_middle_for_one_they_skip(small):
    data, metrics, _ = small
    index = build_index(data, metrics)  # its own copy: contrasts and demo scores are overwritten below
    index.contrast[0, :2] = 0
    index.contrast[0, :2, 2], index.contrast[0, :2, 4] = 1, -1  # both demos: stance 2 over stance 4
    index.demo_scores[0, :2] = [[0.9, 0.1], [0.7, 0.3]]  # mean preferred 0.8, dispreferred 0.2
    features = np.eye(5, dtype=np.float32)[[[4, 2, 0, 1]]]
    retrieved = np.array([[0, 1]])
    utilities = predicted_utilities(index, retrieved, 0, features)
    np.testing.assert_allclose(predicted_ratings(index, retrieved, 0, utilities), [[0.2, 0.8, 0.5, 0.5]], atol=1e-6)


def test_rating_predictions_order_each_querys_candidates_as_the_pair_rule_does(small):
    data, _, index = small
    rng = np.random.default_rng(4)
    retrieved = np.stack([rng.choice(len(index), size=6, replace=False) for _ in range(40)])
    features = data.candidate_features[:40]
    for group in range(data.n_groups):
        utilities = predicted_utilities(index, retrieved, group, features)
        ratings = predicted_ratings(index, retrieved, group, utilities)
        higher = utilities[:, :, None] > utilities[:, None, :]  # (Q, C, C): candidate i above candidate j
        assert higher.any()
        gap = ratings[:, :, None] - ratings[:, None, :]
        assert np.all(gap[higher] >= -1e-6)
        assert np.all((ratings >= 0) & (ratings <= 1))


def test_rating_error_is_on_the_ratings_scale_and_skips_scenarios_that_are_not_queries():
    predicted = np.array([[0.2, 0.8, 0.5, 0.5]])
    position = np.full(10, -1)
    position[3] = 0
    ratings = GroupRatings.from_arrays([3, 3, 5], [0, 0, 0], [0, 1, 0], [1, 5, 5], annotator=[1, 1, 2])
    # On 1-5, the predictions are 1.8 and 4.2: 0.8 off each; scenario 5 is not a query.
    squared, n = rating_error(predicted, position, ratings)
    assert n == 2 and squared == pytest.approx(2 * 0.8**2)
