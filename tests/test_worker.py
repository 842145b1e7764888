"""A real Celery worker process, on the configured broker (Redis in CI), runs a task against the test database."""

import io
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from annotation.assignment import pair_next_for_annotator
from annotation.models import Assignment, Slot
from annotation.tasks import assignments_expire
from tests.factories import make_participant, make_study

ROOT = Path(__file__).resolve().parent.parent


def _test_database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


@pytest.fixture
def worker(transactional_db, tmp_path):
    env = {**os.environ, "DATABASE_URL": _test_database_url(), "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
           "DJANGO_SETTINGS_MODULE": "pluralweb.settings_test"}
    log = (tmp_path / "worker.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "pluralweb", "worker", "--pool=solo", "--loglevel=INFO",
         "--without-gossip", "--without-mingle", "-Q", "celery,fits", "-n", f"test-{os.getpid()}@%h"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    yield process
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()
    print((tmp_path / "worker.log").read_text()[-3000:])


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
