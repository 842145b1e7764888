"""Held-out report: per group, pair accuracy of predictions from the top-m retrieved scenarios, SPICA
(tuned alphas) against similarity-only (alpha = 0), on test scenarios queried against the train + dev
bank. Nothing here chooses anything: the alphas came from dev (tuning.tune_alphas)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from alignment.spica.data import TIE, ScenarioSplit, SpicaData
from alignment.spica.metrics import SpicaMetrics, compute_metrics
from alignment.spica.retrieval import SpicaIndex, build_index
from alignment.spica.tuning import TunedAlphas, query_accuracy, query_set, tune_alphas


@dataclass
class SpicaReport:
    group_names: tuple[str, ...]
    accuracy: dict[str, float]  # SPICA, test split
    accuracy_similarity: dict[str, float]  # alpha = 0, test split
    gain: dict[str, float]  # accuracy - accuracy_similarity
    alphas: dict[str, list[float]]
    m: int
    sizes: dict[str, int] = field(default_factory=dict)


def evaluate_spica(
    data: SpicaData, index: SpicaIndex, tuned: TunedAlphas, test_rows: np.ndarray, *, m: int = 10, chunk: int = 1024
) -> SpicaReport:
    """Queries go in chunks so the (chunk, n_b) similarity block stays bounded at any test size."""
    test_rows = np.asarray(test_rows, dtype=np.int64)
    totals = np.zeros((2, data.n_groups))
    for start in range(0, len(test_rows), chunk):
        rows = test_rows[start : start + chunk]
        queries = query_set(data, index, rows)
        n_judged = np.bincount(queries.judgments.group[queries.judgments.label != TIE], minlength=data.n_groups)
        for group in range(data.n_groups):
            if n_judged[group] == 0:
                continue
            zero = np.zeros_like(tuned.alphas[group])
            # query_accuracy returns a mean; weigh chunks by their decided judgments to pool them.
            totals[0, group] += n_judged[group] * query_accuracy(index, queries, group, tuned.alphas[group], m)
            totals[1, group] += n_judged[group] * query_accuracy(index, queries, group, zero, m)
    held_out = data.judgments.for_scenarios(test_rows)
    n_all = np.bincount(held_out.group[held_out.label != TIE], minlength=data.n_groups)
    accuracy = totals / np.maximum(n_all, 1)
    names = data.group_names
    return SpicaReport(
        group_names=names,
        accuracy={g: float(accuracy[0, i]) for i, g in enumerate(names)},
        accuracy_similarity={g: float(accuracy[1, i]) for i, g in enumerate(names)},
        gain={g: float(accuracy[0, i] - accuracy[1, i]) for i, g in enumerate(names)},
        alphas={g: [float(a) for a in tuned.alphas[i]] for i, g in enumerate(names)},
        m=m,
        sizes={"bank": len(index), "test_scenarios": len(test_rows), "test_judgments": int(n_all.sum())},
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
