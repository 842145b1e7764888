"""The numbers behind each dashboard: selectors (SQL aggregates) -> stats (NumPy) -> plain tables.

A Report's tables are what the dashboard's CSV/JSON download holds and what plots.py draws, so the
picture and the download never disagree. Every table is a list of dicts of plain values (None for
"not defined", never NaN, which JSON cannot carry).
"""

import math
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from alignment.dashboards import selectors, stats
from annotation.models import Study

ALL_GROUPS = "all groups"
ANSWERS = ("prefers_a", "prefers_b", "ties", "both_bad")


@dataclass
class Report:
    tables: dict[str, list[dict]]
    groups: list[str]
    summary: dict[str, object] = field(default_factory=dict)


def _num(value: float, digits: int = 4) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


@dataclass
class PairTable:
    """Preference counts of every judged pair (rows) and group (columns), with what stats derives."""

    pair_ids: np.ndarray
    groups: list[str]
    counts: np.ndarray  # pairs x groups x ANSWERS
    rates: np.ndarray
    n: np.ndarray
    divergence: stats.PairDivergence


def pair_table(*, study: Study, attribute: str | None) -> PairTable:
    rows = selectors.pair_group_counts(study=study, attribute=attribute)
    groups = sorted({row[1] for row in rows})
    index = {group: i for i, group in enumerate(groups)}
    pair_ids, pair_pos = np.unique(np.array([row[0] for row in rows], dtype=np.int64), return_inverse=True)
    counts = np.zeros((len(pair_ids), len(groups), len(ANSWERS)))
    if rows:
        group_pos = np.array([index[row[1]] for row in rows])
        counts[pair_pos, group_pos] = np.array([row[2:] for row in rows], dtype=float)
    rates, n = stats.preference_rate(counts[..., :3])
    return PairTable(pair_ids, groups, counts, rates, n, stats.pair_divergence(rates))


# --- per-group preference divergence ------------------------------------------------------------


def divergence_report(*, study: Study, attribute: str | None = None, top_pairs: int = 20,
                      top_prompts: int = 10) -> Report:
    table = pair_table(study=study, attribute=attribute)
    pairs = {pk: (prompt_id, strategy, diversity) for pk, prompt_id, strategy, diversity in
             selectors.study_pairs(study=study)}
    prompts = selectors.prompt_labels(study=study)
    div = table.divergence
    judged = np.flatnonzero(div.groups >= 2)
    # Most divisive first: largest gap, then largest JS, then most judgments (the best-supported).
    totals = table.n.sum(axis=1)
    order = judged[np.lexsort((-totals[judged], -div.js[judged], -div.abs_diff[judged]))]

    pair_rows = _pair_rows(table, order, pairs, prompts)
    tables = {
        "pairs": pair_rows,
        "group_rates": _group_rate_rows(table, order, pairs, prompts),
        "prompts": _mean_rows(pair_rows, lambda row: [row["prompt"]], "prompt"),
        "tags": _mean_rows(pair_rows, lambda row: row["tags"] or ["(untagged)"], "tag"),
        "strategies": _mean_rows(pair_rows, lambda row: [row["strategy"]], "strategy"),
        "group_matrix": _matrix_rows(table, judged),
        "agreement": _agreement_rows(table, judged),
    }
    top_pair_ids = {row["pair_id"] for row in pair_rows[:top_pairs]}
    tables["top_pairs"] = [row for row in tables["group_rates"] if row["pair_id"] in top_pair_ids]
    tables["divisive_prompts"] = _divisive_prompts(tables["prompts"][:top_prompts], pair_rows, tables["group_rates"])
    summary = {
        "pairs_judged": int((div.groups >= 1).sum()),
        "pairs_compared": len(judged),
        "preference_judgments": int(table.n.sum()),
        "both_bad": int(table.counts[..., 3].sum()),
        "mean_abs_diff": _num(np.nanmean(div.abs_diff[judged]) if len(judged) else math.nan),
        "mean_js": _num(np.nanmean(div.js[judged]) if len(judged) else math.nan),
        "split_share": _num(div.splits[judged].mean() if len(judged) else math.nan),
    }
    return Report(tables=tables, groups=table.groups, summary=summary)


