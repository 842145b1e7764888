"""The embedded default broker (kombu's SQLAlchemy transport on SQLite, what scripts/run uses) takes launches.

Run in a fresh process with that broker configured, as scripts/run's web process would be: the settings
derive the broker's transport options from its URL, and Celery merges them into every connection."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from pluralweb.settings import broker_transport_options

ROOT = Path(__file__).resolve().parent.parent
PUBLISH = (
    "import django; django.setup()\n"
    "from alignment.broker import broker_check, task_publish\n"
    "broker_check(); task_publish('alignment.tasks.fit_run', args=[0])\n"
)


def test_a_launch_is_checked_and_published_on_the_embedded_broker(tmp_path):
    broker = tmp_path / "celery-broker.sqlite3"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "pluralweb.settings", "PLURALWEB_VAR_DIR": str(tmp_path),
           "CELERY_BROKER_URL": f"sqla+sqlite:///{broker}", "SECRET_KEY": "test", "ALLOWED_HOSTS": "localhost"}
    done = subprocess.run([sys.executable, "-c", PUBLISH], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert sqlite3.connect(broker).execute("SELECT count(*) FROM kombu_message").fetchone()[0] == 1


def test_only_redis_gets_socket_timeouts():
    assert broker_transport_options("redis://127.0.0.1:6379/0", 3) == {"socket_timeout": 3,
                                                                       "socket_connect_timeout": 3}
    assert broker_transport_options("sqla+sqlite:///var/broker.sqlite3", 3) == {}


@pytest.mark.worker
def test_a_refit_launched_by_the_command_runs_on_a_real_worker_on_the_embedded_broker(transactional_db, tmp_path):
    # The two-command path end to end: scripts/run's broker (sqla+sqlite, no server), a real worker process
    # consuming it, and `refit --wait` from another process publishing to it, as an operator would.
    from alignment.models import FitRun
    from tests.alignment.fit_data import disagreeing_study
    from tests.worker_process import worker_database_url, worker_start, worker_stop

    study = disagreeing_study(slug="embedded", prompts=6, annotators=12)
    broker = f"sqla+sqlite:///{tmp_path / 'celery-broker.sqlite3'}"
    log = tmp_path / "worker.log"
    worker = worker_start(log, broker_url=broker)
    try:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "pluralweb.settings_test", "CELERY_BROKER_URL": broker,
               "DATABASE_URL": worker_database_url(), "PLURALWEB_VAR_DIR": str(tmp_path)}
        done = subprocess.run(
            [sys.executable, "manage.py", "refit", "embedded", "--kind", "pal", "--k", "2", "--max-epochs", "3",
             "--wait"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        assert worker.poll() is None, "the worker process died"
    finally:
        worker_stop(worker, log)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "succeeded: seen accuracy" in done.stdout
    run = FitRun.objects.get(study=study)
    assert run.status == FitRun.Status.SUCCEEDED and run.is_current
