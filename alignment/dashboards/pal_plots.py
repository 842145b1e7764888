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
    # n (decided test judgments) in the group's label: a small group's accuracy is a rough figure.
    groups = [f"{row['group']} (n = {row['n']})" if row.get("n") is not None else row["group"] for row in rows]
    series = [("pal", "PAL"), ("k1", "K = 1 (one reward for all)"), ("group_bt", "per-group BT")]
    return {
        "data": [{"type": "bar", "name": label, "x": groups, "y": [row.get(key) for row in rows]}
                 for key, label in series],
        "layout": {"title": {"text": "Held-out accuracy by group (seen annotators)"}, "barmode": "group",
                   "yaxis": {"title": {"text": "accuracy"}, "range": [0, 1]}, "height": 380},
    }


def accuracy_by_k_figure(rows: list[dict]) -> dict:
    """One line per (model, groups fitted on), so a better run of the other PAL kind is never hidden."""
    lines: dict[str, list[dict]] = {}
    for row in rows:
        lines.setdefault(f"{row['model']} ({row['groups']})", []).append(row)
    return {
        "data": [{"type": "scatter", "mode": "lines+markers", "name": f"{name}, seen annotators",
                  "x": [row["k"] for row in mine], "y": [row["seen_accuracy"] for row in mine],
                  "text": [f"run {row['run']}, n = {row['seen_n']}" for row in mine]}
                 for name, mine in lines.items()],
        "layout": {"title": {"text": "Seen-annotator accuracy by model and K (latest run of each)"},
                   "xaxis": {"title": {"text": "K"}, "dtick": 1},
                   "yaxis": {"title": {"text": "accuracy"}, "range": [0, 1]}, "height": 340},
    }


def annotator_weights_figure(annotators: list[dict], mixtures: list[dict]) -> dict | None:
    """Each annotator's mixture beside their group's mean: a ternary plot for K = 3, a strip of the
    weight on prototype 1 for K = 2, weights by prototype for K > 3. Only fitted annotators: the
    others' weights were never trained."""
    fitted = [row for row in annotators if row["status"] == "fitted"]
    k = sum(1 for key in (annotators[0] if annotators else {}) if key[:1] == "w" and key[1:].isdigit())
    if not fitted or k < 2:
        return None
    groups = sorted({row["group"] for row in fitted})
    means = {g: [row["weight"] for row in mixtures if row["group"] == g] for g in groups}
    title = {"text": "Annotators' mixture weights (dots) and group means (diamonds)"}
    if k == 3:
        data = [{"type": "scatterternary", "mode": "markers", "name": g, "legendgroup": g,
                 "a": [row["w1"] for row in fitted if row["group"] == g],
                 "b": [row["w2"] for row in fitted if row["group"] == g],
                 "c": [row["w3"] for row in fitted if row["group"] == g],
                 "text": [row["annotator"] for row in fitted if row["group"] == g],
                 "marker": {"size": 5, "opacity": 0.6}}
                for g in groups]
        data += [{"type": "scatterternary", "mode": "markers", "name": f"{g} mean", "legendgroup": g,
                  "a": [means[g][0]], "b": [means[g][1]], "c": [means[g][2]],
                  "marker": {"size": 14, "symbol": "diamond", "line": {"width": 1}}} for g in groups if means[g]]
        layout = {"title": title, "height": 460, "ternary": {"aaxis": {"title": {"text": "prototype 1"}},
                                                             "baxis": {"title": {"text": "prototype 2"}},
                                                             "caxis": {"title": {"text": "prototype 3"}}}}
        return {"data": data, "layout": layout}
    prototypes = [1] if k == 2 else list(range(1, k + 1))
    data = []
    for g in groups:
        mine = [row for row in fitted if row["group"] == g]
        data.append({"type": "box", "boxpoints": "all", "jitter": 0.4, "name": g, "legendgroup": g,
                     "x": [f"prototype {p}" for row in mine for p in prototypes],
                     "y": [row[f"w{p}"] for row in mine for p in prototypes],
                     "text": [row["annotator"] for row in mine for p in prototypes]})
        if means[g]:
            data.append({"type": "scatter", "mode": "markers", "name": f"{g} mean", "legendgroup": g,
                         "x": [f"prototype {p}" for p in prototypes], "y": [means[g][p - 1] for p in prototypes],
                         "marker": {"size": 14, "symbol": "diamond"}})
    return {"data": data, "layout": {"title": title, "boxmode": "group", "height": 420,
                                     "yaxis": {"title": {"text": "weight"}, "range": [0, 1]}}}


def unseen_figure(rows: list[dict]) -> dict:
    # x is the judgments actually used (the pool is capped at half of each annotator's), not those asked for.
    shots = [row["shots"] if row.get("shots_used_mean") is None else row["shots_used_mean"] for row in rows]
    return {
        "data": [{"type": "scatter", "mode": "lines+markers", "name": "PAL few-shot", "x": shots,
                  "y": [row["pal"] for row in rows], "text": [f"{row['shots']} asked for" for row in rows]},
                 {"type": "scatter", "mode": "lines", "name": "K = 1", "x": shots, "y": [row["k1"] for row in rows],
                  "line": {"dash": "dot"}},
                 {"type": "scatter", "mode": "lines", "name": "per-group BT", "x": shots,
                  "y": [row["group_bt"] for row in rows], "line": {"dash": "dash"}}],
        "layout": {"title": {"text": "Unseen annotators: accuracy vs judgments used"},
                   "xaxis": {"title": {"text": "judgments of the new annotator used (mean)"}, "type": "log"},
                   "yaxis": {"title": {"text": "accuracy"}, "range": [0, 1]}, "height": 340},
    }


def pal_figures(tables: dict[str, list[dict]], groups: list[str]) -> list[dict]:
    if not tables["mixtures"]:
        return []
    figures = [
        {"id": "mixtures", "figure": mixtures_figure(tables["mixtures"], groups)},
        {"id": "annotator-weights", "figure": annotator_weights_figure(tables["annotators"], tables["mixtures"])},
        {"id": "group-accuracy", "figure": group_accuracy_figure(tables["group_accuracy"])},
        {"id": "by-k", "figure": accuracy_by_k_figure(tables["by_model_k"])},
        {"id": "unseen", "figure": unseen_figure(tables["unseen"])},
    ]
    return [figure for figure in figures if figure["figure"] is not None]