def _pair_rows(table: PairTable, order: np.ndarray, pairs: dict, prompts: dict) -> list[dict]:
    div = table.divergence
    rows = []
    for i in order.tolist():
        pair_id = int(table.pair_ids[i])
        prompt_id, strategy, diversity = pairs[pair_id]
        external_id, tags = prompts[prompt_id]
        rows.append({
            "pair_id": pair_id, "prompt": external_id, "tags": tags, "strategy": strategy,
            "diversity": _num(diversity if diversity is not None else math.nan),
            "groups": int(div.groups[i]), "judgments": int(table.n[i].sum()),
            "both_bad": int(table.counts[i, :, 3].sum()),
            "abs_diff": _num(div.abs_diff[i]), "js": _num(div.js[i]), "splits": bool(div.splits[i]),
        })
    return rows


def _group_rate_rows(table: PairTable, order: np.ndarray, pairs: dict, prompts: dict) -> list[dict]:
    low, high = stats.wilson_interval(table.counts[..., 0] + 0.5 * table.counts[..., 2], table.n)
    rows = []
    for i in order.tolist():
        pair_id = int(table.pair_ids[i])
        prompt = prompts[pairs[pair_id][0]][0]
        for g, group in enumerate(table.groups):
            counts = table.counts[i, g]
            if not counts.any():
                continue
            rows.append({
                "pair_id": pair_id, "prompt": prompt, "group": group,
                **{name: int(value) for name, value in zip(ANSWERS, counts.tolist(), strict=True)},
                "n": int(table.n[i, g]), "rate_a": _num(table.rates[i, g]),
                "low": _num(low[i, g]), "high": _num(high[i, g]),
            })
    return rows


def _mean_rows(pair_rows: list[dict], keys_of, name: str) -> list[dict]:
    """Mean divergence over the pairs of each prompt / tag / strategy, most divisive first."""
    sums: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0, 0])
    for row in pair_rows:
        for key in keys_of(row):
            acc = sums[key]
            acc[0] += 1
            acc[1] += row["abs_diff"] or 0.0
            acc[2] += row["js"] or 0.0
            acc[3] += row["splits"]
    rows = [
        {name: key, "pairs": n, "mean_abs_diff": _num(abs_sum / n), "mean_js": _num(js_sum / n),
         "split_share": _num(splits / n)}
        for key, (n, abs_sum, js_sum, splits) in sums.items()
    ]
    return sorted(rows, key=lambda row: (-row["mean_abs_diff"], -row["pairs"], str(row[name])))


def _matrix_rows(table: PairTable, judged: np.ndarray) -> list[dict]:
    matrix, shared = stats.divergence_matrix(table.rates[judged])
    return [
        {"group_a": a, "group_b": b, "mean_abs_diff": _num(matrix[i, j]), "pairs": int(shared[i, j])}
        for i, a in enumerate(table.groups) for j, b in enumerate(table.groups)
    ]


def _agreement_rows(table: PairTable, judged: np.ndarray) -> list[dict]:
    """Pairwise agreement within each group and across each two groups, plus Krippendorff's alpha
    within each group and over all groups pooled (on the pairs judged by two or more groups)."""
    counts = table.counts[judged]
    agreement = stats.agreement_rates(counts)
    rows = []
    for i, a in enumerate(table.groups):
        for j, b in enumerate(table.groups[i:], start=i):
            rows.append({
                "kind": "within" if i == j else "across", "group_a": a, "group_b": b,
                "agreement": _num(agreement.rates[i, j]), "annotator_pairs": int(agreement.annotator_pairs[i, j]),
                "alpha": _num(stats.krippendorff_alpha(counts[:, i])) if i == j else None,
            })
    pooled = counts.sum(axis=1)
    pooled_pairs = float((pooled.sum(axis=1) * (pooled.sum(axis=1) - 1)).sum())
    pooled_same = float((pooled * (pooled - 1)).sum())
    rows.append({
        "kind": "all", "group_a": ALL_GROUPS, "group_b": ALL_GROUPS,
        "agreement": _num(pooled_same / pooled_pairs if pooled_pairs else math.nan),
        "annotator_pairs": int(pooled_pairs), "alpha": _num(stats.krippendorff_alpha(pooled)),
    })
    return rows


