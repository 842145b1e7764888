"""Held-out accuracy of a PAL fit against the homogeneous (K = 1) and per-group Bradley-Terry baselines.

Seen users are scored on their test judgments; unseen users on the judgments after their shot pool,
with mixture weights fitted on their first n judgments (fewshot.py). Nothing here chooses anything:
model selection happened on the validation split (train.select_pal).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from alignment.pal.data import TIE, Judgments, PalData, PalSplit
from alignment.pal.device_data import DeviceData
from alignment.pal.fewshot import FewShotConfig, fit_new_users_by_shots
from alignment.pal.group_bt import GroupBTFit, fit_group_bt
from alignment.pal.model import PalModel
from alignment.pal.train import PalFit, TrainConfig, fit_pal, torch_threads

SHOTS = (1, 2, 5, 10, 20, 50)


@dataclass
class PalReport:
    """Every accuracy counts decided judgments (ties left out); `*_n` and `n` say how many."""

    kind: str
    k: int
    seen_accuracy: float
    seen_accuracy_k1: float
    seen_accuracy_group_bt: float | None
    unseen_accuracy: dict[int, float]  # by number of the user's judgments asked for; 0 = the prior mixture
    unseen_accuracy_k1: float
    unseen_accuracy_group_bt: float | None
    group_accuracy: dict[str, float]  # seen users' test judgments, by group
    group_accuracy_k1: dict[str, float]
    group_accuracy_group_bt: dict[str, float]
    group_mixtures: dict[str, list[float]]
    truth_ceiling: dict[str, float] | None = None  # synthetic data only: {"seen": .., "unseen": ..}
    sizes: dict[str, int] = field(default_factory=dict)
    group_n: dict[str, int] = field(default_factory=dict)  # decided seen test judgments per group
    group_members: dict[str, int] = field(default_factory=dict)  # trained users behind each group mixture
    # Shots asked for -> shots actually used per unseen user ({"mean", "min", "max"}): the pool is
    # capped at half of each user's judgments, so "50" may mean 30.
    shots_used: dict[int, dict] = field(default_factory=dict)
    unseen_by_group: dict[str, dict] = field(default_factory=dict)
    few_shot: dict = field(default_factory=dict)  # does few-shot beat K = 1 for new users? said plainly
    annotators: dict = field(default_factory=dict)  # per user row: status and test counts (any slicing)
    split: dict = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # evaluation phases, wall clock
    # The same phases in CPU seconds of this process (all its threads): on a shared machine the wall
    # clock says as much about the neighbours as about the fit.
    cpu_seconds: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready: dict keys become strings, and NaN (an accuracy with no decided judgment) None,
        which strict JSON (and PostgreSQL's jsonb) can hold."""
        out = asdict(self)
        for name in ("unseen_accuracy", "shots_used"):
            out[name] = {str(n): value for n, value in getattr(self, name).items()}
        for row in out["unseen_by_group"].values():
            row["accuracy"] = {str(n): acc for n, acc in row["accuracy"].items()}
        return _nan_to_none(out)


