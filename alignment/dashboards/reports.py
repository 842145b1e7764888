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
        return list(dict.fromkeys([*self.tables, *self.details]))

    def table(self, name: str) -> list[dict]:
        """The complete table: a table the page shows capped (the strongest competitors) has its complete
        version among the details, computed when a download asks for it."""
        return self.details[name]() if name in self.details else self.tables[name]

    def all_tables(self) -> dict[str, list[dict]]:
        return {name: self.table(name) for name in self.table_names}

    @property
    def capped(self) -> list[str]:
        """Tables the page shows in part (their downloads are complete)."""
        return [name for name in self.tables if name in self.details]


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
    """Answers of the pairs that two or more groups judged (rows; only those can diverge) by group
    (columns): counts over ANSWERS, the rate of preferring the pair's candidate_a with its Wilson
    interval, and the pair's divergence. The totals count every judged pair and judgment.

    Only pairs judged by two or more groups are held as a pairs x groups array: in a ratings-derived
    study most pairs have one judgment, so this array is a fraction of pairs x groups (there, 272k
    pairs x 39 groups x 4 answers would be 340 MB before the rates and intervals)."""

    pair_ids: np.ndarray
    groups: list[str]
    counts: np.ndarray
    rates: np.ndarray
    n: np.ndarray
    low: np.ndarray
    high: np.ndarray
    divergence: stats.PairDivergence
    pairs_judged: int = 0  # pairs with a preference judgment from at least one group
    preference_judgments: int = 0
    both_bad: int = 0