def _divisive_prompts(prompt_rows: list[dict], pair_rows: list[dict], rate_rows: list[dict]) -> list[dict]:
    """The most divisive prompts with their texts and the two responses of their most divisive pair."""
    first_pair: dict[str, int] = {}
    for row in pair_rows:  # pair_rows are most divisive first
        first_pair.setdefault(row["prompt"], row["pair_id"])
    wanted = [first_pair[row["prompt"]] for row in prompt_rows]
    texts = selectors.pairs_with_texts(pair_ids=wanted)
    rates = defaultdict(list)
    for row in rate_rows:
        if row["pair_id"] in texts:
            rates[row["pair_id"]].append({"group": row["group"], "rate_a": row["rate_a"], "n": row["n"]})
    result = []
    for row, pair_id in zip(prompt_rows, wanted, strict=True):
        pair = texts[pair_id]
        turns = pair["prompt__turns"] if isinstance(pair["prompt__turns"], list) else []
        result.append({
            **row, "pair_id": pair_id,
            "prompt_text": "\n\n".join(str(turn.get("content", "")) for turn in turns if isinstance(turn, dict)),
            "response_a": pair["candidate_a__text"], "source_a": pair["candidate_a__source"],
            "response_b": pair["candidate_b__text"], "source_b": pair["candidate_b__source"],
            "group_rates": rates[pair_id],
        })
    return result


# --- per-group leaderboard ---------------------------------------------------------------------


def leaderboard_report(*, study: Study, by: str = "source", attribute: str | None = None,
                       draws: int = 200) -> Report:
    rows = selectors.competitor_counts(study=study, by=by, attribute=attribute)
    groups = sorted({row[0] for row in rows})
    names = sorted({row[1] for row in rows} | {row[2] for row in rows})
    boards = [ALL_GROUPS, *groups]
    at = {name: i for i, name in enumerate(names)}
    board_at = {group: t for t, group in enumerate(boards)}
    wins = np.zeros((len(boards), len(names), len(names)))
    ties = np.zeros_like(wins)
    for group, a, b, a_won, b_won, tied in rows:
        t, i, j = board_at[group], at[a], at[b]
        wins[t, i, j] += a_won
        wins[t, j, i] += b_won
        ties[t, i, j] += tied
    wins[0], ties[0] = wins[1:].sum(axis=0), ties[1:].sum(axis=0)
    board = stats.bradley_terry_bootstrap(wins, ties, draws=draws, seed=0)
    won = wins.sum(axis=2) + 0.5 * (ties.sum(axis=2) + ties.sum(axis=1))
    scores = [
        {"group": group, "competitor": name or "(none)", "score": _num(board.scores[t, i]),
         "low": _num(board.low[t, i]), "high": _num(board.high[t, i]), "games": int(board.games[t, i]),
         "win_rate": _num(won[t, i] / board.games[t, i] if board.games[t, i] else math.nan)}
        for t, group in enumerate(boards) for i, name in enumerate(names)
    ]
    comparisons = [
        {"group": group, "competitor_a": names[i] or "(none)", "competitor_b": names[j] or "(none)",
         "a_won": int(wins[t, i, j]), "b_won": int(wins[t, j, i]), "ties": int(ties[t, i, j] + ties[t, j, i])}
        for t, group in enumerate(boards) for i in range(len(names)) for j in range(i + 1, len(names))
        if wins[t, i, j] + wins[t, j, i] + ties[t, i, j] + ties[t, j, i] > 0
    ]
    summary = {"by": by, "competitors": len(names), "draws": draws,
               "judgments": int(sum(row["a_won"] + row["b_won"] + row["ties"] for row in comparisons
                                    if row["group"] == ALL_GROUPS))}
    return Report(tables={"scores": scores, "comparisons": comparisons}, groups=groups, summary=summary)


