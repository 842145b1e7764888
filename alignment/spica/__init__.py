"""SPICA group-informed scenario retrieval (no Django): arrays in, dataclasses and arrays out.

After Chen, Feng, Park, Zhang, "SPICA: Retrieving Scenarios for Pluralistic In-Context Alignment"
(arXiv 2411.10912, Findings of ACL 2025). The paper's method section was not available, so the metric
formulas, the prediction rule and the tuning objective are pluralweb's own (docs: SPICA.md), built on
what the paper states: norm metrics per group (preference, consensus, intensity, distinctiveness,
support), retrieval by similarity plus alpha-weighted z-scored metrics, alphas tuned on a dev split.

Typical use: build `SpicaData`, `split_scenarios`, then `run_spica` (or `compute_metrics`,
`build_index`, `tune_alphas`, `evaluate_spica` step by step); serve with `top_m`. Judgments and
ratings carry their annotator, so `support` counts distinct members; the report gives pair accuracy
and, where test scenarios have ratings, rating RMSE per group.
"""

from alignment.spica.baselines import constant_score, constant_votes
from alignment.spica.data import (
    TIE,
    GroupJudgments,
    GroupRatings,
    ScenarioSplit,
    SpicaData,
    WinCounts,
    member_counts,
    split_scenarios,
    win_counts,
)
from alignment.spica.evaluate import VERDICTS, SpicaReport, SpicaRun, evaluate_spica, run_spica, verdict
from alignment.spica.metrics import METRICS, SpicaMetrics, compute_metrics
from alignment.spica.retrieval import (
    POOL_FACTOR,
    SpicaIndex,
    build_index,
    metric_bonus,
    nearest_pool,
    pair_accuracy,
    pool_size,
    predicted_ratings,
    predicted_utilities,
    rating_error,
    retrieval_scores,
    retrieved_similarity,
    standardise,
    top_m,
)
from alignment.spica.synthetic import SyntheticScenarios, make_scenarios, weak_salience_scenarios
from alignment.spica.tuning import ALPHA_GRID, TunedAlphas, tune_alphas

__all__ = [
    "ALPHA_GRID",
    "METRICS",
    "POOL_FACTOR",
    "TIE",
    "VERDICTS",
    "GroupJudgments",
    "GroupRatings",
    "ScenarioSplit",
    "SpicaData",
    "SpicaIndex",
    "SpicaMetrics",
    "SpicaReport",
    "SpicaRun",
    "SyntheticScenarios",
    "TunedAlphas",
    "WinCounts",
    "build_index",
    "compute_metrics",
    "constant_score",
    "constant_votes",
    "evaluate_spica",
    "make_scenarios",
    "member_counts",
    "metric_bonus",
    "nearest_pool",
    "pair_accuracy",
    "pool_size",
    "predicted_ratings",
    "predicted_utilities",
    "rating_error",
    "retrieval_scores",
    "retrieved_similarity",
    "run_spica",
    "split_scenarios",
    "standardise",
    "top_m",
    "tune_alphas",
    "verdict",
    "weak_salience_scenarios",
    "win_counts",
]
