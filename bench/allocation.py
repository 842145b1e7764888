"""Allocation benchmark: uniform vs adaptive allocation of a fixed budget of judgments, on a known truth.

A population of pairs (default 2,000) and groups (3): every pair has a base preference rate; 10% of the
pairs are truly divisive, their groups' rates pushed apart around it; every group's rate is drawn around
those. Judgments are Bernoulli draws of the judging group's rate. Annotators arrive one group after the
other (a balanced stream), as in bench/annotation_loop.py.

- uniform: today's rule: every pair gets k judgments, split across groups (annotation/groups.py), lowest
  pair first, so a budget below N * k leaves the last pairs unjudged.
- adaptive: the rule of annotation/allocation_rule.py, the one the loop runs: the annotator of group g
  takes the pair with the largest gain for g among those with a slot left for g (k_max slots per pair,
  split across groups like k) and not stopped by the precision rule.

At budgets given as fractions of uniform's full budget (N * k), it prints the recall of the 100 most divisive
pairs (by true max |p_g - p_h|, against the ranking by posterior means) and the mean absolute error of
|p_g - p_h| over every pair and two groups, for several seeds. Run:

    .venv/bin/python bench/allocation.py --seeds 1 2 3 4 5
"""

import argparse
import json
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from annotation.allocation_rule import AllocationRule, GroupCount, gain, is_precise  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--groups", type=int, default=3)
    parser.add_argument("--divisive", type=float, default=0.10, help="share of truly divisive pairs")
    parser.add_argument("--top", type=int, default=100, help="recall of this many most divisive pairs")
    parser.add_argument("--k", type=int, default=6, help="uniform judgments per pair (the study's overlap)")
    parser.add_argument("--k-max", type=int, help="adaptive: most judgments per pair (default 3k)")
    parser.add_argument("--k-min", type=int, default=2, help="adaptive: judgments per group before a pair may stop")
    parser.add_argument("--precision", type=float, default=0.1)
    parser.add_argument("--budgets", type=float, nargs="+", default=[0.2, 0.4, 0.5, 0.6, 0.8, 1.0],
                        help="budgets as fractions of uniform's full budget (pairs x k)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--json", action="store_true", help="also print the rows as JSON lines")
    return parser.parse_args(argv)


def population(rng: np.random.Generator, pairs: int, groups: int, divisive: float) -> np.ndarray:
    """True rates (pairs x groups): agreed pairs' groups within a few points of the base rate, divisive
    pairs' groups split to either side of it by 0.15 to 0.4."""
    base = rng.uniform(0.15, 0.85, size=pairs)
    rates = base[:, None] + rng.normal(0.0, 0.04, size=(pairs, groups))
    n_div = int(round(divisive * pairs))
    chosen = rng.choice(pairs, size=n_div, replace=False)
    for i in chosen:
        sides = rng.permutation(np.resize([1.0, -1.0], groups))  # both sides always present
        rates[i] = 0.5 + sides * rng.uniform(0.15, 0.4) + rng.normal(0.0, 0.04, size=groups)
    return np.clip(rates, 0.02, 0.98)


@dataclass
class Tally:
    n: np.ndarray  # pairs x groups
    wins: np.ndarray

    @classmethod
    def empty(cls, pairs: int, groups: int) -> "Tally":
        return cls(np.zeros((pairs, groups)), np.zeros((pairs, groups)))

    def counts(self, i: int) -> list[GroupCount]:
        return [GroupCount(float(n), float(w)) for n, w in zip(self.n[i], self.wins[i], strict=True)]


def scores(truth: np.ndarray, tally: Tally, top: int) -> tuple[float, float]:
    """(recall of the true top divisive pairs, mean absolute error of |p_g - p_h|). Few judgments make many
    estimates equal (2 of 2 against 0 of 2): ties are ranked in a fixed random order, not by pair id."""
    means = (1.0 + tally.wins) / (2.0 + tally.n)
    true_div = truth.max(axis=1) - truth.min(axis=1)
    est_div = means.max(axis=1) - means.min(axis=1)
    true_top = set(np.argsort(-true_div, kind="stable")[:top])
    tie_break = np.random.default_rng(0).random(len(est_div))
    est_top = set(np.lexsort((tie_break, -est_div))[:top])
    g, h = np.triu_indices(truth.shape[1], k=1)
    error = np.abs(np.abs(means[:, g] - means[:, h]) - np.abs(truth[:, g] - truth[:, h])).mean()
    return len(true_top & est_top) / top, float(error)


def slot_split(slots: int, groups: int) -> tuple[int, int]:
    """(tagged slots per group, open slots): annotation/groups.py slot_groups; each group caps at one open."""
    return slots // groups, slots - groups * (slots // groups)


