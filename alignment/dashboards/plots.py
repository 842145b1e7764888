"""Plotly figures as plain dicts ({"data": [...], "layout": {...}}), built from a report's tables.

No Django here: lists in, dicts out, so the figures can be tested and reused without a request. Plain
dicts rather than plotly.graph_objects: building and validating graph objects costs tens of
milliseconds a figure on every page view; the tests validate the dicts with graph_objects instead.
"""

from collections import defaultdict
from datetime import datetime, timedelta

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
NEUTRAL = "#7f7f7f"
ALL_GROUPS = "all groups"


def colour_of(groups: list[str]) -> dict[str, str]:
    colours = {group: PALETTE[i % len(PALETTE)] for i, group in enumerate(groups)}
    colours[ALL_GROUPS] = NEUTRAL
    return colours


def _layout(title: str, **extra) -> dict:
    return {
        "title": {"text": title, "x": 0.01, "xanchor": "left", "y": 0.98, "yanchor": "top"},
        # The legend sits above the plot: below it, it would collide with long rotated tick labels.
        "margin": {"l": 60, "r": 20, "t": 80, "b": 60},
        "font": {"family": "system-ui, -apple-system, Segoe UI, sans-serif", "size": 13},
        "legend": {"orientation": "h", "x": 0, "y": 1.02, "yanchor": "bottom"},
        "plot_bgcolor": "#ffffff",
        "paper_bgcolor": "#ffffff",
        **extra,
    }


def has_content(figure: dict) -> bool:
    """Whether a figure would draw anything (a figure of empty traces draws bare axes, which reads as
    "zero" rather than "nothing yet")."""
    return any(_trace_has_values(trace) for trace in figure.get("data", []))


def _trace_has_values(trace: dict) -> bool:
    kind = trace.get("type", "scatter")
    if kind == "heatmap":
        return any(v is not None for row in trace.get("z") or [] for v in row)
    if kind == "bar":
        # A bar chart of zero counts (no leases of any status yet) has nothing to show either.
        values = trace.get("x" if trace.get("orientation") == "h" else "y") or []
        return any(v for v in values if v is not None)
    return any(v is not None for axis in ("x", "y") for v in trace.get(axis) or [])


def _error(values: list, low: list, high: list) -> tuple[list, list]:
    """Plotly error bars are distances from the point, not the interval's ends."""
    plus = [None if v is None or h is None else round(h - v, 4) for v, h in zip(values, high, strict=True)]
    minus = [None if v is None or lo is None else round(v - lo, 4) for v, lo in zip(values, low, strict=True)]
    return plus, minus


# --- divergence ----------------------------------------------------------------------------------


def group_rates_figure(rows: list[dict], groups: list[str]) -> dict:
    """Each group's rate of preferring the pair's candidate_a, with its Wilson interval, for the most
    divisive pairs (rows are in that order)."""
    colours = colour_of(groups)
    labels = list(dict.fromkeys(f"{row['prompt']} #{row['pair_id']}" for row in rows))
    by_group: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_group[row["group"]].append(row)
    data = []
    for i, group in enumerate(groups):
        mine = by_group.get(group, [])
        if not mine:
            continue
        rates = [row["rate_a"] for row in mine]
        plus, minus = _error(rates, [row["low"] for row in mine], [row["high"] for row in mine])
        data.append({
            "type": "scatter", "mode": "markers", "name": group,
            "x": [f"{row['prompt']} #{row['pair_id']}" for row in mine], "y": rates,
            "error_y": {"type": "data", "array": plus, "arrayminus": minus, "thickness": 1.5, "width": 3},
            "marker": {"color": colours[group], "size": 9},
            "customdata": [[row["n"], row["both_bad"]] for row in mine],
            "hovertemplate": "%{x}<br>" + group + ": %{y:.2f} (n=%{customdata[0]}, both bad %{customdata[1]})"
                             "<extra></extra>",
            # With layout.scattermode "group" the groups sit side by side, so intervals do not overlap.
            "offsetgroup": str(i),
        })
    layout = _layout(
        "Preference for the pair's candidate A, by group (most divisive pairs by the gap's lower bound, "
        "95% Wilson intervals)",
        xaxis={"categoryorder": "array", "categoryarray": labels, "tickangle": -45, "automargin": True},
        yaxis={"range": [-0.05, 1.05], "title": {"text": "rate of preferring A (ties count 1/2)"}, "zeroline": False},
        shapes=[{"type": "line", "xref": "paper", "x0": 0, "x1": 1, "y0": 0.5, "y1": 0.5,
                 "line": {"dash": "dot", "color": NEUTRAL, "width": 1}}],
        scattermode="group", height=460,
    )
    return {"data": data, "layout": layout}


