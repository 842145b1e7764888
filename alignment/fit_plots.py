"""Figures of a fit run, as Plotly figure dicts built from plain lists (no Django)."""


def loss_curve_figure(history: list[dict]) -> dict:
    epochs = [row["epoch"] for row in history]
    traces = [{"type": "scatter", "mode": "lines+markers", "name": "training loss", "x": epochs,
               "y": [row["loss"] for row in history]}]
    if any("val_loss" in row for row in history):
        traces.append({"type": "scatter", "mode": "lines+markers", "name": "validation loss", "x": epochs,
                       "y": [row.get("val_loss") for row in history]})
    if any("val_accuracy" in row for row in history):
        traces.append({"type": "scatter", "mode": "lines", "name": "validation accuracy", "x": epochs,
                       "y": [row.get("val_accuracy") for row in history], "yaxis": "y2", "line": {"dash": "dot"}})
    return {
        "data": traces,
        "layout": {
            "height": 300, "margin": {"l": 50, "r": 50, "t": 20, "b": 40},
            "xaxis": {"title": {"text": "epoch"}}, "yaxis": {"title": {"text": "loss"}},
            "yaxis2": {"title": {"text": "accuracy"}, "overlaying": "y", "side": "right", "range": [0, 1]},
            "legend": {"orientation": "h"},
        },
    }
