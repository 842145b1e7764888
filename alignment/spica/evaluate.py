"""Held-out report: per group, pair accuracy and (where the test scenarios have ratings) rating RMSE of
predictions from the top-m retrieved scenarios, SPICA (tuned alphas) against two baselines that can say
no: similarity-only retrieval (alpha = 0) and a query-independent constant predictor (baselines.py), on
test scenarios queried against the train + dev bank. RMSE is on the ratings' own scale (1-5 in SPICA's
study, where the paper reports dev RMSE 1.599 similarity-only, 1.434 SPICA). Beside them: the mean cosine
similarity of the retrieved scenarios to their query, SPICA and similarity-only (is retrieval still
relevant?), the n behind every figure, and a verdict per group. A figure without data is None, never 0.
Nothing here chooses anything: the alphas came from dev (tuning.tune_alphas)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from alignment.spica.baselines import constant_totals
from alignment.spica.data import ScenarioSplit, SpicaData
from alignment.spica.metrics import SpicaMetrics, compute_metrics
from alignment.spica.retrieval import SpicaIndex, build_index
from alignment.spica.tuning import TunedAlphas, query_set, query_totals, tune_alphas

# Per-group verdicts, on the headline figure (rating RMSE where g has rated test scenarios, else pair
# accuracy): SPICA must be strictly better than both baselines to be reported as a gain.
BEATS_BOTH = "beats_both"
NOT_BETTER_THAN_SIMILARITY = "not_better_than_similarity"
NOT_BETTER_THAN_CONSTANT = "not_better_than_constant"
NOT_BETTER_THAN_EITHER = "not_better_than_either"
NO_TEST_DATA = "no_test_data"
VERDICTS = (BEATS_BOTH, NOT_BETTER_THAN_SIMILARITY, NOT_BETTER_THAN_CONSTANT, NOT_BETTER_THAN_EITHER, NO_TEST_DATA)


@dataclass
class SpicaReport:
    group_names: tuple[str, ...]
    # Pair accuracy on the test split; None for a group without decided test judgments.
    accuracy: dict[str, float | None]  # SPICA
    accuracy_similarity: dict[str, float | None]  # alpha = 0
    gain: dict[str, float | None]  # accuracy - accuracy_similarity
    # Rating RMSE on the ratings' scale; None for a group without ratings on the test scenarios.
    rmse: dict[str, float | None]  # SPICA
    rmse_similarity: dict[str, float | None]  # alpha = 0
    rmse_gain: dict[str, float | None]  # rmse_similarity - rmse: positive when SPICA's error is lower
    alphas: dict[str, list[float]]
    m: int
    rating_scale: tuple[float, float] | None = None  # (low, high) of the ratings, None without ratings
    sizes: dict[str, int] = field(default_factory=dict)
    accuracy_constant: dict[str, float | None] = field(default_factory=dict)  # g's majority stance
    rmse_constant: dict[str, float | None] = field(default_factory=dict)  # g's mean bank rating
    # Mean cosine similarity of the retrieved scenarios to their query: SPICA and similarity-only.
    retrieved_similarity: dict[str, float | None] = field(default_factory=dict)
    retrieved_similarity_baseline: dict[str, float | None] = field(default_factory=dict)
    n_judgments: dict[str, int] = field(default_factory=dict)  # g's decided test judgments
    n_ratings: dict[str, int] = field(default_factory=dict)  # g's test ratings
    verdict: dict[str, str] = field(default_factory=dict)  # one of VERDICTS
    verdict_on: dict[str, str | None] = field(default_factory=dict)  # "rmse", "accuracy" or None


def verdict(spica: float | None, similarity: float | None, constant: float | None, *, lower_is_better: bool) -> str:
    """Whether SPICA's figure is strictly better than both baselines' (a missing baseline cannot be beaten)."""
    if spica is None:
        return NO_TEST_DATA
    sign = -1 if lower_is_better else 1

    def beats(other: float | None) -> bool:
        return other is not None and sign * (spica - other) > 0

    return {(True, True): BEATS_BOTH, (False, True): NOT_BETTER_THAN_SIMILARITY,
            (True, False): NOT_BETTER_THAN_CONSTANT, (False, False): NOT_BETTER_THAN_EITHER}[
        (beats(similarity), beats(constant))]


def evaluate_spica(
    data: SpicaData, index: SpicaIndex, tuned: TunedAlphas, test_rows: np.ndarray, *, m: int = 10, chunk: int = 1024
) -> SpicaReport:
    """Queries go in chunks so the (chunk, n_b) similarity block stays bounded at any test size."""
    test_rows = np.asarray(test_rows, dtype=np.int64)
    # (SPICA / similarity-only / constant, group, [correct, decided judgments, squared rating error,
    # ratings, summed retrieved similarity, retrieved]); the constant predictor retrieves nothing.
    totals = np.zeros((3, data.n_groups, 6))
    for start in range(0, len(test_rows), chunk):
        queries = query_set(data, index, test_rows[start : start + chunk], m)
        for group in range(data.n_groups):
            for variant, alphas in enumerate((tuned.alphas[group], np.zeros_like(tuned.alphas[group]))):
                totals[variant, group] += query_totals(index, queries, group, alphas, m)
            totals[2, group, :4] += constant_totals(data, index, queries.features, queries.position,
                                                    queries.judgments, queries.ratings, group)
    n_judged, n_rated = totals[0, :, 1].astype(int), totals[0, :, 3].astype(int)
    accuracy = _ratio(totals[:, :, 0], totals[:, :, 1])
    rmse = np.sqrt(_ratio(totals[:, :, 2], totals[:, :, 3]))
    similarity = _ratio(totals[:2, :, 4], totals[:2, :, 5])
    names = data.group_names

    def by_group(values: np.ndarray) -> dict[str, float | None]:
        return {g: None if np.isnan(v) else float(v) for g, v in zip(names, values, strict=True)}

    acc, sims, errs = [by_group(a) for a in accuracy], [by_group(s) for s in similarity], [by_group(r) for r in rmse]
    verdicts, verdict_on = {}, {}
    for g in names:
        on = "rmse" if errs[0][g] is not None else "accuracy" if acc[0][g] is not None else None
        figures = errs if on == "rmse" else acc
        verdicts[g] = verdict(figures[0][g], figures[1][g], figures[2][g], lower_is_better=on == "rmse")
        verdict_on[g] = on
    return SpicaReport(
        group_names=names,
        accuracy=acc[0],
        accuracy_similarity=acc[1],
        accuracy_constant=acc[2],
        gain=by_group(accuracy[0] - accuracy[1]),
        rmse=errs[0],
        rmse_similarity=errs[1],
        rmse_constant=errs[2],
        rmse_gain=by_group(rmse[1] - rmse[0]),
        retrieved_similarity=sims[0],
        retrieved_similarity_baseline=sims[1],
        n_judgments=dict(zip(names, map(int, n_judged), strict=True)),
        n_ratings=dict(zip(names, map(int, n_rated), strict=True)),
        verdict=verdicts,
        verdict_on=verdict_on,
        alphas={g: [float(a) for a in tuned.alphas[i]] for i, g in enumerate(names)},
        m=m,
        rating_scale=None if data.ratings is None else (data.ratings.low, data.ratings.high),
        sizes={"bank": len(index), "test_scenarios": len(test_rows), "test_judgments": int(n_judged.sum()),
               "test_ratings": int(n_rated.sum())},
    )


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, NaN where den is 0: a figure with no data behind it is missing, not zero."""
    return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


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