def divergence_heatmap(rows: list[dict], groups: list[str]) -> dict:
    """Group x group mean |p_g - p_h| over the pairs both groups judged."""
    cell = {(row["group_a"], row["group_b"]): row for row in rows}
    z = [[cell.get((a, b), {}).get("mean_abs_diff") for b in groups] for a in groups]
    shared = [[cell.get((a, b), {}).get("pairs", 0) for b in groups] for a in groups]
    data = [{
        "type": "heatmap", "x": groups, "y": groups, "z": z, "customdata": shared,
        "zmin": 0, "zmax": max([0.5, *(v for line in z for v in line if v is not None)]),
        "colorscale": "Viridis", "colorbar": {"title": {"text": "mean |Δp|"}},
        "texttemplate": "%{z:.2f}",
        "hovertemplate": "%{y} vs %{x}: %{z:.3f} over %{customdata} pairs<extra></extra>",
    }]
    layout = _layout("Mean divergence between groups (|p_g − p_h| over shared pairs)",
                     xaxis={"automargin": True}, yaxis={"automargin": True, "autorange": "reversed"}, height=420)
    return {"data": data, "layout": layout}


def divergence_by_figure(rows: list[dict], key: str, title: str, *, limit: int = 25) -> dict:
    """Mean |Δp| and mean Jensen-Shannon divergence per tag, strategy or prompt (rows most divisive first)."""
    rows = rows[:limit]
    names = [str(row[key]) for row in rows]
    pairs = [row["pairs"] for row in rows]
    data = [
        {"type": "bar", "name": "mean |Δp|", "x": names, "y": [row["mean_abs_diff"] for row in rows],
         "customdata": pairs, "marker": {"color": PALETTE[0]},
         "hovertemplate": "%{x}: %{y:.3f} over %{customdata} pairs<extra>mean |Δp|</extra>"},
        {"type": "bar", "name": "mean JS (bits)", "x": names, "y": [row["mean_js"] for row in rows],
         "customdata": pairs, "marker": {"color": PALETTE[1]},
         "hovertemplate": "%{x}: %{y:.3f} over %{customdata} pairs<extra>mean JS</extra>"},
    ]
    layout = _layout(title, barmode="group", yaxis={"range": [0, 1], "title": {"text": "divergence"}},
                     xaxis={"automargin": True}, height=360)
    return {"data": data, "layout": layout}


