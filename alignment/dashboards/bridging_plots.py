"""The bridging dashboard's figure, a plain dict built from the report's tables (no Django)."""

from alignment.dashboards.plots import ALL_GROUPS, NEUTRAL, _error, _layout, colour_of


def group_win_figure(top_bridging: list[dict], top_overall: list[dict], groups: list[str]) -> dict:
    """Each group's win probability (with its interval) for the top candidates by bridging score and by
    overall win rate, beside the overall win rate: a bridge has every group's dot right of one half."""
    seen, rows = set(), []
    for row in [*top_bridging, *top_overall]:
        key = (row["prompt"], row["candidate"])
        if key not in seen:
            seen.add(key)
            rows.append(row)
    labels = [f"{row['prompt']} · {row['candidate']}" for row in rows]
    colours = colour_of(groups)
    data = []
    wins = [row["win_rate"] for row in rows]
    plus, minus = _error(wins, [row["win_low"] for row in rows], [row["win_high"] for row in rows])
    if rows:
        data.append({
            "type": "scatter", "mode": "markers", "name": f"overall win rate ({ALL_GROUPS})", "y": labels, "x": wins,
            "error_x": {"type": "data", "array": plus, "arrayminus": minus, "thickness": 1.5, "width": 3},
            "marker": {"color": NEUTRAL, "size": 10, "symbol": "diamond"},
            "customdata": [[row["games"]] for row in rows],
            "hovertemplate": "%{y}: won %{x:.2f} of %{customdata[0]} games<extra></extra>",
        })
    for g, group in enumerate(groups):
        cells = [row["groups"][g] for row in rows]
        values = [cell["win"] for cell in cells]
        if not any(v is not None for v in values):
            continue
        plus, minus = _error(values, [cell["low"] for cell in cells], [cell["high"] for cell in cells])
        data.append({
            "type": "scatter", "mode": "markers", "name": group, "y": labels, "x": values,
            "error_x": {"type": "data", "array": plus, "arrayminus": minus, "thickness": 1.5, "width": 3},
            "marker": {"color": colours[group], "size": 9},
            "customdata": [[cell["n"]] for cell in cells],
            "hovertemplate": "%{y} in " + group + ": %{x:.2f} (n=%{customdata[0]})<extra></extra>",
        })
    layout = _layout(
        "Win probability against the prompt's other candidates, by group (95% intervals)",
        xaxis={"title": {"text": "mean Bradley-Terry win probability"}, "range": [0, 1]},
        yaxis={"categoryorder": "array", "categoryarray": labels[::-1], "automargin": True},
        scattermode="group", height=max(320, 55 * len(labels) + 160),
        shapes=[{"type": "line", "x0": 0.5, "x1": 0.5, "yref": "paper", "y0": 0, "y1": 1,
                 "line": {"color": NEUTRAL, "dash": "dot", "width": 1}}],
    )
    return {"data": data, "layout": layout}


def bridging_figures(tables: dict[str, list[dict]], groups: list[str]) -> list[dict]:
    return [{"id": "group-win", "figure": group_win_figure(tables["top_bridging"], tables["top_overall"], groups)}]
