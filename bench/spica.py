"""SPICA metrics, tuning and retrieval speed, and preference-prediction accuracy per group (prints figures).

Default: a known-truth population of 50,000 scenarios x 4 groups (alignment.spica.synthetic), D = 384,
split 60/20/20 by scenario. Times compute_metrics + build_index, tune_alphas on dev (bank = train + dev),
single-query retrieval latency (one query against the whole bank for one group: p50 / p95), and reports
held-out pair accuracy on test scenarios for SPICA, similarity-only and the constant predictor per group,
with n; with --ratings, members also rate candidates 1-5 and the report adds rating RMSE per group (on the
1-5 scale). Also per group: the mean cosine similarity of the retrieved scenarios to the query (SPICA,
similarity-only) and the verdict (does SPICA beat both baselines?). --weak: the weak-salience population
shaped like real crowd data (synthetic.weak_salience_scenarios: 2 raters per group and scenario, noisy
ratings, a small cosine spread); --flip F: within-topic salience variation (synthetic.make_scenarios).
Targets: metrics + tuning under 60 s on this CPU; retrieval p95 under 20 ms per query.

    .venv/bin/python bench/spica.py [--scenarios N] [--groups G] [--queries N] [--dim D] [--ratings] [--weak]
                                    [--flip F] [--json]
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from alignment.spica import (  # noqa: E402
    build_index,
    compute_metrics,
    evaluate_spica,
    make_scenarios,
    split_scenarios,
    top_m,
    tune_alphas,
    weak_salience_scenarios,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=50_000)
    parser.add_argument("--groups", type=int, default=4)
    parser.add_argument("--queries", type=int, default=500, help="single queries timed for latency")
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--m", type=int, default=10, help="scenarios retrieved per query")
    parser.add_argument("--dev-queries", type=int, default=400, help="dev scenarios used by tuning")
    parser.add_argument("--test-scenarios", type=int, default=5000, help="at most this many test queries")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--ratings", action="store_true", help="members also rate every candidate (1-5)")
    parser.add_argument("--raters", type=float, default=1.0,
                        help="with --ratings: mean raters per scenario and group (the far group gets half)")
    parser.add_argument("--weak", action="store_true", help="the weak-salience, real-data-shaped population (4 groups)")
    parser.add_argument("--flip", type=float, default=0.0, help="share of scenarios whose salience flips")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    started = time.perf_counter()
    # The far group rates as it judges: less than the others (synthetic.py).
    raters = (args.raters,) * (args.groups - 1) + (args.raters / 2,) if args.ratings else None
    if args.weak:
        population = weak_salience_scenarios(n_scenarios=args.scenarios, dim=args.dim, seed=args.seed,
                                             salience_flip=args.flip)
    else:
        population = make_scenarios(n_scenarios=args.scenarios, n_groups=args.groups, dim=args.dim, seed=args.seed,
                                    raters_per_group=raters, salience_flip=args.flip)
    data = population.data
    split = split_scenarios(data.n_scenarios, seed=args.seed)
    generate_s = time.perf_counter() - started

    started = time.perf_counter()
    metrics = compute_metrics(data)
    index = build_index(data, metrics, np.sort(np.concatenate([split.train, split.dev])))
    metrics_s = time.perf_counter() - started

    started = time.perf_counter()
    tuned = tune_alphas(data, index, split.dev, m=args.m, max_queries=args.dev_queries, seed=args.seed)
    tuning_s = time.perf_counter() - started

    latency_ms = _latencies(data, index, tuned.alphas, split.test, args)
    test_rows = split.test[: args.test_scenarios]
    started = time.perf_counter()
    report = evaluate_spica(data, index, tuned, test_rows, m=args.m)
    evaluate_s = time.perf_counter() - started

    figures = {
        "scenarios": data.n_scenarios,
        "groups": data.n_groups,
        "judgments": len(data.judgments),
        "ratings": 0 if data.ratings is None else len(data.ratings),
        "dim": args.dim,
        "bank": len(index),
        "generate_s": round(generate_s, 2),
        "metrics_s": round(metrics_s, 2),
        "tuning_s": round(tuning_s, 2),
        "metrics_plus_tuning_s": round(metrics_s + tuning_s, 2),
        "retrieval_p50_ms": round(float(np.percentile(latency_ms, 50)), 3),
        "retrieval_p95_ms": round(float(np.percentile(latency_ms, 95)), 3),
        "evaluate_s": round(evaluate_s, 2),
        "furthest_group": data.group_names[population.furthest_group],
        "accuracy_spica": _rounded(report.accuracy),
        "accuracy_similarity": _rounded(report.accuracy_similarity),
        "accuracy_constant": _rounded(report.accuracy_constant),
        "gain": _rounded(report.gain),
        "n_judgments": report.n_judgments,
        "rmse_spica": _rounded(report.rmse),
        "rmse_similarity": _rounded(report.rmse_similarity),
        "rmse_constant": _rounded(report.rmse_constant),
        "rmse_gain": _rounded(report.rmse_gain),
        "n_ratings": report.n_ratings,
        "retrieved_similarity": _rounded(report.retrieved_similarity),
        "retrieved_similarity_baseline": _rounded(report.retrieved_similarity_baseline),
        "verdict": report.verdict,
        "evidence_share": dict(zip(data.group_names, map(float, index.evidence.mean(axis=0).round(4)), strict=True)),
        "alphas": report.alphas,
        "test_judgments": report.sizes["test_judgments"],
        "test_ratings": report.sizes["test_ratings"],
    }
    figures["mean"] = {key: _mean(figures[key]) for key in (
        "accuracy_spica", "accuracy_similarity", "accuracy_constant", "rmse_spica", "rmse_similarity", "rmse_constant",
        "retrieved_similarity", "retrieved_similarity_baseline")}
    print(json.dumps(figures) if args.json else _text(figures))
    return figures


def _latencies(data, index, alphas: np.ndarray, test_rows: np.ndarray, args: argparse.Namespace) -> np.ndarray:
    """One query at a time, as the API serves them; groups in turn."""
    rng = np.random.default_rng(args.seed)
    rows = rng.choice(test_rows, size=args.queries, replace=len(test_rows) < args.queries)
    times = np.empty(len(rows))
    for i, row in enumerate(rows):
        group = i % data.n_groups
        started = time.perf_counter()
        top_m(index, data.embeddings[row], group, alphas[group], args.m)
        times[i] = (time.perf_counter() - started) * 1000
    return times


def _mean(by_group: dict[str, float | None]) -> float | None:
    values = [v for v in by_group.values() if v is not None]
    return round(float(np.mean(values)), 4) if values else None


def _rounded(by_group: dict[str, float | None]) -> dict[str, float | None]:
    return {g: None if v is None else round(v, 4) for g, v in by_group.items()}


def _text(f: dict) -> str:
    lines = [
        f"{f['scenarios']} scenarios x {f['groups']} groups, {f['judgments']} judgments, {f['ratings']} ratings, "
        f"D = {f['dim']}, bank {f['bank']} (generation {f['generate_s']} s)",
        f"metrics + index {f['metrics_s']} s, tuning {f['tuning_s']} s (together {f['metrics_plus_tuning_s']} s)",
        f"retrieval per query: p50 {f['retrieval_p50_ms']} ms, p95 {f['retrieval_p95_ms']} ms",
        f"test evaluation {f['evaluate_s']} s on {f['test_judgments']} judgments and {f['test_ratings']} ratings; "
        f"furthest group {f['furthest_group']}",
        f"{'':<10} {'pair accuracy':^36}  {'rating RMSE (1-5)':^36}  {'retrieved similarity':^19}",
        f"{'group':<10} {'SPICA':>8} {'sim-only':>9} {'constant':>9} {'n':>6}  {'SPICA':>8} {'sim-only':>9} "
        f"{'constant':>9} {'n':>6}  {'SPICA':>8} {'sim-only':>9}  verdict, alphas {list(('c', 'i', 'd', 's'))}",
    ]
    for g in f["accuracy_spica"]:
        acc = " ".join(_cell(f[key][g], width) for key, width in
                       (("accuracy_spica", 8), ("accuracy_similarity", 9), ("accuracy_constant", 9)))
        rmse = " ".join(_cell(f[key][g], width) for key, width in
                        (("rmse_spica", 8), ("rmse_similarity", 9), ("rmse_constant", 9)))
        sim = " ".join(_cell(f[key][g], width) for key, width in
                       (("retrieved_similarity", 8), ("retrieved_similarity_baseline", 9)))
        lines.append(f"{g:<10} {acc} {f['n_judgments'][g]:>6}  {rmse} {f['n_ratings'][g]:>6}  {sim}  "
                     f"{f['verdict'][g]}, {f['alphas'][g]}")
    mean = f["mean"]
    lines.append(f"{'mean':<10} " + " ".join(_cell(mean[k], w) for k, w in (
        ("accuracy_spica", 8), ("accuracy_similarity", 9), ("accuracy_constant", 9))) + f" {'':>6}  " + " ".join(
        _cell(mean[k], w) for k, w in (("rmse_spica", 8), ("rmse_similarity", 9), ("rmse_constant", 9)))
        + f" {'':>6}  " + " ".join(_cell(mean[k], w) for k, w in (
            ("retrieved_similarity", 8), ("retrieved_similarity_baseline", 9))))
    lines.append(f"evidence share per group (bank cells with the group's own preferred/dispreferred): "
                 f"{f['evidence_share']}")
    return "\n".join(lines)


def _cell(value: float | None, width: int) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.4f}"


if __name__ == "__main__":
    main()
