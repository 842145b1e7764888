"""Reads about fit runs."""

from datetime import datetime

from django.utils import timezone

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
    """Remaining seconds of training, extrapolated from the time the epochs done so far took; None once
    training stopped (early stopping or the last epoch) and the run evaluates, or before the first epoch."""
    progress = run.progress or {}
    epoch, total = progress.get("epoch"), progress.get("total")
    if run.status != FitRun.Status.RUNNING or not run.started_at or not epoch or not total:
        return None
    if progress.get("phase") or epoch >= total:
        return None
    last = _when(progress.get("updated_at")) or run.heartbeat_at or timezone.now()
    return max(0.0, (last - run.started_at).total_seconds() / epoch * (total - epoch))


def _when(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
