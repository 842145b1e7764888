"""Refit jobs: launch, execute, cancel, and the failure rules (DESIGN.md section 3, FitRun).

The FitRun row is the truth about a job. A run becomes the *current* model of its kind only when it
succeeds, in the same transaction that retires the previous one, so a failed, cancelled or dead run
never replaces what serves requests.
"""

import importlib
import logging
import traceback
from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import DatabaseError, transaction
from django.utils import timezone

from alignment.broker import broker_check, task_publish
from alignment.fit_params import fit_params_clean
from alignment.fit_runner import FitCancelled, FitOutcome, FitProgress
from alignment.metrics_json import non_finite_number
from alignment.models import FitRun
from alignment.training_set import training_snapshot
from annotation.counted_judgments import judgments_that_count
from annotation.errors import Conflict, InputError, Unavailable
from annotation.heartbeats import heartbeat_while_running
from annotation.models import Study

log = logging.getLogger(__name__)

FIT_RUN_TASK = "alignment.tasks.fit_run"  # routed to the `fits` queue (settings.CELERY_TASK_ROUTES)
# kind -> "module:function" of its runner; imported lazily so this module stays light for the web process.
RUNNERS = {FitRun.Kind.PAL: "alignment.pal_refit:run_pal_fit", FitRun.Kind.SPICA: "alignment.spica_refit:run_spica_fit"}


def _runner(kind: str) -> Callable[..., FitOutcome]:
    target = RUNNERS.get(kind)
    if target is None:
        raise InputError(f"unknown fit kind {kind!r} (one of {', '.join(RUNNERS)})", field="kind")
    module, name = target.split(":")
    return getattr(importlib.import_module(module), name)


def fit_run_launch(*, study: Study, kind: str, params: dict, user: AbstractBaseUser | None) -> FitRun:
    """Create a queued run and hand it to a worker once the row is committed."""
    clean = fit_params_clean(kind, params)
    broker_check()
    with transaction.atomic():
        snapshot = training_snapshot(study=study)
        run = FitRun.objects.create(
            study=study, kind=kind, params=clean, launched_by=user if user and user.is_authenticated else None,
            judgment_count=snapshot.judgment_count, last_judgment_id=snapshot.last_judgment_id,
            last_rating_id=snapshot.last_rating_id,
        )
        transaction.on_commit(lambda: fit_run_enqueue(run.pk))
    run.refresh_from_db()
    if run.status == FitRun.Status.FAILED:
        raise Unavailable(run.error, code="broker_unavailable")
    return run


def fit_run_enqueue(run_id: int) -> None:
    """Hand a queued run to the `fits` queue; a broker that fails or froze meanwhile fails the run at once."""
    try:
        task_publish(FIT_RUN_TASK, args=[run_id])
    except Unavailable as exc:
        FitRun.objects.filter(pk=run_id, status=FitRun.Status.QUEUED).update(
            status=FitRun.Status.FAILED, error=exc.message, finished_at=timezone.now()
        )


def _claim(run_id: int, worker: str) -> FitRun | None:
    with transaction.atomic():
        run = FitRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status != FitRun.Status.QUEUED:
            return None  # cancelled before it started, or redelivered after a worker died
        if run.cancel_requested:
            _finish(run, FitRun.Status.CANCELLED, error="cancelled before it started")
            return None
        now = timezone.now()
        run.status, run.started_at, run.heartbeat_at, run.worker = FitRun.Status.RUNNING, now, now, worker
        run.save(update_fields=["status", "started_at", "heartbeat_at", "worker"])
        return run


def _finish(run: FitRun, status: str, *, error: str = "") -> None:
    run.status, run.error, run.finished_at = status, error, timezone.now()
    run.save(update_fields=["status", "error", "finished_at"])


def fit_run_execute(*, run_id: int, worker: str = "") -> FitRun | None:
    """Run a queued job to its end state; the task's whole body."""
    run = _claim(run_id, worker)
    if run is None:
        return FitRun.objects.filter(pk=run_id).first()
    running = FitRun.objects.filter(pk=run.pk, status=FitRun.Status.RUNNING)
    with heartbeat_while_running(running, every=settings.FIT_HEARTBEAT_SECONDS, what=f"fit run {run.pk}"):
        try:
            outcome = _runner(run.kind)(run, FitProgress(run.pk))
        except FitCancelled:
            _finish(run, FitRun.Status.CANCELLED, error="cancelled by an admin")
        except Exception as exc:
            log.exception("fit run %s failed", run.pk)
            detail = "".join(traceback.format_exception(exc, limit=-4))
            _finish(run, FitRun.Status.FAILED, error=f"{type(exc).__name__}: {exc}\n\n{detail}"[:20000])
        else:
            _store_outcome(run, outcome)
    run.refresh_from_db()
    return run


