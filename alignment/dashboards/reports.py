"""The numbers behind each dashboard: selectors (SQL aggregates) -> stats (NumPy) -> plain tables.

This module holds the shared pieces (Report, the pair x group table) and the leaderboard, NC vs random
and progress reports; the divergence report, the largest, is in group_divergence.py.

A Report's tables are what the dashboard's CSV/JSON download holds and what plots.py draws, so the
picture and the download never disagree. Every table is a list of dicts of plain values (None for
"not defined", never NaN, which JSON cannot carry).
"""

import math
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from alignment.dashboards import bradley_terry, selectors, stats
from annotation.models import Study

ALL_GROUPS = "all groups"
ANSWERS = ("prefers_a", "prefers_b", "ties", "both_bad")


@dataclass
class Report:
    """`tables` are shown on the page (and downloaded); `details` are the large tables (one row per pair,
    or per pair and group), built only when a download asks for them."""

    tables: dict[str, list[dict]]
    groups: list[str]
    summary: dict[str, object] = field(default_factory=dict)
    details: dict[str, Callable[[], list[dict]]] = field(default_factory=dict)

    @property
    def table_names(self) -> list[str]:
        return [*self.tables, *self.details]

    def table(self, name: str) -> list[dict]:
        return self.tables[name] if name in self.tables else self.details[name]()

    def all_tables(self) -> dict[str, list[dict]]:
        return {name: self.table(name) for name in self.table_names}


def num(value: float | None, digits: int = 4) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), digits)


def _column(values: np.ndarray | list, digits: int = 4) -> list:
    """A column for records: plain lists as they are; arrays as Python values, floats rounded, NaN as None."""
    if not isinstance(values, np.ndarray):
        return list(values)
    if values.dtype.kind == "f":
        return [None if v != v else v for v in np.round(values, digits).tolist()]
    return values.tolist()


def records(**columns: np.ndarray | list) -> list[dict]:
    names = list(columns)
    return [dict(zip(names, values, strict=True)) for values in zip(*(_column(c) for c in columns.values()),
                                                                   strict=True)]


@dataclass
class PairTable:
    """Answers of every judged pair (rows) by group (columns): counts over ANSWERS, the rate of
    preferring the pair's candidate_a with its Wilson interval, and the pair's divergence."""

    pair_ids: np.ndarray
    groups: list[str]
    counts: np.ndarray
    rates: np.ndarray
    n: np.ndarray
    low: np.ndarray
    high: np.ndarray
    divergence: stats.PairDivergence


def pair_table(*, study: Study, attribute: str | None) -> PairTable:
    rows = selectors.pair_group_counts(study=study)
    keys = sorted({row[1] for row in rows})
    labels = [selectors.group_label(key, attribute) for key in keys]
    groups = sorted(set(labels))
    group_of_key = {key: groups.index(label) for key, label in zip(keys, labels, strict=True)}
    pair_ids, pair_pos = np.unique(np.array([row[0] for row in rows], dtype=np.int64), return_inverse=True)
    counts = np.zeros((len(pair_ids), len(groups), len(ANSWERS)))
    if rows:
        group_pos = np.array([group_of_key[row[1]] for row in rows])
        # add.at, not assignment: with an attribute slice several keys fall into one group.
        np.add.at(counts, (pair_pos, group_pos), np.array([row[2:] for row in rows], dtype=float))
    rates, n = stats.preference_rate(counts[..., :3])
    low, high = stats.wilson_interval(counts[..., 0] + 0.5 * counts[..., 2], n)
    return PairTable(pair_ids, groups, counts, rates, n, low, high, stats.pair_divergence(rates))


# --- per-group leaderboard ---------------------------------------------------------------------


def leaderboard_report(*, study: Study, by: str = "source", attribute: str | None = None,
                       draws: int = 200) -> Report:
    rows = selectors.competitor_counts(study=study, by=by, attribute=attribute)
    groups = sorted({row[0] for row in rows})
    # Every competitor of the study is listed, so one that never played a group shows as such.
    names = sorted({row[1] for row in rows} | {row[2] for row in rows} | set(selectors.competitors(study=study, by=by)))
    boards = [ALL_GROUPS, *groups]
    cells = _match_cells(rows, names, boards)
    # Edge lists, never competitors x competitors arrays: a study may have thousands of competitors.
    tables = [_matches(cells, t) for t in range(len(boards))]
    board = bradley_terry.leaderboard_bootstrap(tables, len(names), draws=draws, seed=0)
    won = np.array([_points(matches, len(names)) for matches in tables]).reshape(len(boards), len(names))
    scores = [
        {"group": group, "competitor": name or "(none)", "score": num(board.scores[t, i]),
         "low": num(board.low[t, i]), "high": num(board.high[t, i]), "games": int(board.games[t, i]),
         "win_rate": num(won[t, i] / board.games[t, i] if board.games[t, i] else math.nan)}
        for t, group in enumerate(boards) for i, name in enumerate(names)
    ]
    comparisons = [
        {"group": boards[t], "competitor_a": names[i] or "(none)", "competitor_b": names[j] or "(none)",
         "a_won": int(i_won), "b_won": int(j_won), "ties": int(tied)}
        for (t, i, j), (i_won, j_won, tied) in sorted(cells.items()) if i_won + j_won + tied > 0
    ]
    summary = {"by": by, "competitors": len(names), "draws": draws,
               "judgments": int(sum(row["a_won"] + row["b_won"] + row["ties"] for row in comparisons
                                    if row["group"] == ALL_GROUPS))}
    return Report(tables={"scores": scores, "comparisons": comparisons}, groups=groups, summary=summary)


