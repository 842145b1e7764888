"""A worker process killed (SIGKILL) in the middle of a fit: the run ends failed with the reason once its
heartbeat is FIT_STALE_AFTER_SECONDS old. Shortened settings keep the test fast; the test prints the time."""

import signal
import time

import pytest

from alignment.fits import fit_run_launch, fit_runs_fail_stale
from alignment.models import FitRun
from tests.alignment.fit_data import disagreeing_study
from tests.worker_process import worker_start, worker_stop

HEARTBEAT, STALE = 1, 4


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_fit_is_detected_once_its_heartbeat_is_stale(own_redis, settings, tmp_path):
    settings.CELERY_BROKER_URL = own_redis.url
    settings.FIT_HEARTBEAT_SECONDS, settings.FIT_STALE_AFTER_SECONDS = HEARTBEAT, STALE
    log = tmp_path / "worker.log"
    worker = worker_start(log, broker_url=own_redis.url,
                          env={"FIT_HEARTBEAT_SECONDS": str(HEARTBEAT), "FIT_STALE_AFTER_SECONDS": str(STALE)})
    try:
        run = fit_run_launch(study=disagreeing_study(prompts=6, annotators=12), kind="pal",
                             params={"k": 2, "max_epochs": 1000}, user=None)
        deadline = time.monotonic() + 180
        while run.status == FitRun.Status.QUEUED and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.05)
            run.refresh_from_db()
        assert run.status == FitRun.Status.RUNNING, f"the worker never started the run ({run.status})"
        worker.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        worker.wait()

        assert fit_runs_fail_stale() == 0  # a fresh heartbeat: not yet called dead
        while fit_runs_fail_stale() == 0 and time.monotonic() - killed < STALE + 30:
            time.sleep(0.2)
        detected = time.monotonic() - killed
        print(f"killed worker detected after {detected:.1f} s (heartbeat {HEARTBEAT} s, stale after {STALE} s)")
    finally:
        worker_stop(worker, log)
    run.refresh_from_db()
    assert run.status == FitRun.Status.FAILED and "stopped responding" in run.error
    assert not run.is_current
