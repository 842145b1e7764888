"""The embedded default broker (kombu's SQLAlchemy transport on SQLite, what scripts/run uses) takes launches.

Run in a fresh process with that broker configured, as scripts/run's web process would be: the settings
derive the broker's transport options from its URL, and Celery merges them into every connection."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

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
