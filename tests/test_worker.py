"""A real Celery worker process, on the configured broker (Redis in CI), runs a task against the test database."""

import io
import os
import subprocess
import sys
import time
import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from annotation.assignment import pair_next_for_annotator
from annotation.models import Assignment, Slot
from annotation.tasks import assignments_expire
from tests.factories import make_participant, make_study
from tests.worker_process import ROOT, worker_database_url, worker_start, worker_stop


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


def _unique_import(slug: str):
    """A study whose texts no other test embedded: the cache cannot answer for the worker."""
    from annotation.study_files import study_import
    from tests.factories import jsonl_bytes, study_lines

    lines = study_lines(slug=slug, prompts=3, candidates=4, strategy="nc")
    for line in lines[1:]:
        for candidate in line["candidates"]:
            candidate["text"] += f" ({slug}-{uuid.uuid4().hex})"
    return study_import(jsonl_bytes(lines), source=f"{slug}.jsonl", on_worker=True)


def _wait_for_job(job, worker, seconds: float = 240):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and worker.poll() is None:
        job.refresh_from_db()
        if job.status in (job.Status.SUCCEEDED, job.Status.FAILED):
            break
        time.sleep(0.5)
    assert worker.poll() is None, "the worker process died"
    return job


@pytest.mark.worker
def test_a_real_worker_process_embeds_an_import_on_the_embeddings_queue_and_makes_its_pairs(worker):
    from annotation.models import Pair, PairingJob

    summary = _unique_import("emb")  # committed: on_commit has sent the job to the `embeddings` queue
    assert summary.job is not None and summary.pairs == 0
    assert PairingJob.objects.get(pk=summary.job.pk).enqueued_at is not None
    job = _wait_for_job(summary.job, worker)
    assert job.status == PairingJob.Status.SUCCEEDED, job.error
    assert (job.texts_done, job.texts_total, job.pairs_made) == (12, 12, 9) and job.worker
    assert Pair.objects.filter(prompt__study=summary.study).count() == 9
    assert Slot.objects.filter(study=summary.study).count() == 9 * summary.study.overlap


@pytest.mark.worker
def test_the_embeddings_queue_works_on_the_embedded_broker_scripts_run_uses(transactional_db, tmp_path):
    from annotation.models import PairingJob

    # The web process (here a fresh one, configured as scripts/run's) sends the job; a worker on the same
    # SQLite-file broker takes it. The import itself is made with the broker down, as a first run could be.
    broker = f"sqla+sqlite:///{tmp_path / 'celery-broker.sqlite3'}"
    with override_settings(CELERY_BROKER_URL="redis://127.0.0.1:9/0", CELERY_BROKER_TRANSPORT_OPTIONS={}):
        summary = _unique_import("embedded")
    assert PairingJob.objects.get(pk=summary.job.pk).enqueued_at is None
    env = {**os.environ, "DATABASE_URL": worker_database_url(), "CELERY_BROKER_URL": broker,
           "DJANGO_SETTINGS_MODULE": "pluralweb.settings_test"}
    sweep = "import django; django.setup()\nfrom annotation.pairing_jobs import pairing_jobs_sweep\n" \
            "assert pairing_jobs_sweep() == 1\n"
    done = subprocess.run([sys.executable, "-c", sweep], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    log = tmp_path / "worker.log"
    process = worker_start(log, broker_url=broker)
    try:
        job = _wait_for_job(summary.job, process)
    finally:
        worker_stop(process, log)
    assert job.status == PairingJob.Status.SUCCEEDED, job.error
