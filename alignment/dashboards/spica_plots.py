"""SPICA dashboard figures: plain lists in, Plotly figure dicts out (no Django)."""


def evaluation_figure(rows: list[dict]) -> dict:
    groups = [row["group"] for row in rows]
    return {
        "data": [{"type": "bar", "name": "SPICA", "x": groups, "y": [row["spica"] for row in rows]},
                 {"type": "bar", "name": "similarity only", "x": groups,
                  "y": [row["similarity_only"] for row in rows]}],
        "layout": {"title": {"text": "Predicting each group's held-out preferences from retrieved scenarios"},
                   "barmode": "group", "yaxis": {"title": {"text": "pair accuracy (test split)"}, "range": [0, 1]},
                   "height": 360},
    }


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
    return {"data": traces, "layout": {"title": {"text": "Norm metrics per group (support as log(1 + judgments))"},
                                       "boxmode": "group", "height": 400}}


def spica_figures(tables: dict[str, list[dict]], groups: list[str]) -> list[dict]:
    if not tables["evaluation"]:
        return []
    return [{"id": "spica-evaluation", "figure": evaluation_figure(tables["evaluation"])},
            {"id": "spica-distributions", "figure": distributions_figure(tables["distributions"], groups)}]
