"""Judgments as index arrays over two embedding matrices, and the seen / unseen-user splits."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

TIE = 0.5  # label of a tie: a soft Bradley-Terry target, so a tie pulls the two rewards together


@dataclass(frozen=True)
class Judgments:
    """One row per judgment: user row, prompt row, candidate rows a and b, and the label
    (1 = a preferred, 0 = b preferred, 0.5 = tie). `row` is each judgment's position in the original
    arrays, so metrics (or ids) can be traced back after splitting."""

    user: np.ndarray
    prompt: np.ndarray
    a: np.ndarray
    b: np.ndarray
    label: np.ndarray
    row: np.ndarray

    @classmethod
    def from_arrays(cls, user, prompt, a, b, label) -> Judgments:
        columns = [np.asarray(c, dtype=np.int64).reshape(-1) for c in (user, prompt, a, b)]
        label = np.asarray(label, dtype=np.float32).reshape(-1)
        if len({len(c) for c in columns} | {len(label)}) != 1:
            raise ValueError("user, prompt, a, b and label must have the same length")
        if np.any((label != 0) & (label != 1) & (label != TIE)):
            raise ValueError("labels must be 1 (a preferred), 0 (b preferred) or 0.5 (tie)")
        return cls(*columns, label, np.arange(len(label), dtype=np.int64))

    def __len__(self) -> int:
        return len(self.label)

    def take(self, index: np.ndarray) -> Judgments:
        columns = (self.user, self.prompt, self.a, self.b, self.label, self.row)
        return Judgments(*(column[index] for column in columns))

    def for_users(self, users: np.ndarray) -> Judgments:
        return self.take(np.isin(self.user, users))


@dataclass(frozen=True)
class PalData:
    """Everything a fit needs. `user_group` holds an int code per user row (-1: no group) into
    `group_names`; groups only feed evaluation and group mixtures, never the fit itself."""

    prompt_embeddings: np.ndarray
    candidate_embeddings: np.ndarray
    judgments: Judgments
    user_ids: tuple
    user_group: np.ndarray | None = None
    group_names: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.prompt_embeddings.shape[1] != self.candidate_embeddings.shape[1]:
            raise ValueError("prompt and candidate embeddings must have the same dimension")
        if len(self.judgments) and self.judgments.user.max() >= len(self.user_ids):
            raise ValueError("a judgment refers to a user row beyond user_ids")
        if self.user_group is not None and len(self.user_group) != len(self.user_ids):
            raise ValueError("user_group needs one entry per user")

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def dim(self) -> int:
        return int(self.candidate_embeddings.shape[1])


@dataclass(frozen=True)
class PalSplit:
    """Seen users' judgments split into train / val / test; unseen users' judgments split, in data
    order, into the pool that few-shot fits draw their first n from and the test part after it."""

    train: Judgments
    val: Judgments
    test: Judgments
    unseen_users: np.ndarray
    unseen_shots: Judgments
    unseen_test: Judgments


def split_pal_data(
    data: PalData,
    *,
    unseen_fraction: float = 0.1,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    max_shots: int = 50,
    seed: int = 0,
) -> PalSplit:
    """Unseen users are drawn per group (so minority groups have some); each keeps at most half of
    their judgments as the shot pool, so that every shot count is scored on the same test part."""
    rng = np.random.default_rng(seed)
    unseen = _draw_unseen_users(data, unseen_fraction, rng)
    is_unseen = np.isin(data.judgments.user, unseen)
    seen = data.judgments.take(~is_unseen)
    order = rng.permutation(len(seen))
    n_val, n_test = round(val_fraction * len(seen)), round(test_fraction * len(seen))
    shots, rest = _shots_and_rest(data.judgments.take(is_unseen), max_shots)
    return PalSplit(
        train=seen.take(np.sort(order[n_val + n_test :])),
        val=seen.take(np.sort(order[:n_val])),
        test=seen.take(np.sort(order[n_val : n_val + n_test])),
        unseen_users=unseen,
        unseen_shots=shots,
        unseen_test=rest,
    )


def _draw_unseen_users(data: PalData, fraction: float, rng: np.random.Generator) -> np.ndarray:
    groups = data.user_group if data.user_group is not None else np.zeros(data.n_users, dtype=np.int64)
    picked = []
    for group in np.unique(groups):
        members = np.flatnonzero(groups == group)
        picked.append(rng.choice(members, size=round(fraction * len(members)), replace=False))
    return np.sort(np.concatenate(picked)).astype(np.int64)


def _shots_and_rest(judgments: Judgments, max_shots: int) -> tuple[Judgments, Judgments]:
    rank = rank_within_user(judgments.user)
    count = np.bincount(judgments.user, minlength=judgments.user.max() + 1 if len(judgments) else 0)
    pool = np.minimum(max_shots, count[judgments.user] // 2)
    in_pool = rank < pool
    return judgments.take(in_pool), judgments.take(~in_pool)


def rank_within_user(user: np.ndarray) -> np.ndarray:
    """0 for each user's first judgment (in array order), 1 for the second, ..."""
    order = np.argsort(user, kind="stable")
    sorted_users = user[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_users)) + 1] if len(user) else np.zeros(0, np.int64)
    run_start = np.repeat(starts, np.diff(np.r_[starts, len(user)]))
    rank = np.empty(len(user), dtype=np.int64)
    rank[order] = np.arange(len(user)) - run_start
    return rank


def first_judgments(judgments: Judgments, n: int) -> Judgments:
    """Each user's first n judgments, in array order."""
    return judgments.take(rank_within_user(judgments.user) < n)
