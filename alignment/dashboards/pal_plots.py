"""PAL dashboard figures: plain lists in, Plotly figure dicts out (no Django)."""


def mixtures_figure(rows: list[dict], groups: list[str]) -> dict:
    prototypes = sorted({row["prototype"] for row in rows})
    weight = {(row["group"], row["prototype"]): row["weight"] for row in rows}
    return {
        "data": [{"type": "bar", "name": f"prototype {k}", "x": groups, "y": [weight.get((g, k)) for g in groups]}
                 for k in prototypes],
        "layout": {"title": {"text": "Mean mixture weights per group"}, "barmode": "stack",
                   "yaxis": {"title": {"text": "weight"}, "range": [0, 1]}, "height": 380},
    }


def group_accuracy_figure(rows: list[dict]) -> dict:
    groups = [row["group"] for row in rows]
    series = [("pal", "PAL"), ("k1", "K = 1 (one reward for all)"), ("group_bt", "per-group BT")]
    return {
        "data": [{"type": "bar", "name": label, "x": groups, "y": [row[key] for row in rows]} for key, label in series],
        "layout": {"title": {"text": "Held-out accuracy by group (seen annotators)"}, "barmode": "group",
                   "yaxis": {"title": {"text": "accuracy"}, "range": [0, 1]}, "height": 380},
    }


def accuracy_by_k_figure(rows: list[dict]) -> dict:
    return {
        "data": [{"type": "scatter", "mode": "lines+markers", "name": "seen annotators",
                  "x": [row["k"] for row in rows], "y": [row["seen_accuracy"] for row in rows]},
                 {"type": "scatter", "mode": "lines+markers", "name": "unseen annotators (most shots)",
                  "x": [row["k"] for row in rows], "y": [row["unseen_accuracy_max_shots"] for row in rows]}],
        "layout": {"title": {"text": "Accuracy by K (latest run of each K)"},
                   "xaxis": {"title": {"text": "K"}, "dtick": 1},
                   "yaxis": {"title": {"text": "accuracy"}, "range": [0, 1]}, "height": 340},
    }


def unseen_figure(rows: list[dict]) -> dict:
    shots = [row["shots"] for row in rows]
    return {
        "data": [{"type": "scatter", "mode": "lines+markers", "name": "PAL few-shot", "x": shots,
                  "y": [row["pal"] for row in rows]},
                 {"type": "scatter", "mode": "lines", "name": "K = 1", "x": shots, "y": [row["k1"] for row in rows],
                  "line": {"dash": "dot"}},
                 {"type": "scatter", "mode": "lines", "name": "per-group BT", "x": shots,
                  "y": [row["group_bt"] for row in rows], "line": {"dash": "dash"}}],
        "layout": {"title": {"text": "Unseen annotators: accuracy vs judgments used"},
                   "xaxis": {"title": {"text": "judgments of the new annotator"}, "type": "log"},
                   "yaxis": {"title": {"text": "accuracy"}, "range": [0, 1]}, "height": 340},
    }


def pal_figures(tables: dict[str, list[dict]], groups: list[str]) -> list[dict]:
    if not tables["mixtures"]:
        return []
    return [
        {"id": "mixtures", "figure": mixtures_figure(tables["mixtures"], groups)},
        {"id": "group-accuracy", "figure": group_accuracy_figure(tables["group_accuracy"])},
        {"id": "by-k", "figure": accuracy_by_k_figure(tables["by_k"])},
        {"id": "unseen", "figure": unseen_figure(tables["unseen"])},
    ]
