"""Pick pairs (or k-sets) of one prompt's candidates that are far apart in embedding space.

Negatively-correlated selection (Community Alignment): once a response is shown, a similar one is less
likely to be shown beside it. `random` is the baseline the dashboards compare against.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import numpy as np

STRATEGIES = ("all", "random", "nc")
SET_STRATEGIES = ("all", "random", "nc")


@dataclass(frozen=True)
class SelectedPair:
    i: int
    j: int
    diversity: float  # 1 - cosine similarity of the two candidates


@dataclass(frozen=True)
class SelectedSet:
    members: tuple[int, ...]
    diversity: float  # mean pairwise 1 - cosine similarity


def cosine_distances(embeddings: np.ndarray) -> np.ndarray:
    """(n, n) matrix of 1 - cosine similarity; rows need not be normalised beforehand."""
    x = np.asarray(embeddings, dtype=np.float64)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    x = x / np.where(norms > 0, norms, 1.0)
    return 1.0 - np.clip(x @ x.T, -1.0, 1.0)


def nc_select_pairs(
    embeddings: np.ndarray, n_pairs: int | None, *, strategy: str = "nc", seed: int = 0
) -> list[SelectedPair]:
    """Up to `n_pairs` distinct pairs (i < j) of rows of `embeddings`; `all` ignores `n_pairs`.

    `nc` is greedy: each step takes the unused pair with the largest diversity / (1 + uses of i + uses
    of j). The discount spreads pairs over candidates (every candidate appears once n_pairs allows it)
    without ever preferring two near-duplicates over a far pair that reuses a candidate.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown pair strategy {strategy!r}; expected one of {STRATEGIES}")
    distances = cosine_distances(embeddings)
    rows, cols = np.triu_indices(len(distances), k=1)
    wanted = len(rows) if strategy == "all" or n_pairs is None else min(int(n_pairs), len(rows))
    if strategy == "all":
        order = np.arange(len(rows))
    elif strategy == "random":
        order = np.random.default_rng(seed).choice(len(rows), size=wanted, replace=False)
    else:
        order = _greedy_spread_pairs(distances[rows, cols], rows, cols, len(distances), wanted)
    return [SelectedPair(int(rows[p]), int(cols[p]), float(distances[rows[p], cols[p]])) for p in order]


def _greedy_spread_pairs(
    diversity: np.ndarray, rows: np.ndarray, cols: np.ndarray, n: int, wanted: int
) -> np.ndarray:
    uses = np.zeros(n)
    available = np.ones(len(diversity), dtype=bool)
    chosen = []
    for _ in range(wanted):
        score = np.where(available, diversity / (1.0 + uses[rows] + uses[cols]), -np.inf)
        best = int(np.argmax(score))  # first maximum: ties resolve to the lowest (i, j), reproducibly
        chosen.append(best)
        available[best] = False
        uses[rows[best]] += 1
        uses[cols[best]] += 1
    return np.asarray(chosen, dtype=np.int64)


def nc_select_sets(
    embeddings: np.ndarray, set_size: int, n_sets: int, seed: int = 0, *, strategy: str = "nc"
) -> list[SelectedSet]:
    """Up to `n_sets` distinct k-sets. `nc` grows each set by farthest-point (max-min) steps from the
    least-used candidate, discounting candidates by how many sets already hold them; it returns fewer
    sets when no new distinct set comes out of any start. `all` ignores `n_sets`: every k-subset, in
    lexicographic order (callers bound C(n, k) first)."""
    if strategy not in SET_STRATEGIES:
        raise ValueError(f"unknown set strategy {strategy!r}; expected one of {SET_STRATEGIES}")
    distances = cosine_distances(embeddings)
    n = len(distances)
    if not 2 <= set_size <= n:
        raise ValueError(f"set_size must be between 2 and the number of candidates ({n}), got {set_size}")
    if strategy == "all":
        return [SelectedSet(m, _mean_pairwise(distances, m)) for m in combinations(range(n), set_size)]
    rng = np.random.default_rng(seed)
    pick = _random_set if strategy == "random" else _max_min_set
    uses = np.zeros(n)
    seen: set[tuple[int, ...]] = set()
    sets = []
    for _ in range(n_sets):
        members = _first_new_set(pick, distances, set_size, uses, rng, seen)
        if members is None:
            break
        seen.add(members)
        uses[list(members)] += 1
        sets.append(SelectedSet(members, _mean_pairwise(distances, members)))
    return sets


def _first_new_set(pick, distances, set_size, uses, rng, seen) -> tuple[int, ...] | None:
    # Random tie-breaking among equally used starts keeps different seeds from giving identical sets.
    starts = np.lexsort((rng.random(len(uses)), uses))
    for start in starts:
        members = tuple(sorted(pick(distances, set_size, uses, int(start), rng)))
        if members not in seen:
            return members
    return None


def _max_min_set(distances, set_size, uses, start, rng) -> list[int]:
    members = [start]
    nearest = distances[start].copy()
    for _ in range(set_size - 1):
        score = nearest / (1.0 + uses)
        score[members] = -np.inf
        chosen = int(np.argmax(score))
        members.append(chosen)
        nearest = np.minimum(nearest, distances[chosen])
    return members


def _random_set(distances, set_size, uses, start, rng) -> list[int]:
    others = np.delete(np.arange(len(distances)), start)
    return [start, *rng.choice(others, size=set_size - 1, replace=False).tolist()]


def _mean_pairwise(distances: np.ndarray, members: tuple[int, ...]) -> float:
    idx = np.asarray(members)
    block = distances[np.ix_(idx, idx)]
    return float(block[np.triu_indices(len(idx), k=1)].mean())