def agreement_figure(rows: list[dict], groups: list[str]) -> dict:
    """Pairwise agreement within each group beside agreement across groups (horizontal bars: group
    names are long), with all groups pooled as a dotted line."""
    colours = colour_of(groups)
    within = [row for row in rows if row["kind"] == "within"]
    across = [row for row in rows if row["kind"] == "across"]
    pooled = [row for row in rows if row["kind"] == "all"]
    labels = [f"within {row['group_a']}" for row in within] + [f"{row['group_a']} × {row['group_b']}" for row in across]
    data = [
        {"type": "bar", "orientation": "h", "name": "within a group", "y": labels[:len(within)],
         "x": [row["agreement"] for row in within],
         "customdata": [[row["annotator_pairs"], row["alpha"]] for row in within],
         "marker": {"color": [colours.get(row["group_a"], NEUTRAL) for row in within]},
         "hovertemplate": "%{y}: %{x:.3f}<br>%{customdata[0]} annotator pairs, "
                          "Krippendorff α %{customdata[1]:.3f}<extra></extra>"},
        {"type": "bar", "orientation": "h", "name": "across groups", "y": labels[len(within):],
         "x": [row["agreement"] for row in across], "customdata": [row["annotator_pairs"] for row in across],
         "marker": {"color": NEUTRAL, "pattern": {"shape": "/"}},
         "hovertemplate": "%{y}: %{x:.3f}<br>%{customdata} annotator pairs<extra></extra>"},
    ]
    shapes = [
        {"type": "line", "yref": "paper", "y0": 0, "y1": 1, "x0": row["agreement"], "x1": row["agreement"],
         "line": {"dash": "dot", "color": "#000000", "width": 1}}
        for row in pooled if row["agreement"] is not None
    ]
    layout = _layout("Agreement within vs across groups (chance two annotators give the same answer)",
                     xaxis={"range": [0, 1], "title": {"text": "pairwise agreement (dotted: all groups pooled)"}},
                     yaxis={"automargin": True, "categoryorder": "array", "categoryarray": labels[::-1]},
                     shapes=shapes, height=max(300, 26 * len(labels) + 160))
    return {"data": data, "layout": layout}


def divergence_figures(tables: dict[str, list[dict]], groups: list[str]) -> list[dict]:
    return [
        {"id": "group-rates", "figure": group_rates_figure(tables["top_pairs"], groups)},
        {"id": "group-matrix", "figure": divergence_heatmap(tables["group_matrix"], groups)},
        {"id": "by-tag", "figure": divergence_by_figure(tables["tags"], "tag", "Divergence by prompt tag")},
        {"id": "by-strategy",
         "figure": divergence_by_figure(tables["strategies"], "strategy", "Divergence by pair strategy")},
        {"id": "agreement", "figure": agreement_figure(tables["agreement"], groups)},
    ]


# --- leaderboard -----------------------------------------------------------------------------------


LEADERBOARD_LIMIT = 30  # competitors a leaderboard figure draws (the strongest by the pooled fit)


def leaderboard_figure(rows: list[dict], groups: list[str], *, limit: int = LEADERBOARD_LIMIT,
                       competitors: int | None = None) -> dict:
    """Bradley-Terry scores with bootstrap intervals, one trace per group side by side, the pooled
    fit first: the `limit` strongest competitors by the pooled fit, the title saying so when the study
    has more (`competitors`, else those in `rows`)."""
    colours = colour_of(groups)
    overall = sorted((row for row in rows if row["group"] == ALL_GROUPS and row["score"] is not None),
                     key=lambda row: row["score"])[-limit:] if limit else []
    order = [row["competitor"] for row in overall]
    drawn = set(order)
    total = max(competitors or 0, len({row["competitor"] for row in rows}))
    data = []
    for group in [ALL_GROUPS, *groups]:
        mine = [row for row in rows if row["group"] == group and row["score"] is not None
                and row["competitor"] in drawn]
        if not mine:
            continue
        scores = [row["score"] for row in mine]
        plus, minus = _error(scores, [row["low"] for row in mine], [row["high"] for row in mine])
        data.append({
            "type": "scatter", "mode": "markers", "name": group, "orientation": "h",
            "y": [row["competitor"] for row in mine], "x": scores,
            "error_x": {"type": "data", "array": plus, "arrayminus": minus, "thickness": 1.5, "width": 3},
            "marker": {"color": colours.get(group, NEUTRAL), "size": 9,
                       "symbol": "diamond" if group == ALL_GROUPS else "circle"},
            "customdata": [[row["games"], row["win_rate"]] for row in mine],
            "hovertemplate": "%{y} in " + group + ": %{x:.2f}<br>%{customdata[0]} games, "
                             "win rate %{customdata[1]:.2f}<extra></extra>",
        })
    layout = _layout(
        "Bradley-Terry strength by group (log-strength, 95% bootstrap intervals)"
        + (f": the strongest {len(order)} of {total:,} competitors (downloads hold all)" if total > len(order) else ""),
        xaxis={"title": {"text": "log-strength: P(i beats j) = σ(s_i − s_j)"}, "zeroline": True},
        yaxis={"categoryorder": "array", "categoryarray": order, "automargin": True},
        scattermode="group", height=max(320, 70 * len(order) + 160),
    )
    return {"data": data, "layout": layout}