def _nan_to_none(value):
    if isinstance(value, dict):
        return {key: _nan_to_none(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_nan_to_none(item) for item in value]
    return None if isinstance(value, float) and np.isnan(value) else value


def adjusted_rand_index(labels_a: np.ndarray, labels_b: np.ndarray) -> float:
    """Agreement of two partitions, 1 = identical up to renaming, about 0 = chance (Hubert & Arabie)."""
    _, a = np.unique(labels_a, return_inverse=True)
    _, b = np.unique(labels_b, return_inverse=True)
    table = np.zeros((a.max() + 1, b.max() + 1), dtype=np.int64)
    np.add.at(table, (a, b), 1)

    def pairs(x: np.ndarray) -> float:
        return float((x * (x - 1) // 2).sum())

    both, rows, cols = pairs(table), pairs(table.sum(1)), pairs(table.sum(0))
    expected = rows * cols / pairs(np.array([len(a)]))
    top = (rows + cols) / 2
    return 1.0 if top == expected else (both - expected) / (top - expected)


@torch.no_grad()
def pair_margins(
    model: PalModel,
    weights: np.ndarray,
    weight_index: np.ndarray,
    judgments: Judgments,
    tensors: DeviceData,
    chunk: int = 262144,
) -> np.ndarray:
    """r(a) - r(b) for each judgment, for the mixture weights[weight_index]."""
    model.eval()
    w = torch.as_tensor(weights, dtype=torch.float32, device=tensors.device)
    index = torch.as_tensor(weight_index, device=tensors.device)
    _, prompts, a, b, _ = tensors.columns(judgments)
    parts = [
        model.pair_logits(
            w,
            index[s : s + chunk],
            prompts[s : s + chunk],
            a[s : s + chunk],
            b[s : s + chunk],
            tensors.prompts,
            tensors.candidates,
        )
        for s in range(0, len(judgments), chunk)
    ]
    return torch.cat(parts).cpu().numpy() if parts else np.zeros(0, dtype=np.float32)


def accuracy(margins: np.ndarray, labels: np.ndarray) -> float:
    """Share of decided judgments (ties left out) whose preferred side has the larger reward."""
    decided = labels != TIE
    if not decided.any():
        return float("nan")
    return float(((margins[decided] > 0) == (labels[decided] > TIE)).mean())


def seen_margins(fit: PalFit, judgments: Judgments, tensors: DeviceData) -> np.ndarray:
    weights = fit.model.user_weights().detach().cpu().numpy()
    return pair_margins(fit.model, weights, judgments.user, judgments, tensors)


def group_mixtures(weights: np.ndarray, data: PalData, members: np.ndarray) -> dict[str, list[float]]:
    """A group's mixture is the mean of its members' weights; `members` masks the users to count
    (those with training judgments: the others hold untrained weights)."""
    if data.user_group is None:
        return {}
    return {
        name: weights[members & (data.user_group == code)].mean(0).tolist()
        for code, name in enumerate(data.group_names)
        if (members & (data.user_group == code)).any()
    }


def group_bt_margins(
    group_bt: GroupBTFit | None, k1: PalFit, data: PalData, judgments: Judgments, tensors: DeviceData
) -> np.ndarray:
    """Each judgment scored by its user's group model; users with no group (or a group with no
    fit) fall back to the homogeneous model."""
    margins = homogeneous_margins(k1, judgments, tensors)
    if group_bt is None:
        return margins
    groups = group_bt.model_groups(data.user_group[judgments.user])
    mine = np.flatnonzero(groups >= 0)
    margins[mine] = group_bt.margins(judgments.take(mine), groups[mine], tensors)
    return margins


def homogeneous_margins(fit: PalFit, judgments: Judgments, tensors: DeviceData) -> np.ndarray:
    """Margins of a K = 1 model, which scores everyone alike."""
    everyone = np.zeros(len(judgments), dtype=np.int64)
    return pair_margins(fit.model, np.ones((1, 1)), everyone, judgments, tensors)


@dataclass
class UnseenScores:
    accuracy: dict[int, float]  # by shots asked for
    correct: dict[int, np.ndarray]  # by shots asked for: correct decided test judgments per user row
    shots_used: dict[int, dict]


def unseen_accuracy_by_shots(
    fit: PalFit,
    data: PalData,
    split: PalSplit,
    tensors: DeviceData,
    shots: Iterable[int],
    config: FewShotConfig | None,
) -> UnseenScores:
    """Accuracy on unseen users' test part with weights fitted on their first n judgments; n = 0 is
    the prior alone (the mean mixture of the users the model was trained on)."""
    prior = fit.model.user_weights().detach().cpu().numpy()[fit.trained_users].mean(0)
    test = split.unseen_test
    pool = np.bincount(split.unseen_shots.user, minlength=data.n_users)[split.unseen_users]
    scores = UnseenScores({}, {}, {})
    fitted = fit_new_users_by_shots(
        fit.model, data, split.unseen_shots, (0, *shots), users=split.unseen_users, prior=prior, config=config
    )
    for n, new in fitted.items():
        margins = pair_margins(fit.model, new.weights, new.index_of(test.user), test, tensors)
        scores.accuracy[n] = accuracy(margins, test.label)
        scores.correct[n] = per_user(margins, test, data.n_users)[1]
        used = np.minimum(pool, n)
        scores.shots_used[n] = (
            {"mean": float(used.mean()), "min": int(used.min()), "max": int(used.max())} if len(used) else {}
        )
    return scores


def per_user(margins: np.ndarray, judgments: Judgments, n_users: int) -> tuple[np.ndarray, np.ndarray]:
    """Decided judgments and correct ones per user row: any grouping of users sums them."""
    decided = judgments.label != TIE
    right = decided & ((margins > 0) == (judgments.label > TIE))
    return (
        np.bincount(judgments.user[decided], minlength=n_users),
        np.bincount(judgments.user[right], minlength=n_users),
    )


def accuracy_by_group(margins: np.ndarray, judgments: Judgments, data: PalData) -> dict[str, float]:
    if data.user_group is None:
        return {}
    groups = data.user_group[judgments.user]
    return {
        name: accuracy(margins[groups == code], judgments.label[groups == code])
        for code, name in enumerate(data.group_names)
        if (groups == code).any()
    }


def decided_by_group(judgments: Judgments, data: PalData) -> dict[str, int]:
    if data.user_group is None:
        return {}
    decided = data.user_group[judgments.user[judgments.label != TIE]]
    counts = np.bincount(decided[decided >= 0], minlength=len(data.group_names))
    return {name: int(counts[code]) for code, name in enumerate(data.group_names) if counts[code]}


def evaluate_pal(
    data: PalData,
    split: PalSplit,
    fit: PalFit,
    *,
    k1: PalFit | None = None,
    group_bt: GroupBTFit | None = None,
    config: TrainConfig | None = None,
    shots: Iterable[int] = SHOTS,
    few_shot: FewShotConfig | None = None,
    truth_ceiling: Callable[[Judgments], float] | None = None,
) -> PalReport:
    """Fits the baselines it is not given (with `config`, default the fit's own, whose thread setting
    holds for the whole evaluation). `truth_ceiling` (synthetic data) adds the truth's accuracy.
    Each phase's seconds go in `report.seconds`."""
    config = config or fit.config
    seconds: dict[str, float] = {}
    cpu_seconds: dict[str, float] = {}
    clock, cpu_clock = time.perf_counter(), time.process_time()

    def lap(name: str) -> None:
        nonlocal clock, cpu_clock
        now, cpu_now = time.perf_counter(), time.process_time()
        seconds[name], cpu_seconds[name] = round(now - clock, 3), round(cpu_now - cpu_clock, 3)
        clock, cpu_clock = now, cpu_now

    with torch_threads(config.threads):
        if k1 is None:
            k1 = (
                fit
                if fit.k == 1
                else fit_pal(data, split.train, split.val, kind=fit.kind, k=1, config=config)
            )
        lap("k1_fit")
        if group_bt is None:
            group_bt = fit_group_bt(data, split, kind=fit.kind, config=config)
        lap("group_bt_fit")
        tensors = DeviceData(data, next(fit.model.parameters()).device)
        report, unseen_margins = _compare(data, split, fit, k1, group_bt, tensors)
        lap("seen_scoring")
        unseen = unseen_accuracy_by_shots(fit, data, split, tensors, shots, few_shot)
        lap("few_shot")
    report.unseen_accuracy, report.shots_used = unseen.accuracy, unseen.shots_used
    report.annotators["unseen_correct"] = {str(n): c.tolist() for n, c in unseen.correct.items()}
    report.unseen_by_group = _unseen_by_group(data, split, unseen, unseen_margins)
    report.few_shot = few_shot_verdict(report)
    report.split = split.method
    if truth_ceiling is not None:
        report.truth_ceiling = {"seen": truth_ceiling(split.test), "unseen": truth_ceiling(split.unseen_test)}
    report.seconds, report.cpu_seconds = seconds, cpu_seconds
    return report


def annotator_status(fit: PalFit, split: PalSplit, n_users: int) -> list[str]:
    """fitted: the model learned their weights; held_out: seen, but every judgment fell in val or
    test, so their weights never moved; unseen: kept out for few-shot evaluation."""
    status = np.where(fit.trained_users, "fitted", "held_out").astype(object)
    status[split.unseen_users] = "unseen"
    return status[:n_users].tolist()


def _compare(data, split, fit, k1, group_bt, tensors) -> tuple[PalReport, dict[str, np.ndarray]]:
    test, unseen = split.test, split.unseen_test
    pal_seen, k1_seen = seen_margins(fit, test, tensors), seen_margins(k1, test, tensors)
    group_seen = group_bt_margins(group_bt, k1, data, test, tensors) if group_bt else None
    group_unseen = group_bt_margins(group_bt, k1, data, unseen, tensors) if group_bt else None
    k1_unseen = homogeneous_margins(k1, unseen, tensors)
    weights = fit.model.user_weights().detach().cpu().numpy()
    decided, pal_correct = per_user(pal_seen, test, data.n_users)
    annotators = {
        "status": annotator_status(fit, split, data.n_users),
        "weights": np.round(weights, 4).tolist(),
        "test_decided": decided.tolist(),
        "test_correct": {
            "pal": pal_correct.tolist(),
            "k1": per_user(k1_seen, test, data.n_users)[1].tolist(),
            **({} if group_seen is None else {"group_bt": per_user(group_seen, test, data.n_users)[1].tolist()}),
        },
        "unseen_decided": per_user(k1_unseen, unseen, data.n_users)[0].tolist(),
        "unseen_correct_k1": per_user(k1_unseen, unseen, data.n_users)[1].tolist(),
    }
    report = PalReport(
        kind=fit.kind,
        k=fit.k,
        seen_accuracy=accuracy(pal_seen, test.label),
        seen_accuracy_k1=accuracy(k1_seen, test.label),
        seen_accuracy_group_bt=None if group_seen is None else accuracy(group_seen, test.label),
        unseen_accuracy={},
        unseen_accuracy_k1=accuracy(k1_unseen, unseen.label),
        unseen_accuracy_group_bt=None if group_unseen is None else accuracy(group_unseen, unseen.label),
        group_accuracy=accuracy_by_group(pal_seen, test, data),
        group_accuracy_k1=accuracy_by_group(k1_seen, test, data),
        group_accuracy_group_bt={} if group_seen is None else accuracy_by_group(group_seen, test, data),
        group_mixtures=group_mixtures(weights, data, fit.trained_users),
        sizes={
            "train": len(split.train),
            "val": len(split.val),
            "test": len(test),
            "unseen_users": len(split.unseen_users),
            "unseen_test": len(unseen),
            "held_out_users": int(sum(s == "held_out" for s in annotators["status"])),
        },
        group_n=decided_by_group(test, data),
        group_members=group_sizes(data, fit.trained_users),
        annotators=annotators,
    )
    return report, {"k1": k1_unseen, "group_bt": group_unseen}


def group_sizes(data: PalData, members: np.ndarray) -> dict[str, int]:
    if data.user_group is None:
        return {}
    counts = np.bincount(data.user_group[members & (data.user_group >= 0)], minlength=len(data.group_names))
    return {name: int(counts[code]) for code, name in enumerate(data.group_names) if counts[code]}


def _unseen_by_group(data: PalData, split: PalSplit, unseen: UnseenScores, baselines: dict) -> dict[str, dict]:
    """Few-shot accuracy of each group's unseen users, with how many users and decided judgments."""
    if data.user_group is None or not len(split.unseen_users):
        return {}
    test = split.unseen_test
    decided = np.bincount(test.user[test.label != TIE], minlength=data.n_users)
    out = {}
    for code, name in enumerate(data.group_names):
        users = split.unseen_users[data.user_group[split.unseen_users] == code]
        n = int(decided[users].sum())
        if not len(users):
            continue
        mine = data.user_group[test.user] == code
        by_shots = {s: (float(c[users].sum() / n) if n else float("nan")) for s, c in unseen.correct.items()}
        k1 = accuracy(baselines["k1"][mine], test.label[mine])
        best = max((acc for s, acc in by_shots.items() if s > 0 and np.isfinite(acc)), default=float("nan"))
        out[name] = {
            "users": len(users),
            "n": n,
            "accuracy": by_shots,
            "k1": k1,
            "group_bt": None if baselines["group_bt"] is None else accuracy(
                baselines["group_bt"][mine], test.label[mine]),
            "few_shot_helps": None if not (np.isfinite(best) and np.isfinite(k1)) else bool(best > k1),
        }
    return out


def few_shot_verdict(report: PalReport) -> dict:
    """Whether fitting a new user's weights on their own judgments beats one reward for everyone
    (K = 1) and the prior mixture (n = 0), at the best shot count: said plainly, either way."""
    fitted = {n: acc for n, acc in report.unseen_accuracy.items() if n > 0 and np.isfinite(acc)}
    if not fitted or not np.isfinite(report.unseen_accuracy_k1):
        return {"helps": None, "text": "no unseen annotators with test judgments: few-shot was not measured"}
    best = max(fitted, key=fitted.get)
    gain_k1 = fitted[best] - report.unseen_accuracy_k1
    gain_prior = fitted[best] - report.unseen_accuracy.get(0, float("nan"))
    helps = bool(gain_k1 > 0 and gain_prior > 0)
    verb = "beat" if helps else "do not beat"
    text = (f"few-shot weights {verb} K = 1 for new annotators: best at n = {best} "
            f"({fitted[best]:.3f} vs K = 1 {report.unseen_accuracy_k1:.3f}, "
            f"prior mixture {report.unseen_accuracy.get(0, float('nan')):.3f})")
    return {"helps": helps, "best_shots": best, "best_accuracy": fitted[best], "gain_over_k1": gain_k1,
            "gain_over_prior": gain_prior, "text": text}
