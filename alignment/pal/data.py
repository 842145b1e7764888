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
    `group_names`; groups only feed evaluation and group mixtures, never the fit itself.
    `derived` marks judgments derived from one annotator's absolute ratings: their labels imply
    one another (a > b and b > c give a > c), which the seen-user split must respect."""

    prompt_embeddings: np.ndarray
    candidate_embeddings: np.ndarray
    judgments: Judgments
    user_ids: tuple
    user_group: np.ndarray | None = None
    group_names: tuple[str, ...] = field(default=())
    derived: np.ndarray | None = None  # bool per judgment row; None: none derived

    def __post_init__(self) -> None:
        if self.prompt_embeddings.shape[1] != self.candidate_embeddings.shape[1]:
            raise ValueError("prompt and candidate embeddings must have the same dimension")
        if len(self.judgments) and self.judgments.user.max() >= len(self.user_ids):
            raise ValueError("a judgment refers to a user row beyond user_ids")
        if self.user_group is not None and len(self.user_group) != len(self.user_ids):
            raise ValueError("user_group needs one entry per user")
        if self.derived is not None and len(self.derived) != len(self.judgments):
            raise ValueError("derived needs one entry per judgment")

    def derived_rows(self, judgments: Judgments) -> np.ndarray:
        """Bool per row of `judgments` (a subset of this data's): derived from ratings?"""
        if self.derived is None:
            return np.zeros(len(judgments), dtype=bool)
        return np.asarray(self.derived, dtype=bool)[judgments.row]

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def dim(self) -> int:
        return int(self.candidate_embeddings.shape[1])


@dataclass(frozen=True)
class PalSplit:
    """Seen users' judgments split into train / val / test; unseen users' judgments split into the
    pool that few-shot fits draw their first n from and the test part. `method` says how (for the
    report): nothing in val or test is implied by train, nor anything in unseen_test by the pool."""

    train: Judgments
    val: Judgments
    test: Judgments
    unseen_users: np.ndarray
    unseen_shots: Judgments
    unseen_test: Judgments
    method: dict = field(default_factory=dict)


TRAIN, VAL, TEST = 0, 1, 2


def split_pal_data(
    data: PalData,
    *,
    unseen_fraction: float = 0.1,
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    max_shots: int = 50,
    seed: int = 0,
) -> PalSplit:
    """Unseen users: `unseen_fraction` of each group, and at least one from every group of two or
    more members (a group's only member stays seen).

    Seen users: judgments made one by one are split at random. Judgments derived from ratings are
    split by rated item per annotator, since a random split would put a > c in test beside a > b and
    b > c in train, all read off the same three ratings: each (annotator, item) falls in train, val
    or test, and a judgment goes to the latest part of its two items (test over val over train), so
    an item's rating in val or test is never seen in training. Item shares are chosen so that the
    judgment shares come out at the fractions asked. Unseen users' derived judgments are split by
    item in the same way between the shot pool and the test part."""
    rng = np.random.default_rng(seed)
    unseen = _draw_unseen_users(data, unseen_fraction, rng)
    is_unseen = np.isin(data.judgments.user, unseen)
    seen = data.judgments.take(~is_unseen)
    part = np.full(len(seen), TRAIN, dtype=np.int64)
    derived = data.derived_rows(seen)
    part[~derived] = _random_parts(int((~derived).sum()), val_fraction, test_fraction, rng)
    part[derived] = _item_parts(seen.take(derived), val_fraction, test_fraction, rng)
    shots, rest = _shots_and_rest(data, data.judgments.take(is_unseen), max_shots, rng)
    return PalSplit(
        train=seen.take(part == TRAIN),
        val=seen.take(part == VAL),
        test=seen.take(part == TEST),
        unseen_users=unseen,
        unseen_shots=shots,
        unseen_test=rest,
        method={
            "seen": "judgments made one by one: at random; judgments derived from ratings: by rated item "
                    "per annotator (an item in val or test is never in that annotator's training judgments)",
            "unseen": "every group with 2+ members gives at least one unseen annotator; their shot pool "
                      f"is at most half of their judgments (cap {max_shots}), derived ones split by item",
            "derived_judgments": int(data.derived_rows(data.judgments).sum()),
            "fractions": {"val": val_fraction, "test": test_fraction, "unseen_users": unseen_fraction},
        },
    )


def _random_parts(n: int, val_fraction: float, test_fraction: float, rng: np.random.Generator) -> np.ndarray:
    order = rng.permutation(n)
    n_val, n_test = round(val_fraction * n), round(test_fraction * n)
    part = np.full(n, TRAIN, dtype=np.int64)
    part[order[:n_val]] = VAL
    part[order[n_val : n_val + n_test]] = TEST
    return part


def _item_parts(
    judgments: Judgments, val_fraction: float, test_fraction: float, rng: np.random.Generator
) -> np.ndarray:
    """Part of each judgment from its two (annotator, item) parts, the later of the two. With item
    shares t, v, s a judgment is train with probability t^2 and train-or-val with (t + v)^2."""
    train_share = np.sqrt(max(1.0 - val_fraction - test_fraction, 0.0))
    early_share = np.sqrt(max(1.0 - test_fraction, 0.0))
    item_a, item_b = _user_items(judgments)
    items, inverse = np.unique(np.concatenate([item_a, item_b]), return_inverse=True)
    draw = rng.random(len(items))
    item_part = np.where(draw < train_share, TRAIN, np.where(draw < early_share, VAL, TEST))
    n = len(judgments)
    return np.maximum(item_part[inverse[:n]], item_part[inverse[n:]])


def _user_items(judgments: Judgments) -> tuple[np.ndarray, np.ndarray]:
    """(annotator, candidate) as one int64 key per side of each judgment."""
    width = int(max(judgments.a.max(initial=0), judgments.b.max(initial=0))) + 1
    return judgments.user * width + judgments.a, judgments.user * width + judgments.b


def _draw_unseen_users(data: PalData, fraction: float, rng: np.random.Generator) -> np.ndarray:
    groups = data.user_group if data.user_group is not None else np.zeros(data.n_users, dtype=np.int64)
    judged = np.bincount(data.judgments.user, minlength=data.n_users) > 0
    picked = [np.zeros(0, dtype=np.int64)]
    for group in np.unique(groups):
        members = np.flatnonzero((groups == group) & judged)
        if fraction <= 0 or len(members) < 2:
            continue
        # round(0.1 x 4) = 0 would leave every small group out of the unseen-user figures.
        size = min(max(1, round(fraction * len(members))), len(members) - 1)
        picked.append(rng.choice(members, size=size, replace=False))
    return np.sort(np.concatenate(picked)).astype(np.int64)


def _shots_and_rest(
    data: PalData, judgments: Judgments, max_shots: int, rng: np.random.Generator
) -> tuple[Judgments, Judgments]:
    """Judgments made one by one: each user's first min(max_shots, half) in data order are the pool.
    Derived ones: items split so that about half the judgments have both items in the pool; the pool
    holds those (first max_shots), the test part the rest (any item outside the pool)."""
    derived = data.derived_rows(judgments)
    in_pool = np.zeros(len(judgments), dtype=bool)
    made = judgments.take(~derived)
    rank = rank_within_user(made.user)
    count = np.bincount(made.user, minlength=made.user.max() + 1 if len(made) else 0)
    in_pool[~derived] = rank < np.minimum(max_shots, count[made.user] // 2)
    if derived.any():
        from_ratings = judgments.take(derived)
        pooled = _item_parts(from_ratings, 0.0, 0.5, rng) == TRAIN
        capped = np.zeros(len(from_ratings), dtype=bool)
        capped[pooled] = rank_within_user(from_ratings.user[pooled]) < max_shots
        in_pool[derived] = capped
        # Pool judgments past the cap are neither shots nor test: their items are all pool items,
        # so they would be implied by the pool, not a fair test.
        keep = ~derived
        keep[derived] = capped | ~pooled
        return judgments.take(in_pool), judgments.take(keep & ~in_pool)
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