def leaderboard_figures(tables: dict[str, list[dict]], groups: list[str], *,
                        competitors: int | None = None) -> list[dict]:
    return [{"id": "leaderboard", "figure": leaderboard_figure(tables["scores"], groups, competitors=competitors)}]


# --- NC vs random ------------------------------------------------------------------------------------


def diversity_figure(rows: list[dict]) -> dict:
    """Histogram of pair diversity (1 − cosine similarity) per pair strategy, from pre-binned counts."""
    by_strategy: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_strategy[row["strategy"]].append(row)
    data = [
        {"type": "bar", "name": strategy, "opacity": 0.65,
         "x": [round((row["low"] + row["high"]) / 2, 4) for row in mine], "y": [row["pairs"] for row in mine],
         "width": [round(row["high"] - row["low"], 4) for row in mine],
         "marker": {"color": PALETTE[i % len(PALETTE)]},
         "hovertemplate": strategy + ": %{y} pairs near %{x:.2f}<extra></extra>"}
        for i, (strategy, mine) in enumerate(sorted(by_strategy.items()))
    ]
    layout = _layout("Pair diversity by strategy", barmode="overlay",
                     xaxis={"title": {"text": "diversity (1 − cosine similarity)"}},
                     yaxis={"title": {"text": "pairs"}}, height=380)
    return {"data": data, "layout": layout}


def split_share_figure(rows: list[dict]) -> dict:
    """Share of pairs whose groups' majorities point to different candidates, per strategy."""
    shares = [row["split_share"] for row in rows]
    plus, minus = _error(shares, [row["split_low"] for row in rows], [row["split_high"] for row in rows])
    data = [
        {"type": "bar", "name": "pairs that split groups", "x": [row["strategy"] for row in rows], "y": shares,
         "error_y": {"type": "data", "array": plus, "arrayminus": minus},
         "customdata": [[row["pairs_split"], row["pairs_compared"]] for row in rows],
         "marker": {"color": PALETTE[0]},
         "hovertemplate": "%{x}: %{y:.2f} (%{customdata[0]} of %{customdata[1]} pairs)<extra></extra>"},
        {"type": "bar", "name": "mean |Δp|", "x": [row["strategy"] for row in rows],
         "y": [row["mean_abs_diff"] for row in rows], "marker": {"color": PALETTE[1]},
         "customdata": [row["pairs_compared"] for row in rows],
         "hovertemplate": "%{x}: mean |Δp| %{y:.3f} over %{customdata} pairs<extra></extra>"},
    ]
    layout = _layout("Pairs that split groups, per strategy (95% Wilson intervals)", barmode="group",
                     yaxis={"range": [0, 1]}, height=380)
    return {"data": data, "layout": layout}


def strategies_figures(tables: dict[str, list[dict]], groups: list[str]) -> list[dict]:
    return [
        {"id": "diversity", "figure": diversity_figure(tables["diversity_bins"])},
        {"id": "split-share", "figure": split_share_figure(tables["strategies"])},
    ]


# --- progress ------------------------------------------------------------------------------------------


