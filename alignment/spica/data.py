"""Scenarios, grouped judgments and ratings as index arrays; per-(scenario, group, candidate) counts.

Candidate indices are local to their scenario (0 .. n_candidates[s] - 1), so every per-candidate array
is dense (n_scenarios, n_groups, max_candidates) and padding slots are masked by `candidate_mask`.
Every judgment and rating names its annotator (any integer id, e.g. a Participant's pk), so support
counts members, not judgments.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TIE = 0.5  # label of a tie: half a win to each side


@dataclass(frozen=True)
class GroupJudgments:
    """One row per pairwise judgment by `annotator`, a member of `group`, on `scenario`: label 1 = a
    preferred, 0 = b preferred, 0.5 = tie. Ratings are turned into such pairs by the import, not here."""

    scenario: np.ndarray
    group: np.ndarray
    a: np.ndarray
    b: np.ndarray
    label: np.ndarray
    annotator: np.ndarray

    @classmethod
    def from_arrays(cls, scenario, group, a, b, label, *, annotator) -> GroupJudgments:
        columns = [np.asarray(c, dtype=np.int64).reshape(-1) for c in (scenario, group, a, b)]
        label = np.asarray(label, dtype=np.float64).reshape(-1)
        annotator = np.asarray(annotator, dtype=np.int64).reshape(-1)
        if len({len(c) for c in columns} | {len(label), len(annotator)}) != 1:
            raise ValueError("scenario, group, a, b, label and annotator must have the same length")
        if np.any((label != 0) & (label != 1) & (label != TIE)):
            raise ValueError("labels must be 1 (a preferred), 0 (b preferred) or 0.5 (tie)")
        if np.any(columns[2] == columns[3]):
            raise ValueError("a judgment compares a candidate with itself")
        return cls(*columns, label, annotator)

    def __len__(self) -> int:
        return len(self.label)

    def take(self, index: np.ndarray) -> GroupJudgments:
        return GroupJudgments(self.scenario[index], self.group[index], self.a[index], self.b[index],
                              self.label[index], self.annotator[index])

    def for_scenarios(self, rows: np.ndarray) -> GroupJudgments:
        return self.take(np.isin(self.scenario, rows))


@dataclass(frozen=True)
class GroupRatings:
    """One row per rating of a candidate by `annotator`, a member of `group`, on `scenario`, on [low, high]."""

    scenario: np.ndarray
    group: np.ndarray
    candidate: np.ndarray
    rating: np.ndarray
    annotator: np.ndarray
    low: float = 1.0
    high: float = 5.0

    @classmethod
    def from_arrays(
        cls, scenario, group, candidate, rating, *, annotator, low: float = 1.0, high: float = 5.0
    ) -> GroupRatings:
        columns = [np.asarray(c, dtype=np.int64).reshape(-1) for c in (scenario, group, candidate)]
        rating = np.asarray(rating, dtype=np.float64).reshape(-1)
        annotator = np.asarray(annotator, dtype=np.int64).reshape(-1)
        if len({len(c) for c in columns} | {len(rating), len(annotator)}) != 1:
            raise ValueError("scenario, group, candidate, rating and annotator must have the same length")
        if high <= low or np.any((rating < low) | (rating > high)):
            raise ValueError(f"ratings must lie on [{low}, {high}]")
        return cls(*columns, rating, annotator, low, high)

    def __len__(self) -> int:
        return len(self.rating)

    def take(self, index: np.ndarray) -> GroupRatings:
        return GroupRatings(self.scenario[index], self.group[index], self.candidate[index], self.rating[index],
                            self.annotator[index], self.low, self.high)

    def for_scenarios(self, rows: np.ndarray) -> GroupRatings:
        return self.take(np.isin(self.scenario, rows))


@dataclass(frozen=True)
class SpicaData:
    """Scenario embeddings (n_s, D), unit rows; `candidate_features` (n_s, C, F) describe each candidate
    in a space shared across scenarios (candidate embeddings, or stance one-hots in synthetic data) so a
    retrieved scenario's preferred candidate can say something about a query's candidates."""

    embeddings: np.ndarray
    candidate_features: np.ndarray
    n_candidates: np.ndarray
    judgments: GroupJudgments
    group_names: tuple[str, ...]
    ratings: GroupRatings | None = None

    def __post_init__(self) -> None:
        n_s = len(self.embeddings)
        if self.candidate_features.shape[0] != n_s or len(self.n_candidates) != n_s:
            raise ValueError("embeddings, candidate_features and n_candidates need one row per scenario")
        if np.any(self.n_candidates < 2) or np.any(self.n_candidates > self.candidate_features.shape[1]):
            raise ValueError("each scenario needs 2 .. max_candidates candidates")
        j = self.judgments
        if len(j) and (j.scenario.max() >= n_s or j.group.max() >= self.n_groups):
            raise ValueError("a judgment refers to a scenario or group beyond the data")
        if len(j) and np.any(np.maximum(j.a, j.b) >= self.n_candidates[j.scenario]):
            raise ValueError("a judgment refers to a candidate beyond its scenario's candidates")
        r = self.ratings
        if r is not None and len(r) and (r.scenario.max() >= n_s or r.group.max() >= self.n_groups
                                         or np.any(r.candidate >= self.n_candidates[r.scenario])):
            raise ValueError("a rating refers to a scenario, group or candidate beyond the data")

    @property
    def n_scenarios(self) -> int:
        return len(self.embeddings)

    @property
    def n_groups(self) -> int:
        return len(self.group_names)

    @property
    def max_candidates(self) -> int:
        return int(self.candidate_features.shape[1])

    def candidate_mask(self) -> np.ndarray:
        """(n_s, C) True where the candidate slot exists."""
        return np.arange(self.max_candidates)[None, :] < self.n_candidates[:, None]


@dataclass(frozen=True)
class ScenarioSplit:
    """Scenario rows; judgments follow their scenario, so every evaluation is leave-scenario-out."""

    train: np.ndarray
    dev: np.ndarray
    test: np.ndarray


def split_scenarios(
    n_scenarios: int, *, dev_fraction: float = 0.2, test_fraction: float = 0.2, seed: int = 0
) -> ScenarioSplit:
    order = np.random.default_rng(seed).permutation(n_scenarios)
    n_dev, n_test = round(dev_fraction * n_scenarios), round(test_fraction * n_scenarios)
    return ScenarioSplit(
        train=np.sort(order[n_dev + n_test :]), dev=np.sort(order[:n_dev]), test=np.sort(order[n_dev : n_dev + n_test])
    )


@dataclass(frozen=True)
class WinCounts:
    """Per (scenario, group, candidate): wins (a tie is half a win) and appearances in judgments;
    per (scenario, group): judgments. All from bincount over flat indices, no per-judgment loop."""

    wins: np.ndarray  # (n_s, G, C)
    appearances: np.ndarray  # (n_s, G, C)
    judgments: np.ndarray  # (n_s, G)


def win_counts(data: SpicaData) -> WinCounts:
    j, shape = data.judgments, (data.n_scenarios, data.n_groups, data.max_candidates)
    cell = j.scenario * data.n_groups + j.group
    size = int(np.prod(shape))
    flat_a, flat_b = cell * shape[2] + j.a, cell * shape[2] + j.b
    wins = np.bincount(flat_a, j.label, size) + np.bincount(flat_b, 1 - j.label, size)
    appearances = np.bincount(flat_a, minlength=size) + np.bincount(flat_b, minlength=size)
    per_cell = np.bincount(cell, minlength=shape[0] * shape[1])
    return WinCounts(wins.reshape(shape), appearances.reshape(shape).astype(np.float64), per_cell.reshape(shape[:2]))


def pair_counts(data: SpicaData) -> tuple[np.ndarray, np.ndarray]:
    """Per (scenario, group, unordered pair lo < hi), flattened to (n_s, G, C * C): votes for `lo`
    and judgments. Feeds consensus (do members agree on the same comparison?)."""
    j, c = data.judgments, data.max_candidates
    lo, hi = np.minimum(j.a, j.b), np.maximum(j.a, j.b)
    votes_lo = np.where(j.a == lo, j.label, 1 - j.label)
    flat = ((j.scenario * data.n_groups + j.group) * c + lo) * c + hi
    size = data.n_scenarios * data.n_groups * c * c
    shape = (data.n_scenarios, data.n_groups, c * c)
    return np.bincount(flat, votes_lo, size).reshape(shape), np.bincount(flat, minlength=size).reshape(shape)


def member_counts(data: SpicaData) -> np.ndarray:
    """(n_s, G) how many distinct members of g judged or rated s (an annotator who did both, or judged
    several pairs, counts once): unique (cell, annotator) keys, then a bincount of their cells."""
    j, r = data.judgments, data.ratings
    scenario, group, annotator = j.scenario, j.group, j.annotator
    if r is not None:
        scenario, group = np.concatenate([scenario, r.scenario]), np.concatenate([group, r.group])
        annotator = np.concatenate([annotator, r.annotator])
    n_cells = data.n_scenarios * data.n_groups
    if not len(scenario):
        return np.zeros((data.n_scenarios, data.n_groups), dtype=np.int64)
    _, member = np.unique(annotator, return_inverse=True)  # dense 0 .. n_members - 1, so keys stay small
    n_members = int(member.max()) + 1
    keys = np.unique((scenario * data.n_groups + group) * n_members + member.reshape(-1))
    return np.bincount(keys // n_members, minlength=n_cells).reshape(data.n_scenarios, data.n_groups)
