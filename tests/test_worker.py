"""A real Celery worker process, on the configured broker (Redis in CI), runs a task against the test database."""

import io
import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from annotation.assignment import pair_next_for_annotator
from annotation.models import Assignment, Slot
from annotation.tasks import assignments_expire
from tests.factories import make_participant, make_study
from tests.worker_process import worker_start, worker_stop


@pytest.fixture
def worker(transactional_db, tmp_path):
    log = tmp_path / "worker.log"
    process = worker_start(log, broker_url=settings.CELERY_BROKER_URL)
    yield process
    worker_stop(process, log)


@pytest.mark.worker
def test_a_real_worker_process_expires_stale_leases(worker, django_user_model):
    study = make_study(prompts=1, candidates=2)
    participant = make_participant(study, django_user_model.objects.create_user("w"))
    lease = pair_next_for_annotator(participant=participant)
    past = timezone.now() - timedelta(minutes=1)
    Assignment.objects.filter(pk=lease.assignment_id).update(created_at=past - timedelta(minutes=10), expires_at=past)
    Slot.objects.filter(pk=lease.slot_id).update(lease_expires_at=past)

    assignments_expire.delay()

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and worker.poll() is None:
        if Assignment.objects.get(pk=lease.assignment_id).status == Assignment.Status.EXPIRED:
            break
        time.sleep(0.5)
    assert worker.poll() is None, "the worker process died"
    assert Assignment.objects.get(pk=lease.assignment_id).status == Assignment.Status.EXPIRED
    assert Slot.objects.get(pk=lease.slot_id).status == Slot.Status.OPEN


@pytest.mark.worker
def test_a_real_worker_process_runs_a_refit_to_success(worker, django_user_model):
    from alignment.fits import fit_run_launch
    from alignment.models import FitRun
    from tests.alignment.fit_data import disagreeing_study

    study = disagreeing_study(prompts=6, annotators=12)
    run = fit_run_launch(study=study, kind="pal", params={"k": 2, "max_epochs": 4}, user=None)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and worker.poll() is None:
        run.refresh_from_db()
        if run.finished:
            break
        time.sleep(1)
    assert worker.poll() is None, "the worker process died"
    assert run.status == FitRun.Status.SUCCEEDED, run.error
    assert run.is_current and run.worker and run.metrics["k"] == 2


@pytest.mark.worker
def test_the_refit_command_waits_for_the_worker_and_reports_the_result(worker):
    from django.core.management import call_command

    from tests.alignment.fit_data import disagreeing_study

    disagreeing_study(slug="cmd", prompts=6, annotators=12)
    out = io.StringIO()
    call_command("refit", "cmd", "--kind", "pal", "--k", "2", "--max-epochs", "3", "--wait", stdout=out)
    assert "succeeded: seen accuracy" in out.getvalue()