def over_time_figure(rows: list[dict], groups: list[str]) -> dict:
    """Cumulative judgments per group over time."""
    colours = colour_of(groups)
    by_group: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        by_group[row["group"]].append(row)
    data = [
        {"type": "scatter", "mode": "lines+markers", "name": group, "line": {"shape": "hv"},
         "x": [row["bucket"] for row in by_group[group]], "y": [row["cumulative"] for row in by_group[group]],
         "customdata": [row["judgments"] for row in by_group[group]], "marker": {"color": colours[group], "size": 4},
         "hovertemplate": group + ": %{y} by %{x} (+%{customdata})<extra></extra>"}
        for group in groups if by_group.get(group)
    ]
    layout = _layout("Judgments over time, per group (cumulative)", xaxis=_time_axis(rows),
                     yaxis={"title": {"text": "judgments"}, "rangemode": "tozero"}, height=380)
    return {"data": data, "layout": layout}


# Tick labels by tick spacing (ms): Plotly's defaults go down to milliseconds ("00:00:00.0005") when the
# judgments fall in one bucket, and print the year on every tick of a short study.
TIME_TICKS = [
    {"dtickrange": [None, 86_400_000], "value": "%b %-d %H:%M"},
    {"dtickrange": [86_400_000, 28 * 86_400_000], "value": "%b %-d"},
    {"dtickrange": [28 * 86_400_000, None], "value": "%b %Y"},
]
PERIOD_MS = {"hour": 3_600_000, "day": 86_400_000}


def _time_axis(rows: list[dict]) -> dict:
    axis = {"type": "date", "tickformatstops": TIME_TICKS, "hoverformat": "%b %-d, %Y %H:%M"}
    if rows:
        # At least a few buckets wide, so that one bucket of judgments is not drawn at millisecond scale.
        period = PERIOD_MS[rows[0].get("period", "day")]
        first, last = min(row["bucket"] for row in rows), max(row["bucket"] for row in rows)
        axis["range"] = [_shift(first, -period), _shift(last, period)]
    return axis


def _shift(iso: str, ms: int) -> str:
    return (datetime.fromisoformat(iso) + timedelta(milliseconds=ms)).isoformat()


def annotators_figure(rows: list[dict], groups: list[str]) -> dict:
    """How many judgments each annotator gave, as a histogram per group."""
    colours = colour_of(groups)
    by_group: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        by_group[row["group"]].append(row["judgments"])
    data = [
        {"type": "histogram", "name": group, "x": by_group[group], "opacity": 0.65,
         "marker": {"color": colours[group]},
         "hovertemplate": group + ": %{y} annotators with %{x} judgments<extra></extra>"}
        for group in groups if by_group.get(group)
    ]
    layout = _layout("Judgments per annotator, per group", barmode="overlay",
                     xaxis={"title": {"text": "judgments by one annotator"}},
                     yaxis={"title": {"text": "annotators"}}, height=360)
    return {"data": data, "layout": layout}


def assignments_figure(rows: list[dict], groups: list[str]) -> dict:
    """Leases per group by status: still active, judged, expired (returned to the pool)."""
    statuses = {"active": PALETTE[4], "judged": PALETTE[2], "expired": PALETTE[1]}
    cell = {(row["group"], row["status"]): row["assignments"] for row in rows}
    data = [
        {"type": "bar", "name": status, "x": groups, "y": [cell.get((group, status), 0) for group in groups],
         "marker": {"color": colour}, "hovertemplate": "%{x}: %{y} " + status + "<extra></extra>"}
        for status, colour in statuses.items()
    ]
    layout = _layout("Leases by status, per group", barmode="stack", yaxis={"title": {"text": "assignments"}},
                     height=340)
    return {"data": data, "layout": layout}


def progress_figures(tables: dict[str, list[dict]], groups: list[str]) -> list[dict]:
    return [
        {"id": "over-time", "figure": over_time_figure(tables["over_time"], groups)},
        {"id": "annotators", "figure": annotators_figure(tables["annotators"], groups)},
        {"id": "assignments", "figure": assignments_figure(tables["assignments"], groups)},
    ]
