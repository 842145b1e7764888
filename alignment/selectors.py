"""Reads about fit runs."""

from alignment.models import FitRun
from annotation.errors import NotFound
from annotation.models import Study


def fit_run_get(*, run_id: int) -> FitRun:
    run = FitRun.objects.select_related("study", "launched_by").filter(pk=run_id).first()
    if run is None:
        raise NotFound(f"fit run {run_id} does not exist", code="unknown_fit_run")
    return run


def fit_runs_for(*, study: Study, limit: int = 50) -> list[FitRun]:
    return list(FitRun.objects.filter(study=study).select_related("launched_by")[:limit])


def fit_current(*, study: Study, kind: str) -> FitRun | None:
    return FitRun.objects.filter(study=study, kind=kind, is_current=True).first()


def fit_eta_seconds(run: FitRun) -> float | None:
    """Remaining seconds, extrapolated from the epochs done so far."""
    progress = run.progress or {}
    epoch, total = progress.get("epoch"), progress.get("total")
    if run.status != FitRun.Status.RUNNING or not run.started_at or not epoch or not total:
        return None
    elapsed = (run.heartbeat_at - run.started_at).total_seconds() if run.heartbeat_at else 0.0
    return max(0.0, elapsed / epoch * (total - epoch))
