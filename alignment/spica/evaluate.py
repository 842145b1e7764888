"""Held-out report: per group, pair accuracy and (where the test scenarios have ratings) rating RMSE of
predictions from the top-m retrieved scenarios, SPICA (tuned alphas) against similarity-only (alpha = 0),
on test scenarios queried against the train + dev bank. RMSE is on the ratings' own scale (1-5 in
SPICA's study, where the paper reports dev RMSE 1.599 similarity-only, 1.434 SPICA). Nothing here
chooses anything: the alphas came from dev (tuning.tune_alphas)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from alignment.spica.data import TIE, ScenarioSplit, SpicaData
from alignment.spica.metrics import SpicaMetrics, compute_metrics
from alignment.spica.retrieval import SpicaIndex, build_index
from alignment.spica.tuning import TunedAlphas, query_set, query_totals, tune_alphas


@dataclass
class SpicaReport:
    group_names: tuple[str, ...]
    accuracy: dict[str, float]  # SPICA, test split
    accuracy_similarity: dict[str, float]  # alpha = 0, test split
    gain: dict[str, float]  # accuracy - accuracy_similarity
    # Rating RMSE on the ratings' scale; None for a group without ratings on the test scenarios.
    rmse: dict[str, float | None]  # SPICA
    rmse_similarity: dict[str, float | None]  # alpha = 0
    rmse_gain: dict[str, float | None]  # rmse_similarity - rmse: positive when SPICA's error is lower
    alphas: dict[str, list[float]]
    m: int
    rating_scale: tuple[float, float] | None = None  # (low, high) of the ratings, None without ratings
    sizes: dict[str, int] = field(default_factory=dict)


def evaluate_spica(
    data: SpicaData, index: SpicaIndex, tuned: TunedAlphas, test_rows: np.ndarray, *, m: int = 10, chunk: int = 1024
) -> SpicaReport:
    """Queries go in chunks so the (chunk, n_b) similarity block stays bounded at any test size."""
    test_rows = np.asarray(test_rows, dtype=np.int64)
    # (SPICA / similarity-only, group, [correct, decided judgments, squared rating error, ratings])
    totals = np.zeros((2, data.n_groups, 4))
    for start in range(0, len(test_rows), chunk):
        queries = query_set(data, index, test_rows[start : start + chunk])
        for group in range(data.n_groups):
            for variant, alphas in enumerate((tuned.alphas[group], np.zeros_like(tuned.alphas[group]))):
                totals[variant, group] += query_totals(index, queries, group, alphas, m)
    held_out = data.judgments.for_scenarios(test_rows)
    n_all = np.bincount(held_out.group[held_out.label != TIE], minlength=data.n_groups)
    accuracy = totals[:, :, 0] / np.maximum(totals[:, :, 1], 1)
    rmse = np.sqrt(totals[:, :, 2] / np.maximum(totals[:, :, 3], 1))
    rated = totals[0, :, 3] > 0
    names = data.group_names
    return SpicaReport(
        group_names=names,
        accuracy={g: float(accuracy[0, i]) for i, g in enumerate(names)},
        accuracy_similarity={g: float(accuracy[1, i]) for i, g in enumerate(names)},
        gain={g: float(accuracy[0, i] - accuracy[1, i]) for i, g in enumerate(names)},
        rmse={g: float(rmse[0, i]) if rated[i] else None for i, g in enumerate(names)},
        rmse_similarity={g: float(rmse[1, i]) if rated[i] else None for i, g in enumerate(names)},
        rmse_gain={g: float(rmse[1, i] - rmse[0, i]) if rated[i] else None for i, g in enumerate(names)},
        alphas={g: [float(a) for a in tuned.alphas[i]] for i, g in enumerate(names)},
        m=m,
        rating_scale=None if data.ratings is None else (data.ratings.low, data.ratings.high),
        sizes={"bank": len(index), "test_scenarios": len(test_rows), "test_judgments": int(n_all.sum()),
               "test_ratings": int(totals[0, :, 3].sum())},
    )


@dataclass(frozen=True)
class SpicaRun:
    metrics: SpicaMetrics
    index: SpicaIndex
    tuned: TunedAlphas
    report: SpicaReport


def run_spica(
    data: SpicaData, split: ScenarioSplit, *, tau: float = 2.0, m: int = 10, max_queries: int = 400, seed: int = 0
) -> SpicaRun:
    """Metrics on all scenarios (a scenario's metrics use only its own judgments, so test judgments
    never reach the bank), bank = train + dev, alphas on dev, report on test."""
    metrics = compute_metrics(data, tau=tau)
    index = build_index(data, metrics, np.sort(np.concatenate([split.train, split.dev])))
    tuned = tune_alphas(data, index, split.dev, m=m, max_queries=max_queries, seed=seed)
    return SpicaRun(metrics, index, tuned, evaluate_spica(data, index, tuned, split.test, m=m))
