"""Negatively-correlated pair and set selection against the random baseline (DESIGN.md section 4)."""

import itertools

import numpy as np
import pytest

from alignment.sampling import nc_select_pairs, nc_select_sets

SEEDS = range(8)


def clusters(seed: int, sizes=(4, 3), dim: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """Near-duplicates around far-apart centres; returns (embeddings, cluster of each row)."""
    rng = np.random.default_rng(seed)
    # Orthogonal centres: cosine distance 1 between clusters, about 0 within.
    centres = np.linalg.qr(rng.normal(size=(dim, len(sizes))))[0].T
    cluster = np.repeat(np.arange(len(sizes)), sizes)
    return centres[cluster] + 0.01 * rng.normal(size=(len(cluster), dim)), cluster


def random_pool(seed: int, n: int = 8, dim: int = 32) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, dim))


def mean_diversity(pairs) -> float:
    return float(np.mean([p.diversity for p in pairs]))


@pytest.mark.parametrize("n_pairs", [1, 3, 6])
def test_nc_pairs_always_cross_clusters(n_pairs):
    for seed in SEEDS:
        embeddings, cluster = clusters(seed)
        pairs = nc_select_pairs(embeddings, n_pairs, strategy="nc", seed=seed)
        assert len(pairs) == n_pairs
        assert all(cluster[p.i] != cluster[p.j] for p in pairs)


def test_random_pairs_often_stay_within_a_cluster():
    within = [
        cluster[p.i] == cluster[p.j]
        for seed in range(20)
        for embeddings, cluster in [clusters(seed)]
        for p in nc_select_pairs(embeddings, 3, strategy="random", seed=seed)
    ]
    assert np.mean(within) > 0.25  # 9 of the 21 pairs lie within a cluster


def test_nc_diversity_is_at_least_random_on_every_seeded_pool():
    for seed in range(20):
        pool = random_pool(seed)
        nc = nc_select_pairs(pool, 4, strategy="nc", seed=seed)
        random = nc_select_pairs(pool, 4, strategy="random", seed=seed)
        assert mean_diversity(nc) >= mean_diversity(random)


def test_nc_pairs_show_every_candidate_once_there_are_enough_pairs():
    for seed in SEEDS:
        pairs = nc_select_pairs(random_pool(seed, n=7), 4, strategy="nc")
        assert {c for p in pairs for c in (p.i, p.j)} == set(range(7))


def test_pair_diversity_is_one_minus_cosine_similarity():
    pool = random_pool(0, n=5)
    unit = pool / np.linalg.norm(pool, axis=1, keepdims=True)
    for p in nc_select_pairs(pool, None, strategy="all"):
        assert p.diversity == pytest.approx(1 - unit[p.i] @ unit[p.j], abs=1e-9)


def test_all_strategy_lists_every_pair_once_whatever_n_pairs_says():
    pairs = nc_select_pairs(random_pool(1, n=5), 2, strategy="all")
    assert [(p.i, p.j) for p in pairs] == [(i, j) for i in range(5) for j in range(i + 1, 5)]


@pytest.mark.parametrize("strategy", ["nc", "random"])
def test_pairs_are_distinct_and_capped_at_all_pairs(strategy):
    pairs = nc_select_pairs(random_pool(2, n=4), 50, strategy=strategy)
    assert len(pairs) == 6
    assert len({(p.i, p.j) for p in pairs}) == 6
    assert all(p.i < p.j for p in pairs)


def test_random_pairs_are_reproducible_under_a_seed():
    pool = random_pool(3, n=10)
    first = nc_select_pairs(pool, 5, strategy="random", seed=7)
    assert first == nc_select_pairs(pool, 5, strategy="random", seed=7)
    assert first != nc_select_pairs(pool, 5, strategy="random", seed=8)


def test_an_unknown_strategy_is_rejected():
    with pytest.raises(ValueError, match="strategy"):
        nc_select_pairs(random_pool(0), 2, strategy="dpp-ish")


def test_nc_sets_take_one_candidate_from_each_cluster():
    for seed in SEEDS:
        embeddings, cluster = clusters(seed, sizes=(3, 3, 3))
        sets = nc_select_sets(embeddings, 3, 3, seed=seed)
        assert len(sets) == 3
        assert all(sorted(cluster[list(s.members)]) == [0, 1, 2] for s in sets)


def test_nc_sets_are_distinct_and_spread_at_least_as_far_as_random_sets():
    for seed in range(10):
        pool = random_pool(seed, n=10)
        nc = nc_select_sets(pool, 4, 3, seed=seed)
        random = nc_select_sets(pool, 4, 3, seed=seed, strategy="random")
        assert len({s.members for s in nc}) == 3
        assert np.mean([s.diversity for s in nc]) >= np.mean([s.diversity for s in random])


def test_nc_sets_stop_when_no_new_set_exists():
    assert len(nc_select_sets(random_pool(0, n=3), 3, 5)) == 1


def with_a_near_duplicate(seed: int, n: int = 6) -> np.ndarray:
    """A random pool whose rows 0 and 1 are near-duplicates (cosine distance about 1e-4)."""
    pool = random_pool(seed, n=n)
    pool[1] = pool[0] + 0.01 * np.random.default_rng(seed + 100).normal(size=pool.shape[1])
    return pool


def test_nc_sets_never_hold_both_near_duplicates_and_random_sets_sometimes_do():
    random_held = 0
    for seed in range(20):
        pool = with_a_near_duplicate(seed)
        assert not any({0, 1} <= set(s.members) for s in nc_select_sets(pool, 4, 2, seed=seed))
        random_held += sum({0, 1} <= set(s.members) for s in nc_select_sets(pool, 4, 2, seed=seed, strategy="random"))
    assert random_held > 0


def test_a_sets_diversity_is_the_mean_pairwise_cosine_distance_of_its_members():
    pool = random_pool(3, n=7)
    unit = pool / np.linalg.norm(pool, axis=1, keepdims=True)
    for strategy in ("nc", "random", "all"):
        for s in nc_select_sets(pool, 4, 3, seed=3, strategy=strategy):
            m = s.members
            expected = np.mean([1 - unit[a] @ unit[b] for i, a in enumerate(m) for b in m[i + 1:]])
            assert s.diversity == pytest.approx(expected, abs=1e-12)


def test_all_sets_are_every_k_subset_in_lexicographic_order_whatever_n_sets_says():
    sets = nc_select_sets(random_pool(0, n=6), 3, 1, strategy="all")
    assert [s.members for s in sets] == list(itertools.combinations(range(6), 3))


def test_an_unknown_set_strategy_is_rejected():
    with pytest.raises(ValueError, match="set strategy"):
        nc_select_sets(random_pool(0), 3, 2, strategy="dpp-ish")
