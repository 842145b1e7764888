"""A real Celery worker process on the test database and a given broker."""

import os
import subprocess
import sys
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def worker_database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or "postgres"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{user}{password}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


def worker_start(log_path: Path, *, broker_url: str, env: dict | None = None) -> subprocess.Popen:
    full_env = {**os.environ, "DATABASE_URL": worker_database_url(), "CELERY_BROKER_URL": broker_url,
                "DJANGO_SETTINGS_MODULE": "pluralweb.settings_test", **(env or {})}
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "pluralweb", "worker", "--pool=solo", "--loglevel=INFO",
         "--without-gossip", "--without-mingle", "-Q", "celery,fits,embeddings,generation",
         "-n", f"test-{os.getpid()}@%h"],
        cwd=ROOT, env=full_env, stdout=log_path.open("w"), stderr=subprocess.STDOUT,
    )


def worker_stop(process: subprocess.Popen, log_path: Path) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    print(log_path.read_text()[-3000:])
