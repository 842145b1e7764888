"""The PAL dashboard's numbers: read from fit runs' stored evaluations, not from judgments.

A run stores per-annotator test counts and weights (metrics["annotators"]), so the group tables are
sums over annotators by any grouping: full group keys, or one attribute's values (`?attribute=`).
"""

import numpy as np

from alignment.dashboards.reports import Report, num
from alignment.dashboards.selectors import group_label
from alignment.models import FitRun
from annotation.models import Participant, Study

TABLES = ("mixtures", "group_accuracy", "unseen", "unseen_by_group", "annotators", "by_model_k", "phases")


def pal_report(*, study: Study, attribute: str | None = None) -> Report:
    """The current model (or, with `attribute`, the latest run fitted on that attribute, else the
    current model's annotators grouped by it), and every (model, K, attribute) fitted, latest run each."""
    runs = list(FitRun.objects.filter(study=study, kind=FitRun.Kind.PAL, status=FitRun.Status.SUCCEEDED)
                .order_by("-finished_at"))
    current = next((run for run in runs if run.is_current), None)
    if attribute:
        current = next((run for run in runs if run.params.get("attribute") == attribute), current)
    if current is None:
        return Report(tables={name: [] for name in TABLES}, groups=[], summary={"run": None})
    metrics = current.metrics
    fitted_on = metrics.get("attribute") or None
    grouping = attribute or fitted_on
    groups_of = _annotator_groups(metrics, grouping)
    tables = {
        **(_annotator_tables(metrics, groups_of) if groups_of is not None else _stored_tables(metrics)),
        "unseen": [{"shots": int(n), "shots_used_mean": num((metrics.get("shots_used") or {}).get(n, {}).get("mean")),
                    "pal": num(acc), "k1": num(metrics.get("unseen_accuracy_k1")),
                    "group_bt": num(metrics.get("unseen_accuracy_group_bt"))}
                   for n, acc in sorted(metrics.get("unseen_accuracy", {}).items(), key=lambda kv: int(kv[0]))],
        "by_model_k": _by_model_k(runs),
        "phases": [{"phase": name, "seconds": num(seconds, 2)} for name, seconds in metrics.get("seconds", {}).items()],
    }
    groups = sorted({row["group"] for row in tables["group_accuracy"]} | {row["group"] for row in tables["mixtures"]})
    summary = {"run": current.pk, "k": metrics.get("k"), "kind": metrics.get("kind"),
               "seen_accuracy": num(metrics.get("seen_accuracy")),
               "seen_accuracy_k1": num(metrics.get("seen_accuracy_k1")),
               "seen_accuracy_group_bt": num(metrics.get("seen_accuracy_group_bt")),
               "seen_n": (metrics.get("sizes") or {}).get("test"),
               "best_epoch": metrics.get("best_epoch"), "epochs_run": metrics.get("epochs_run"),
               "few_shot": (metrics.get("few_shot") or {}).get("text"),
               "split": (metrics.get("split") or {}).get("seen"),
               "fitted_on": fitted_on, "grouping": grouping,
               # Groups regrouped from the annotators of a model fitted on other groups.
               "regrouped": bool(attribute) and attribute != fitted_on,
               "total_seconds": num(metrics.get("total_seconds"), 1),
               "held_out_users": (metrics.get("sizes") or {}).get("held_out_users"),
               "judgments": current.judgment_count, "finished_at": current.finished_at.isoformat()}
    return Report(tables=tables, groups=groups, summary=summary)


def _annotator_groups(metrics: dict, grouping: str | None) -> list[tuple[str, str]] | None:
    """(external id, group) per user row of the run, or None for a run that stored no annotators."""
    ids = metrics.get("participant_ids")
    if not ids or not (metrics.get("annotators") or {}).get("status"):
        return None
    people = dict(Participant.objects.filter(pk__in=ids).values_list("pk", "external_id"))
    keys = dict(Participant.objects.filter(pk__in=ids).values_list("pk", "group_key"))
    return [(people.get(pk, f"#{pk}"), group_label(keys.get(pk, "?"), grouping)) for pk in ids]