def _match_cells(rows: list[tuple], names: list[str], boards: list[str]) -> dict[tuple[int, int, int], list[int]]:
    """(board, i, j) with i < j -> [i won, j won, ties], each group's games also in the pooled board 0."""
    at = {name: i for i, name in enumerate(names)}
    board_at = {group: t for t, group in enumerate(boards)}
    cells: dict[tuple[int, int, int], list[int]] = defaultdict(lambda: [0, 0, 0])
    for group, a, b, a_won, b_won, tied in rows:
        i, j = at[a], at[b]
        if i > j:
            i, j, a_won, b_won = j, i, b_won, a_won
        for t in (0, board_at[group]):
            cell = cells[(t, i, j)]
            cell[0] += a_won
            cell[1] += b_won
            cell[2] += tied
    return cells


def _matches(cells: dict[tuple[int, int, int], list[int]], board: int) -> bradley_terry.Matches:
    mine = sorted((key, value) for key, value in cells.items() if key[0] == board)
    pairs = np.array([key[1:] for key, _ in mine], dtype=np.int64).reshape(-1, 2)
    counts = np.array([value for _, value in mine], dtype=float).reshape(-1, 3)
    return bradley_terry.Matches(pairs[:, 0], pairs[:, 1], counts[:, 0], counts[:, 1], counts[:, 2])


def _points(matches: bradley_terry.Matches, k: int) -> np.ndarray:
    """Wins per competitor, a tie counting half."""
    return (np.bincount(matches.first, matches.first_won + 0.5 * matches.tied, k)
            + np.bincount(matches.second, matches.second_won + 0.5 * matches.tied, k))


# --- NC vs random --------------------------------------------------------------------------------


def strategies_report(*, study: Study, attribute: str | None = None, bins: int = 20) -> Report:
    pairs = selectors.study_pairs(study=study)
    table = pair_table(study=study, attribute=attribute)
    strategy_of = {pk: strategy for pk, _prompt, strategy, _diversity in pairs}
    pair_counts = Counter(strategy_of.values())
    strategies = sorted(pair_counts)
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
            "strategy": name, "pairs": pair_counts[name],
            "with_diversity": int(diversity[name].size),
            "mean_diversity": num(diversity[name].mean() if diversity[name].size else math.nan),
            "q1_diversity": num(q1), "median_diversity": num(median), "q3_diversity": num(q3),
            "pairs_compared": compared, "pairs_split": splits,
            "split_share": num(splits / compared if compared else math.nan),
            "split_low": num(float(low)), "split_high": num(float(high)),
            "mean_abs_diff": num(np.mean(div.abs_diff[mine]) if compared else math.nan),
            "mean_js": num(np.mean(div.js[mine]) if compared else math.nan),
        })
        counts = stats.histogram(diversity[name], edges)
        bin_rows += [
            {"strategy": name, "low": num(lo), "high": num(hi), "pairs": int(n)}
            for lo, hi, n in zip(edges[:-1].tolist(), edges[1:].tolist(), counts.tolist(), strict=True)
        ]
    return Report(tables={"strategies": rows, "diversity_bins": bin_rows}, groups=table.groups,
                  summary={"pairs": len(pairs), "pairs_compared": int(judged.sum())})


# --- progress -----------------------------------------------------------------------------------


def progress_report(*, study: Study, attribute: str | None = None) -> Report:
    bucket, time_rows = selectors.judgments_over_time(study=study, attribute=attribute)
    per_bucket: dict[tuple, int] = defaultdict(int)
    per_choice: dict[tuple[str, str], int] = defaultdict(int)
    for when, group, choice, n in time_rows:
        per_bucket[(when, group)] += n
        per_choice[(group, choice)] += n
    running: dict[str, int] = defaultdict(int)
    over_time = []
    for (when, group), n in sorted(per_bucket.items()):
        running[group] += n
        over_time.append({"bucket": when.isoformat(), "period": bucket, "group": group, "judgments": n,
                          "cumulative": running[group]})

    people = selectors.participant_groups(study=study)
    annotators = sorted(
        ({"annotator": people[pk][0], "group": selectors.group_label(people[pk][1], attribute), "judgments": n,
          "both_bad": bad} for pk, n, bad in selectors.judgments_per_participant(study=study)),
        key=lambda row: (-row["judgments"], row["annotator"]),
    )
    per_status: dict[tuple[str, str], int] = defaultdict(int)
    for pk, status, n in selectors.assignments_per_participant(study=study):
        per_status[(selectors.group_label(people[pk][1], attribute), status)] += n

    choices = [{"group": g, "choice": c, "judgments": n} for (g, c), n in sorted(per_choice.items())]
    leases = [{"group": g, "status": s, "assignments": n} for (g, s), n in sorted(per_status.items())]
    groups = sorted({row["group"] for row in over_time} | {row["group"] for row in leases})
    by_status: dict[str, int] = defaultdict(int)
    for row in leases:
        by_status[row["status"]] += row["assignments"]
    pairs, started, complete = selectors.pair_completion(study=study)
    summary = {
        "bucket": bucket, "judgments": sum(row["judgments"] for row in choices), "annotators": len(annotators),
        "overlap": study.overlap, "pairs": pairs, "pairs_started": started, "pairs_complete": complete,
        "leases_active": by_status["active"], "leases_judged": by_status["judged"],
        "leases_expired": by_status["expired"],
    }
    tables = {"over_time": over_time, "annotators": annotators, "choices": choices, "assignments": leases}
    return Report(tables=tables, groups=groups, summary=summary)
