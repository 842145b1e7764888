"""The PAL dashboard's numbers: read from fit runs' stored evaluations, not from judgments."""

from alignment.dashboards.reports import Report, num
from alignment.models import FitRun
from annotation.models import Study


def pal_report(*, study: Study) -> Report:
    """Mixtures and accuracy of the current PAL model, and accuracy by K from the latest run of each K."""
    runs = list(FitRun.objects.filter(study=study, kind=FitRun.Kind.PAL, status=FitRun.Status.SUCCEEDED)
                .order_by("-finished_at"))
    current = next((run for run in runs if run.is_current), None)
    if current is None:
        return Report(tables={"mixtures": [], "group_accuracy": [], "by_k": [], "unseen": []}, groups=[],
                      summary={"run": None})
    metrics = current.metrics
    groups = sorted(metrics.get("group_mixtures", {}))
    latest_by_k: dict[int, FitRun] = {}
    for run in runs:
        latest_by_k.setdefault(int(run.metrics.get("k", run.params.get("k", 0))), run)
    tables = {
        "mixtures": [{"group": g, "prototype": i + 1, "weight": num(w)}
                     for g in groups for i, w in enumerate(metrics["group_mixtures"][g])],
        "group_accuracy": [
            {"group": g, "pal": num(metrics["group_accuracy"].get(g)),
             "k1": num(metrics.get("group_accuracy_k1", {}).get(g)),
             "group_bt": num(metrics.get("group_accuracy_group_bt", {}).get(g))}
            for g in groups
        ],
        "by_k": [{"k": k, "run": run.pk, "seen_accuracy": num(run.metrics.get("seen_accuracy")),
                  "unseen_accuracy_max_shots": num(_most_shots(run.metrics.get("unseen_accuracy", {})))}
                 for k, run in sorted(latest_by_k.items())],
        "unseen": [{"shots": int(n), "pal": num(acc), "k1": num(metrics.get("unseen_accuracy_k1")),
                    "group_bt": num(metrics.get("unseen_accuracy_group_bt"))}
                   for n, acc in sorted(metrics.get("unseen_accuracy", {}).items(), key=lambda kv: int(kv[0]))],
    }
    summary = {"run": current.pk, "k": metrics.get("k"), "kind": metrics.get("kind"),
               "seen_accuracy": num(metrics.get("seen_accuracy")),
               "seen_accuracy_k1": num(metrics.get("seen_accuracy_k1")),
               "judgments": current.judgment_count, "finished_at": current.finished_at.isoformat()}
    return Report(tables=tables, groups=groups, summary=summary)


def _most_shots(by_shots: dict) -> float | None:
    return by_shots[max(by_shots, key=int)] if by_shots else None