def _store_outcome(run: FitRun, outcome: FitOutcome) -> None:
    # Checked before the write: JSON (and jsonb) cannot hold NaN or infinity, and a refused write must end
    # the run now with the reason, not leave it running until the stale check calls the worker dead.
    bad = non_finite_number(outcome.metrics, "metrics")
    if bad is not None:
        _finish(run, FitRun.Status.FAILED, error=f"the fit's metrics cannot be stored: {bad} (not a finite number)")
        return
    try:
        _succeed(run, outcome)
    except DatabaseError as exc:
        log.exception("fit run %s: storing its outcome failed", run.pk)
        _finish(run, FitRun.Status.FAILED, error=f"the fit's outcome could not be stored: {exc}"[:20000])


@transaction.atomic
def _succeed(run: FitRun, outcome: FitOutcome) -> None:
    FitRun.objects.select_for_update().filter(study=run.study_id, kind=run.kind, is_current=True).update(
        is_current=False
    )
    run.metrics, run.artifact_path, run.is_current = outcome.metrics, outcome.artifact_path, True
    run.status, run.finished_at = FitRun.Status.SUCCEEDED, timezone.now()
    if outcome.judgment_count is not None:
        run.judgment_count = outcome.judgment_count
    run.save(update_fields=["metrics", "artifact_path", "is_current", "status", "finished_at", "judgment_count"])


def fit_run_cancel(*, run: FitRun) -> FitRun:
    with transaction.atomic():
        run = FitRun.objects.select_for_update().get(pk=run.pk)
        if run.finished:
            raise Conflict(f"run {run.pk} already {run.status}", code="run_finished")
        run.cancel_requested = True
        run.save(update_fields=["cancel_requested"])
        if run.status == FitRun.Status.QUEUED:
            _finish(run, FitRun.Status.CANCELLED, error="cancelled before it started")
    return run


def fit_runs_fail_stale(*, now: datetime | None = None) -> int:
    """Runs that will never finish end failed, with the reason: a running run whose worker stopped beating
    (killed, out of memory, machine lost), and a queued run no worker started (its message was lost)."""
    now = now or timezone.now()
    running = FitRun.objects.filter(
        status=FitRun.Status.RUNNING, heartbeat_at__lt=now - timedelta(seconds=settings.FIT_STALE_AFTER_SECONDS))
    queued = FitRun.objects.filter(
        status=FitRun.Status.QUEUED, created_at__lt=now - timedelta(seconds=settings.FIT_QUEUED_STALE_SECONDS))
    count = 0
    for run in running:
        count += _fail_if_still(run, FitRun.Status.RUNNING,
                                f"the worker stopped responding (last heartbeat {run.heartbeat_at.isoformat()})")
    for run in queued:
        count += _fail_if_still(run, FitRun.Status.QUEUED,
                                f"no worker started it within {settings.FIT_QUEUED_STALE_SECONDS} s of its launch "
                                "(its message was lost, or no worker serves the `fits` queue)")
    return count


def _fail_if_still(run: FitRun, status: str, error: str) -> int:
    # Conditional on the status read: a worker that claims or finishes the run meanwhile wins.
    return FitRun.objects.filter(pk=run.pk, status=status).update(
        status=FitRun.Status.FAILED, error=error, finished_at=timezone.now())


def fit_runs_due(*, kind: str = FitRun.Kind.PAL) -> list[FitRun]:
    """Launch a refit for every study whose `refit_every` new judgments have arrived since its last run.

    Counting from the last run that a worker started, whatever its outcome, means a failing configuration
    is retried only after that many more judgments, not every minute.
    """
    fit_runs_fail_stale()  # a lost queued run must not hold the next launch back
    launched = []
    for study in Study.objects.filter(refit_every__isnull=False, is_open=True):
        runs = FitRun.objects.filter(study=study, kind=kind)
        if runs.filter(status__in=[FitRun.Status.QUEUED, FitRun.Status.RUNNING]).exists():
            continue
        # A run that failed before any worker started it (broker down, message lost) says nothing
        # about the configuration: it does not restart the count.
        tried = runs.exclude(status=FitRun.Status.FAILED, started_at__isnull=True)
        last = tried.order_by("-created_at").first()
        new = judgments_that_count(study=study)
        if last is not None and last.last_judgment_id is not None:
            new = new.filter(id__gt=last.last_judgment_id)
        if new.count() < study.refit_every:
            continue
        previous = runs.filter(status=FitRun.Status.SUCCEEDED).order_by("-created_at").first()
        try:
            launched.append(fit_run_launch(study=study, kind=kind, params=previous.params if previous else {},
                                           user=None))
        except Unavailable:
            log.warning("periodic refit of %s not launched: the broker is unreachable", study.slug)
    return launched