def _annotator_tables(metrics: dict, groups_of: list[tuple[str, str]]) -> dict[str, list[dict]]:
    stored = metrics["annotators"]
    status = np.array(stored["status"])
    weights = np.array(stored["weights"], dtype=float)
    group = np.array([g for _, g in groups_of])
    decided = np.array(stored["test_decided"], dtype=float)
    correct = {name: np.array(values, dtype=float) for name, values in stored["test_correct"].items()}
    names = sorted(set(group.tolist()))
    fitted = status == "fitted"

    def rate(values: np.ndarray, mine: np.ndarray, n: np.ndarray) -> float | None:
        total = n[mine].sum()
        return num(values[mine].sum() / total) if total else None

    mixtures = [{"group": g, "prototype": i + 1, "weight": num(w), "members": int((fitted & (group == g)).sum())}
                for g in names if (fitted & (group == g)).any()
                for i, w in enumerate(weights[fitted & (group == g)].mean(0))]
    accuracy = [{"group": g, "n": int(decided[group == g].sum()),
                 **{name: rate(values, group == g, decided) for name, values in correct.items()}}
                for g in names if decided[group == g].sum()]
    unseen_n = np.array(stored.get("unseen_decided", []), dtype=float)
    unseen_rows = []
    for g in names:
        mine = (status == "unseen") & (group == g)
        if not mine.any():
            continue
        k1 = rate(np.array(stored.get("unseen_correct_k1", []), dtype=float), mine, unseen_n)
        for shots, values in sorted(stored.get("unseen_correct", {}).items(), key=lambda kv: int(kv[0])):
            unseen_rows.append({"group": g, "users": int(mine.sum()), "n": int(unseen_n[mine].sum()),
                                "shots": int(shots), "pal": rate(np.array(values, dtype=float), mine, unseen_n),
                                "k1": k1})
    annotators = [{"annotator": name, "group": g, "status": s, "test_n": int(n),
                   "test_accuracy": num(c / n) if n else None,
                   **{f"w{i + 1}": num(w) for i, w in enumerate(row)}}
                  for (name, g), s, row, n, c in zip(groups_of, status, weights, decided, correct["pal"], strict=True)]
    return {"mixtures": mixtures, "group_accuracy": accuracy, "unseen_by_group": unseen_rows,
            "annotators": annotators}


def _stored_tables(metrics: dict) -> dict[str, list[dict]]:
    """Runs from before per-annotator counts were stored: their group tables as saved."""
    groups = sorted(metrics.get("group_mixtures", {}))
    return {
        "mixtures": [{"group": g, "prototype": i + 1, "weight": num(w), "members": None}
                     for g in groups for i, w in enumerate(metrics["group_mixtures"][g])],
        "group_accuracy": [
            {"group": g, "n": (metrics.get("group_n") or {}).get(g), "pal": num(metrics["group_accuracy"].get(g)),
             "k1": num(metrics.get("group_accuracy_k1", {}).get(g)),
             "group_bt": num(metrics.get("group_accuracy_group_bt", {}).get(g))}
            for g in groups
        ],
        "unseen_by_group": [], "annotators": [],
    }


def _by_model_k(runs: list[FitRun]) -> list[dict]:
    """The latest run of each (model, K, groups fitted on): a better run of the other kind stays visible."""
    latest: dict[tuple, FitRun] = {}
    for run in runs:
        key = (run.metrics.get("kind") or run.params.get("model", "?")[-1:].upper(),
               int(run.metrics.get("k", run.params.get("k", 0))), run.params.get("attribute") or "")
        latest.setdefault(key, run)
    rows = []
    for (kind, k, attribute), run in sorted(latest.items()):
        m = run.metrics
        unseen = m.get("unseen_accuracy") or {}
        rows.append({"model": f"PAL-{kind}", "k": k, "groups": attribute or "full group", "run": run.pk,
                     "seen_accuracy": num(m.get("seen_accuracy")), "seen_n": (m.get("sizes") or {}).get("test"),
                     "k1": num(m.get("seen_accuracy_k1")), "group_bt": num(m.get("seen_accuracy_group_bt")),
                     "unseen_accuracy_max_shots": num(unseen[max(unseen, key=int)]) if unseen else None,
                     "best_epoch": m.get("best_epoch"), "seconds": num(m.get("total_seconds"), 1)})
    return rows