# --- NC vs random --------------------------------------------------------------------------------


def strategies_report(*, study: Study, attribute: str | None = None, bins: int = 20) -> Report:
    pairs = selectors.study_pairs(study=study)
    table = pair_table(study=study, attribute=attribute)
    strategy_of = {pk: strategy for pk, _prompt, strategy, _diversity in pairs}
    strategies = sorted(set(strategy_of.values()))
    diversity = {name: np.array([d for _pk, _p, s, d in pairs if s == name and d is not None], dtype=float)
                 for name in strategies}
    top = max([1.0, *(float(values.max()) for values in diversity.values() if values.size)])
    edges = np.linspace(0.0, math.ceil(top * 10) / 10, bins + 1)

    div = table.divergence
    judged = div.groups >= 2
    judged_strategy = np.array([strategy_of[int(pk)] for pk in table.pair_ids], dtype=object)
    rows, bin_rows = [], []
    for name in strategies:
        mine = judged & (judged_strategy == name)
        compared, splits = int(mine.sum()), int(div.splits[mine].sum())
        low, high = stats.wilson_interval(np.array(splits), np.array(compared))
        q1, median, q3 = stats.quantiles(diversity[name])
        rows.append({
            "strategy": name, "pairs": sum(1 for _pk, _p, s, _d in pairs if s == name),
            "with_diversity": int(diversity[name].size),
            "mean_diversity": _num(diversity[name].mean() if diversity[name].size else math.nan),
            "q1_diversity": _num(q1), "median_diversity": _num(median), "q3_diversity": _num(q3),
            "pairs_compared": compared, "pairs_split": splits,
            "split_share": _num(splits / compared if compared else math.nan),
            "split_low": _num(float(low)), "split_high": _num(float(high)),
            "mean_abs_diff": _num(np.mean(div.abs_diff[mine]) if compared else math.nan),
            "mean_js": _num(np.mean(div.js[mine]) if compared else math.nan),
        })
        counts = stats.histogram(diversity[name], edges)
        bin_rows += [
            {"strategy": name, "low": _num(lo), "high": _num(hi), "pairs": int(n)}
            for lo, hi, n in zip(edges[:-1].tolist(), edges[1:].tolist(), counts.tolist(), strict=True)
        ]
    return Report(tables={"strategies": rows, "diversity_bins": bin_rows}, groups=table.groups,
                  summary={"pairs": len(pairs), "pairs_compared": int(judged.sum())})


# --- progress -----------------------------------------------------------------------------------


def progress_report(*, study: Study, attribute: str | None = None) -> Report:
    bucket, time_rows = selectors.judgments_over_time(study=study, attribute=attribute)
    running: dict[str, int] = defaultdict(int)
    over_time = []
    for when, group, n in time_rows:
        running[group] += n
        over_time.append({"bucket": when.isoformat(), "group": group, "judgments": n, "cumulative": running[group]})
    annotators = sorted(
        ({"annotator": annotator, "group": group, "judgments": n, "both_bad": bad}
         for annotator, group, n, bad in selectors.judgments_per_annotator(study=study, attribute=attribute)),
        key=lambda row: (-row["judgments"], row["annotator"]),
    )
    choices = [{"group": g, "choice": c, "judgments": n}
               for g, c, n in sorted(selectors.choice_counts(study=study, attribute=attribute))]
    leases = [{"group": g, "status": s, "assignments": n}
              for g, s, n in sorted(selectors.assignment_counts(study=study, attribute=attribute))]
    groups = sorted({row["group"] for row in over_time} | {row["group"] for row in leases})
    by_status: dict[str, int] = defaultdict(int)
    for row in leases:
        by_status[row["status"]] += row["assignments"]
    summary = {
        "bucket": bucket, "judgments": sum(row["judgments"] for row in choices), "annotators": len(annotators),
        "leases_active": by_status["active"], "leases_judged": by_status["judged"],
        "leases_expired": by_status["expired"],
    }
    tables = {"over_time": over_time, "annotators": annotators, "choices": choices, "assignments": leases}
    return Report(tables=tables, groups=groups, summary=summary)
