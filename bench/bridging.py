"""Bridging on known truth: the product's BT-min score against a Community-Notes-style factorisation.

A population of annotators in two groups (a minority of 20-30%), prompts of 4 candidates each: F, the
majority's favourite, which the minority dislikes; B, which both groups like (less than the majority
likes F); two middling candidates. Every pair of a prompt is judged by a few annotators drawn at random
from the population, choosing by Bradley-Terry on their group's utilities times `signal` (weak
signals: below 1). Per method, the share of prompts whose first-ranked candidate is B (and, for the
overall win rate, the share whose first is F):

- win rate: the pooled share of games won (what a leaderboard ranks by);
- BT-min: the product's bridging score (alignment/dashboards/bridging.py), the lowest per-group
  Bradley-Terry win probability, with the groups known;
- MF: a matrix factorisation of annotator x candidate outcomes, groups unknown, as Community Notes does
  for ratings: P(a beats b | annotator u) = sigmoid((i_a - i_b) + f_u (v_a - v_b)), L2-regularised with
  the intercepts penalised `--intercept-penalty` times more than the factors (Community Notes uses 5),
  fitted by L-BFGS; the intercept i is the bridging score.

    .venv/bin/python bench/bridging.py [--seeds 5] [--prompts 200] [--annotators 300]

No database, no Django: arrays only.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from alignment.dashboards.bridging import Outcomes, bridging_scores  # noqa: E402

F, B, K = 0, 1, 4
# Utilities per group (majority, minority) of F, B and the two middling candidates.
UTILITY = np.array([[2.0, 1.0, 0.0, 0.0], [-1.0, 1.0, 0.0, 0.0]])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--prompts", type=int, default=200)
    parser.add_argument("--annotators", type=int, default=150, help="about 24 judgments each at 4 raters a pair")
    parser.add_argument("--minority", type=float, nargs="+", default=[0.2, 0.3], help="minority shares")
    parser.add_argument("--raters", type=int, nargs="+", default=[4, 8], help="annotators per pair")
    parser.add_argument("--signal", type=float, nargs="+", default=[0.5, 1.0], help="utility scale (weak < 1)")
    parser.add_argument("--jitter", type=float, default=0.5, help="sd of each prompt's utilities around UTILITY")
    parser.add_argument("--factor-penalty", type=float, default=1.0)
    parser.add_argument("--intercept-penalty", type=float, default=5.0, help="times the factor penalty")
    return parser.parse_args(argv)


def population(rng: np.random.Generator, *, prompts: int, annotators: int, minority: float, raters: int,
               signal: float, jitter: float) -> dict[str, np.ndarray]:
    """One judgment per row: annotator, group, candidates a and b (global ids), 1 if a won."""
    group_of = (rng.random(annotators) < minority).astype(np.int64)
    utility = UTILITY[None] + rng.normal(0, jitter, (prompts, 2, K))  # (prompts, groups, K)
    pairs = [(a, b) for a in range(K) for b in range(a + 1, K)]
    rows = []
    for p in range(prompts):
        for a, b in pairs:
            judges = rng.choice(annotators, size=raters, replace=False)
            g = group_of[judges]
            chance = 1 / (1 + np.exp(-signal * (utility[p, g, a] - utility[p, g, b])))
            won = (rng.random(raters) < chance).astype(np.int64)
            rows.append(np.stack([judges, g, np.full(raters, p * K + a), np.full(raters, p * K + b), won], axis=1))
    judged = np.concatenate(rows)
    return {"annotator": judged[:, 0], "group": judged[:, 1], "a": judged[:, 2], "b": judged[:, 3],
            "a_won": judged[:, 4], "prompt_of": np.repeat(np.arange(prompts), K), "annotators": annotators}


def win_rate_scores(data: dict) -> np.ndarray:
    candidates = data["prompt_of"].size
    won = np.bincount(data["a"], data["a_won"], candidates) + np.bincount(data["b"], 1 - data["a_won"], candidates)
    games = np.bincount(data["a"], minlength=candidates) + np.bincount(data["b"], minlength=candidates)
    return np.where(games > 0, won / np.maximum(games, 1), np.nan)


def bt_min_scores(data: dict) -> np.ndarray:
    a_won = data["a_won"]
    outcomes = Outcomes(group=data["group"], first=data["a"], second=data["b"], first_won=a_won,
                        second_won=1 - a_won, tied=np.zeros_like(a_won))
    return bridging_scores(outcomes, data["prompt_of"], 2).score


def mf_scores(data: dict, *, factor_penalty: float, intercept_penalty: float, seed: int) -> np.ndarray:
    """Intercepts of the one-factor model, fitted jointly with the factors by L-BFGS."""
    users, candidates = data["annotators"], data["prompt_of"].size
    u, a, b, y = data["annotator"], data["a"], data["b"], data["a_won"].astype(float)
    rng = np.random.default_rng(seed)
    start = np.concatenate([np.zeros(candidates), rng.normal(0, 0.1, candidates), rng.normal(0, 0.1, users)])
    lam_i, lam_f = intercept_penalty * factor_penalty, factor_penalty

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        i, v, f = theta[:candidates], theta[candidates: 2 * candidates], theta[2 * candidates:]
        margin = i[a] - i[b] + f[u] * (v[a] - v[b])
        p = 0.5 * (1 + np.tanh(margin / 2))
        nll = -np.sum(y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12))
        r = p - y  # d nll / d margin
        grad_i = np.bincount(a, r, candidates) - np.bincount(b, r, candidates)
        grad_v = np.bincount(a, r * f[u], candidates) - np.bincount(b, r * f[u], candidates)
        grad_f = np.bincount(u, r * (v[a] - v[b]), users)
        value = nll + lam_i * i @ i + lam_f * (v @ v + f @ f)
        grad = np.concatenate([grad_i + 2 * lam_i * i, grad_v + 2 * lam_f * v, grad_f + 2 * lam_f * f])
        return value, grad

    fitted = minimize(loss, start, jac=True, method="L-BFGS-B", options={"maxiter": 2000})
    return fitted.x[:candidates]


def first_share(scores: np.ndarray, prompts: int, target: int) -> float:
    """Share of prompts whose highest-scoring candidate is `target` (a NaN score never ranks first)."""
    per_prompt = np.where(np.isnan(scores), -np.inf, scores).reshape(prompts, K)
    return float(np.mean(per_prompt.argmax(axis=1) == target))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    print(f"{'minority':>8}{'raters':>7}{'signal':>7} | {'win rate: F first':>18}{'B first':>9} |"
          f"{'BT-min: B first':>16} |{'MF: B first':>13} | seconds BT-min / MF")
    for minority in args.minority:
        for raters in args.raters:
            for signal in args.signal:
                shares = {"win_f": [], "win_b": [], "bt": [], "mf": []}
                seconds = {"bt": 0.0, "mf": 0.0}
                for seed in range(args.seeds):
                    rng = np.random.default_rng(seed)
                    data = population(rng, prompts=args.prompts, annotators=args.annotators, minority=minority,
                                      raters=raters, signal=signal, jitter=args.jitter)
                    win = win_rate_scores(data)
                    shares["win_f"].append(first_share(win, args.prompts, F))
                    shares["win_b"].append(first_share(win, args.prompts, B))
                    started = time.perf_counter()
                    shares["bt"].append(first_share(bt_min_scores(data), args.prompts, B))
                    seconds["bt"] += time.perf_counter() - started
                    started = time.perf_counter()
                    mf = mf_scores(data, factor_penalty=args.factor_penalty,
                                   intercept_penalty=args.intercept_penalty, seed=seed)
                    shares["mf"].append(first_share(mf, args.prompts, B))
                    seconds["mf"] += time.perf_counter() - started

                def cell(values: list[float]) -> str:
                    return f"{np.mean(values):.2f}±{np.std(values):.2f}"

                print(f"{minority:>8.2f}{raters:>7}{signal:>7.2f} | {cell(shares['win_f']):>18}"
                      f" {cell(shares['win_b']):>9} |{cell(shares['bt']):>16} |{cell(shares['mf']):>13} | "
                      f"{seconds['bt'] / args.seeds:.2f} / {seconds['mf'] / args.seeds:.2f}")
    print(f"({args.seeds} seeds, {args.prompts} prompts of {K} candidates, {args.annotators} annotators; "
          "mean±sd over seeds of the share of prompts ranked so)")


if __name__ == "__main__":
    main()
