"""SPICA dashboard figures: plain lists in, Plotly figure dicts out (no Django)."""


COLOURS = {"SPICA": "#1f77b4", "similarity only": "#ff7f0e", "constant": "#7f7f7f"}


def evaluation_figure(rows: list[dict]) -> dict:
    """Pair accuracy per group, SPICA against similarity-only and the constant predictor; beside it rating
    RMSE when the refit has any (test scenarios with ratings), the paper's preference-prediction error."""
    groups = [row["group"] for row in rows]
    data = [_bars("SPICA", groups, [row["spica"] for row in rows]),
            _bars("similarity only", groups, [row["similarity_only"] for row in rows]),
            _bars("constant", groups, [row.get("constant") for row in rows])]
    layout = {"title": {"text": "Predicting each group's held-out preferences from retrieved scenarios"},
              "barmode": "group", "yaxis": {"title": {"text": "pair accuracy (test split)"}, "range": [0, 1]},
              "height": 360}
    if any(row.get("rmse_spica") is not None for row in rows):
        data += [_bars("SPICA", groups, [row.get("rmse_spica") for row in rows], axis="2"),
                 _bars("similarity only", groups, [row.get("rmse_similarity_only") for row in rows], axis="2"),
                 _bars("constant", groups, [row.get("rmse_constant") for row in rows], axis="2")]
        layout |= {"xaxis": {"domain": [0, 0.45]}, "xaxis2": {"domain": [0.55, 1], "anchor": "y2"},
                   "yaxis2": {"anchor": "x2", "rangemode": "tozero",
                              "title": {"text": "rating RMSE (test split, lower is better)"}}}
    return {"data": data, "layout": layout}


def _bars(name: str, groups: list[str], values: list, *, axis: str = "") -> dict:
    # The RMSE panel repeats the accuracy panel's colours and legend entries instead of adding its own.
    bars = {"type": "bar", "name": name, "x": groups, "y": values, "marker": {"color": COLOURS[name]},
            "legendgroup": name}
    return bars | ({"xaxis": f"x{axis}", "yaxis": f"y{axis}", "showlegend": False} if axis else {})


def relevance_figure(rows: list[dict]) -> dict:
    """Mean cosine similarity of the retrieved scenarios to the query, SPICA against similarity-only:
    SPICA may trade a little similarity for norms, never relevance for them."""
    groups = [row["group"] for row in rows]
    return {"data": [_bars("SPICA", groups, [row.get("retrieved_similarity") for row in rows]),
                     _bars("similarity only", groups, [row.get("retrieved_similarity_only") for row in rows])],
            "layout": {"title": {"text": "How similar the retrieved scenarios are to the query (test split)"},
                       "barmode": "group", "height": 320,
                       "yaxis": {"title": {"text": "mean cosine similarity"}, "rangemode": "tozero"}}}


def distributions_figure(rows: list[dict], groups: list[str]) -> dict:
    """Box plots drawn from precomputed quantiles (whiskers at the 5th and 95th percentiles)."""
    metrics = list(dict.fromkeys(row["metric"] for row in rows))
    by = {(row["group"], row["metric"]): row for row in rows}
    traces = [{
        "type": "box", "name": group, "x": metrics,
        "q1": [by[(group, m)]["p25"] for m in metrics], "median": [by[(group, m)]["p50"] for m in metrics],
        "q3": [by[(group, m)]["p75"] for m in metrics], "lowerfence": [by[(group, m)]["p5"] for m in metrics],
        "upperfence": [by[(group, m)]["p95"] for m in metrics],
    } for group in groups]
    return {"data": traces, "layout": {"title": {"text": "Norm metrics per group (support as log(1 + members))"},
                                       "boxmode": "group", "height": 400}}


def spica_figures(tables: dict[str, list[dict]], groups: list[str]) -> list[dict]:
    if not tables["evaluation"]:
        return []
    return [{"id": "spica-evaluation", "figure": evaluation_figure(tables["evaluation"])},
            {"id": "spica-relevance", "figure": relevance_figure(tables["evaluation"])},
            {"id": "spica-distributions", "figure": distributions_figure(tables["distributions"], groups)}]
