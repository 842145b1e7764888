"""Preferred and dispreferred answers come only from what the group itself judged or rated; a cell
without such evidence is marked, casts no vote and sets no rating scale."""

import numpy as np
import pytest

from alignment.spica import (
    GroupJudgments,
    GroupRatings,
    SpicaData,
    build_index,
    compute_metrics,
    make_scenarios,
    predicted_ratings,
    predicted_utilities,
)


def _one_scenario(judgments: tuple, *, ratings: GroupRatings | None = None) -> SpicaData:
    scenario, group, a, b, label = (np.asarray(c) for c in judgments)
    return SpicaData(
        embeddings=np.array([[1.0, 0.0]], dtype=np.float32),
        candidate_features=np.eye(4, dtype=np.float32)[None],
        n_candidates=np.array([4]),
        judgments=GroupJudgments.from_arrays(scenario, group, a, b, label, annotator=np.arange(len(label))),
        group_names=("g0", "g1"),
        ratings=ratings,
    )


def test_the_dispreferred_answer_is_one_the_group_judged_not_a_population_fill_in():
    # g0 (many judgments) makes candidate 2 the population's clear loser; g1 judged only 0 against 1
    # (1 preferred). Filled in with the population's low score, candidate 2 would be g1's minimum.
    g0 = [(0, 0, c, 2, 1) for c in (0, 1, 3)] * 3
    data = _one_scenario(tuple(zip(*g0, (0, 1, 0, 1, 0), strict=True)))
    metrics = compute_metrics(data, tau=2.0)
    assert metrics.scores[0, 1, 2] < metrics.scores[0, 1, 0]  # the fill-in is there...
    assert (metrics.preferred[0, 1], metrics.dispreferred[0, 1]) == (1, 0)  # ...but never chosen
    assert metrics.evidence[0, 1]


def test_with_ratings_the_contrast_comes_from_the_candidates_the_group_rated():
    judgments = ((0, 0), (0, 0), (0, 1), (1, 2), (1, 1))
    # g1 rated candidates 1 (4) and 3 (2) only; g0 rated everything, candidate 0 lowest.
    ratings = GroupRatings.from_arrays([0] * 6, [0, 0, 0, 0, 1, 1], [0, 1, 2, 3, 1, 3], [1, 5, 4, 3, 4, 2],
                                       annotator=[0, 0, 0, 0, 1, 1])
    metrics = compute_metrics(_one_scenario(judgments, ratings=ratings), tau=2.0)
    assert (metrics.preferred[0, 1], metrics.dispreferred[0, 1]) == (1, 3)
    assert (metrics.preferred[0, 0], metrics.dispreferred[0, 0]) == (1, 0)


def test_a_group_that_rated_everything_alike_has_no_evidence_and_no_vote():
    judgments = ((0, 0), (0, 0), (0, 1), (1, 2), (1, 1))
    ratings = GroupRatings.from_arrays([0] * 8, [0] * 4 + [1] * 4, [0, 1, 2, 3] * 2, [5, 4, 2, 1, 3, 3, 3, 3],
                                       annotator=[0] * 4 + [1] * 4)
    data = _one_scenario(judgments, ratings=ratings)
    metrics = compute_metrics(data, tau=2.0)
    assert not metrics.evidence[0, 1] and metrics.preferred[0, 1] == metrics.dispreferred[0, 1] == -1
    assert metrics.intensity[0, 1] == 0
    index = build_index(data, metrics)
    assert not np.any(index.contrast[1, 0]) and np.all(np.isnan(index.demo_scores[1, 0]))
    assert index.evidence.tolist() == [[True, False]]


def test_demos_without_evidence_set_no_rating_scale():
    data = make_scenarios(n_scenarios=40, dim=8, seed=3).data
    index = build_index(data, compute_metrics(data))
    index.preferred[:2, 0], index.dispreferred[:2, 0] = 1, 0
    index.contrast[0, :2] = 0
    index.contrast[0, 0, 2], index.contrast[0, 0, 4] = 1, -1  # demo 0: stance 2 over stance 4
    index.demo_scores[0, 0] = [0.9, 0.1]
    index.demo_scores[0, 1] = np.nan  # demo 1: no evidence (and no contrast)
    features = np.eye(5, dtype=np.float32)[[[4, 2, 0, 1]]]
    retrieved = np.array([[0, 1]])
    predicted = predicted_ratings(index, retrieved, 0, predicted_utilities(index, retrieved, 0, features))
    np.testing.assert_allclose(predicted, [[0.1, 0.9, 0.5, 0.5]], atol=1e-6)
    nothing = predicted_ratings(index, np.array([[1]]), 0, np.zeros((1, 4)))
    np.testing.assert_allclose(nothing, 0.5)


@pytest.mark.parametrize("raters", [None, (1.0, 1.0, 1.0, 0.5)])
def test_on_a_population_every_preferred_and_dispreferred_answer_was_judged_by_its_group(raters):
    data = make_scenarios(n_scenarios=400, dim=8, raters_per_group=raters, seed=0).data
    metrics = compute_metrics(data)
    j, r = data.judgments, data.ratings
    seen = set(zip(j.scenario.tolist(), j.group.tolist(), j.a.tolist(), strict=True))
    seen |= set(zip(j.scenario.tolist(), j.group.tolist(), j.b.tolist(), strict=True))
    if r is not None:
        seen |= set(zip(r.scenario.tolist(), r.group.tolist(), r.candidate.tolist(), strict=True))
    s, g = np.nonzero(metrics.evidence)
    assert len(s) > 0.8 * data.n_scenarios * data.n_groups * (0.8 if raters is None else 1)
    for chosen in (metrics.preferred, metrics.dispreferred):
        assert all((a, b, int(c)) in seen for a, b, c in zip(s.tolist(), g.tolist(), chosen[s, g], strict=True))
    assert np.all(metrics.preferred[~metrics.evidence] == -1)