def run_uniform(truth: np.ndarray, rng: np.random.Generator, k: int, checkpoints: list[int], top: int) -> list:
    pairs, groups = truth.shape
    tagged, open_slots = slot_split(k, groups)
    order = []  # lowest pair first; within a pair the groups take turns (the balanced stream)
    for i in range(pairs):
        per_pair = [g for _ in range(tagged) for g in range(groups)] + list(range(min(open_slots, groups)))
        order.extend((i, g) for g in per_pair)
    tally, out, spent = Tally.empty(pairs, groups), [], 0
    for i, g in order:
        if spent in checkpoints:
            out.append((spent, *scores(truth, tally, top)))
        tally.n[i, g] += 1
        tally.wins[i, g] += rng.random() < truth[i, g]
        spent += 1
    out.extend((b, *scores(truth, tally, top)) for b in checkpoints if b >= spent)
    return out


def run_adaptive(truth: np.ndarray, rng: np.random.Generator, k_max: int, rule: AllocationRule,
                 checkpoints: list[int], top: int) -> list:
    pairs, groups = truth.shape
    tagged, open_slots = slot_split(k_max, groups)
    cap = tagged + (1 if open_slots else 0)
    tally = Tally.empty(pairs, groups)
    first = gain(tally.counts(0), 0)
    priority = np.full((groups, pairs), first)
    open_left = np.full(pairs, open_slots)
    out, spent, g, idle = [], 0, 0, 0
    while spent < checkpoints[-1] and idle < groups:
        g = (g + 1) % groups
        i = int(np.argmax(priority[g]))  # ties: the lowest pair, as the claim's ORDER BY
        if priority[g, i] < 0:
            idle += 1  # nothing left for this group
            continue
        idle = 0
        if spent in checkpoints:
            out.append((spent, *scores(truth, tally, top)))
        if tally.n[i, g] >= tagged:
            open_left[i] -= 1
        tally.n[i, g] += 1
        tally.wins[i, g] += rng.random() < truth[i, g]
        spent += 1
        counts = tally.counts(i)
        closed = is_precise(counts, rule)
        for h in range(groups):
            full = tally.n[i, h] >= cap or (tally.n[i, h] >= tagged and open_left[i] <= 0)
            priority[h, i] = -1.0 if closed or full else gain(counts, h)
    out.extend((b, *scores(truth, tally, top)) for b in checkpoints if b >= spent)
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    k_max = args.k_max or 3 * args.k
    rule = AllocationRule(k_min=args.k_min, precision=args.precision)
    full = args.pairs * args.k
    checkpoints = sorted({int(round(f * full)) for f in args.budgets})
    rows: dict[tuple[str, int], list[tuple[float, float]]] = {}
    for seed in args.seeds:
        truth = population(np.random.default_rng(seed), args.pairs, args.groups, args.divisive)
        for name, result in (
            ("uniform", run_uniform(truth, np.random.default_rng(seed + 1000), args.k, checkpoints, args.top)),
            ("adaptive", run_adaptive(truth, np.random.default_rng(seed + 1000), k_max, rule, checkpoints,
                                      args.top)),
        ):
            for budget, recall, error in result:
                rows.setdefault((name, budget), []).append((recall, error))
                if args.json:
                    print(json.dumps({"strategy": name, "seed": seed, "budget": budget, "recall": recall,
                                      "mae": error}))
    print(f"{args.pairs} pairs, {args.groups} groups, {args.divisive:.0%} divisive; uniform k={args.k}; adaptive "
          f"k_max={k_max}, k_min={args.k_min}, precision={args.precision}; seeds {args.seeds}")
    print(f"{'budget':>14} {'strategy':>9} {'recall@' + str(args.top):>22} {'MAE |p_g-p_h|':>22}  per seed recall")
    for budget in checkpoints:
        for name in ("uniform", "adaptive"):
            got = rows.get((name, budget), [])
            recalls, errors = [r for r, _ in got], [e for _, e in got]
            spread = statistics.pstdev(recalls) if len(recalls) > 1 else 0.0
            print(f"{budget:>7} ({budget / full:4.0%}) {name:>9} {statistics.mean(recalls):>15.3f} +- {spread:.3f} "
                  f"{statistics.mean(errors):>22.4f}  {' '.join(f'{r:.2f}' for r in recalls)}")
    uniform_full = statistics.mean(r for r, _ in rows[("uniform", checkpoints[-1])])
    reached = [b for b in checkpoints if statistics.mean(r for r, _ in rows[("adaptive", b)]) >= uniform_full]
    print(f"uniform's full-budget recall {uniform_full:.3f}; adaptive reaches it at "
          + (f"{reached[0] / full:.0%} of the budget" if reached else "none of the budgets measured"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