def pair_table(*, study: Study, attribute: str | None, prompts: str = "all") -> PairTable:
    pair_of_row, keys, key_of_row, answers = selectors.pair_group_arrays(study=study, prompts=prompts)
    labels = [selectors.group_label(key, attribute) for key in keys]
    groups = sorted(set(labels))
    group_of_key = np.array([groups.index(label) for label in labels], dtype=np.int64)
    group_of_row = group_of_key[key_of_row] if len(keys) else np.zeros(0, np.int64)
    pair_ids, pair_of_row = np.unique(pair_of_row, return_inverse=True)
    # A group is present on a pair when it gave a preference there (both-bad answers say nothing).
    prefers = answers[:, :3].sum(axis=1) > 0
    present = np.unique(pair_of_row[prefers] * max(1, len(groups)) + group_of_row[prefers])
    groups_per_pair = np.bincount(present // max(1, len(groups)), minlength=len(pair_ids))
    compared = np.flatnonzero(groups_per_pair >= 2)
    position = np.full(len(pair_ids), -1, dtype=np.int64)
    position[compared] = np.arange(len(compared))
    mine = position[pair_of_row] >= 0
    counts = np.zeros((len(compared), len(groups), len(ANSWERS)))
    # add.at, not assignment: with an attribute slice several keys fall into one group.
    np.add.at(counts, (position[pair_of_row[mine]], group_of_row[mine]), answers[mine])
    rates, n = stats.preference_rate(counts[..., :3])
    low, high = stats.wilson_interval(counts[..., 0] + 0.5 * counts[..., 2], n)
    return PairTable(pair_ids[compared], groups, counts, rates, n, low, high, stats.pair_divergence(rates),
                     pairs_judged=int((groups_per_pair >= 1).sum()),
                     preference_judgments=int(answers[:, :3].sum()), both_bad=int(answers[:, 3].sum()))


# --- per-group leaderboard ---------------------------------------------------------------------


# Competitors a leaderboard page shows (its table and figure): the strongest by the pooled fit. A figure
# of 1,500 competitors x 40 groups is 60,000 markers on a 100,000-pixel-high axis, which no reader reads;
# the downloads hold every competitor.
LEADERBOARD_SHOWN = 30
# Bootstrap work budget: draws x edges (summed over the boards). 200 draws up to 50,000 edges; boards
# beyond it take normal-approximation intervals, one fit per board instead of one per draw.
LEADERBOARD_EDGE_DRAWS = 10_000_000


def leaderboard_report(*, study: Study, by: str = "source", attribute: str | None = None, prompts: str = "all",
                       draws: int = 200, shown: int | None = None) -> Report:
    """Per-group Bradley-Terry leaderboards. The page's `scores` hold the `shown` (LEADERBOARD_SHOWN)
    strongest competitors by the pooled fit; the downloads hold every competitor and every comparison."""
    shown = LEADERBOARD_SHOWN if shown is None else shown
    keys, key_of_row, seen, pair_of_row, results = selectors.competitor_counts(
        study=study, by=by, prompts=prompts)
    labels = [selectors.group_label(key, attribute) for key in keys]
    groups = sorted(set(labels))
    # Every competitor of the study is listed, so one that never played a group shows as such.
    names = sorted(set(seen) | set(selectors.competitors(study=study, by=by)))
    boards = [ALL_GROUPS, *groups]
    tables = _match_tables(pair_of_row, results, np.array([names.index(name) for name in seen], dtype=np.int64),
                           1 + np.array([groups.index(label) for label in labels], dtype=np.int64)[key_of_row]
                           if keys else np.zeros(0, np.int64), len(boards))
    # Bounded work: each draw refits every board. A per-candidate study (1,500 competitors, 600k edges over
    # its boards) would take minutes of draws; its boards get normal-approximation intervals instead (one fit
    # each), which agree with the bootstrap where every competitor has many games; the page says which.
    edges = sum(len(matches.first) for matches in tables)
    if draws and edges * draws > LEADERBOARD_EDGE_DRAWS:
        intervals, draws_asked, draws = "normal", draws, 0
        board = bradley_terry.leaderboard_normal(tables, len(names))
    else:
        intervals, draws_asked = "bootstrap", draws
        board = bradley_terry.leaderboard_bootstrap(tables, len(names), draws=draws, seed=0)
    won = np.array([_points(matches, len(names)) for matches in tables]).reshape(len(boards), len(names))

    def score_rows(competitors: np.ndarray) -> list[dict]:
        return [
            {"group": group, "competitor": names[i] or "(none)", "score": num(board.scores[t, i]),
             "low": num(board.low[t, i]), "high": num(board.high[t, i]), "games": int(board.games[t, i]),
             "win_rate": num(won[t, i] / board.games[t, i] if board.games[t, i] else math.nan)}
            for t, group in enumerate(boards) for i in competitors.tolist()
        ]

    def comparisons() -> list[dict]:
        return [
            {"group": boards[t], "competitor_a": names[i] or "(none)", "competitor_b": names[j] or "(none)",
             "a_won": int(i_won), "b_won": int(j_won), "ties": int(tied)}
            for t, matches in enumerate(tables)
            for i, j, i_won, j_won, tied in zip(matches.first.tolist(), matches.second.tolist(),
                                                matches.first_won.tolist(), matches.second_won.tolist(),
                                                matches.tied.tolist(), strict=True)
        ]

    # The strongest first by the pooled fit (competitors without games last), listed by name as before.
    pooled = np.where(np.isnan(board.scores[0]), -np.inf, board.scores[0])
    top = np.sort(np.argsort(-pooled, kind="stable")[:shown])
    summary = {"by": by, "competitors": len(names), "shown": len(top), "intervals": intervals, "draws": draws,
               "draws_asked": draws_asked, "edges": edges,
               "judgments": int(tables[0].first_won.sum() + tables[0].second_won.sum() + tables[0].tied.sum())}
    details = {"comparisons": comparisons}
    if len(top) < len(names):
        details["scores"] = lambda: score_rows(np.arange(len(names)))
    return Report(tables={"scores": score_rows(top)}, groups=groups, summary=summary, details=details)


def _match_tables(pair_of_row: np.ndarray, results: np.ndarray, name_at: np.ndarray, board_of_row: np.ndarray,
                  boards: int) -> list[bradley_terry.Matches]:
    """One edge list per board (board 0 pools every group's games): each unordered pair of competitors
    (i < j) once, with i's wins, j's wins and ties, in (i, j) order; pairs that only drew both-bad
    answers are left out. Arrays throughout: a per-candidate study has hundreds of thousands of edges."""
    i, j = name_at[pair_of_row[:, 0]], name_at[pair_of_row[:, 1]]
    swap = i > j
    first, second = np.where(swap, j, i), np.where(swap, i, j)
    first_won = np.where(swap, results[:, 1], results[:, 0])
    second_won = np.where(swap, results[:, 0], results[:, 1])
    k = int(max(name_at.max(initial=0), 0)) + 1
    board = np.concatenate([np.zeros(len(first), np.int64), board_of_row])
    cell = (board * k + np.tile(first, 2)) * k + np.tile(second, 2)
    cells, at = np.unique(cell, return_inverse=True)
    sums = [np.bincount(at, np.tile(column, 2).astype(float), len(cells))
            for column in (first_won, second_won, results[:, 2])]
    played = sums[0] + sums[1] + sums[2] > 0
    cells, sums = cells[played], [column[played] for column in sums]
    starts = np.searchsorted(cells // (k * k), np.arange(boards + 1))
    return [bradley_terry.Matches((cells[a:b] // k) % k, cells[a:b] % k, sums[0][a:b], sums[1][a:b], sums[2][a:b])
            for a, b in zip(starts[:-1], starts[1:], strict=True)]


def _points(matches: bradley_terry.Matches, k: int) -> np.ndarray:
    """Wins per competitor, a tie counting half."""
    return (np.bincount(matches.first, matches.first_won + 0.5 * matches.tied, k)
            + np.bincount(matches.second, matches.second_won + 0.5 * matches.tied, k))


# --- NC vs random --------------------------------------------------------------------------------


def strategies_report(*, study: Study, attribute: str | None = None, prompts: str = "all", bins: int = 20) -> Report:
    pairs = selectors.study_pairs(study=study)
    table = pair_table(study=study, attribute=attribute, prompts=prompts)
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


def progress_report(*, study: Study, attribute: str | None = None, prompts: str = "all") -> Report:
    bucket, time_rows = selectors.judgments_over_time(study=study, attribute=attribute, prompts=prompts)
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
          "both_bad": bad} for pk, n, bad in selectors.judgments_per_participant(
            study=study, prompts=prompts)),
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
    pairs, started, complete = selectors.pair_completion(study=study, prompts=prompts)
    summary = {
        "bucket": bucket, "judgments": sum(row["judgments"] for row in choices), "annotators": len(annotators),
        "overlap": study.overlap, "pairs": pairs, "pairs_started": started, "pairs_complete": complete,
        "leases_active": by_status["active"], "leases_judged": by_status["judged"],
        "leases_expired": by_status["expired"],
    }
    tables = {"over_time": over_time, "annotators": annotators, "choices": choices, "assignments": leases}
    return Report(tables=tables, groups=groups, summary=summary)
