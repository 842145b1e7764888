"""Seconds of the first dashboard, study upload and refit launch in a fresh web process, with and
without the start-up warm-up (pluralweb/startup.py), on SQLite with the demo study loaded.

Each (request, mode) runs in its own fresh process on its own copy of the same database, so each is
truly the first request of its process. "warm" waits for the warm-up thread first, as a server that
started a little before its first visitor; the warm-up's own time is printed apart.

    .venv/bin/python bench/first_requests.py
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
ACTIONS = ("dashboard", "upload", "launch")


def _env(var_dir: Path, warm: bool) -> dict:
    return {**os.environ, "PLURALWEB_VAR_DIR": str(var_dir), "DJANGO_DEBUG": "1",
            "DATABASE_URL": f"sqlite:///{var_dir / 'pluralweb.sqlite3'}",
            "CELERY_BROKER_URL": f"sqla+sqlite:///{var_dir / 'celery-broker.sqlite3'}",
            "ALLOWED_HOSTS": "testserver,localhost", "PLURALWEB_WARM_UP": "1" if warm else "0",
            "DJANGO_SETTINGS_MODULE": "pluralweb.settings", "LOG_LEVEL": "WARNING"}


def _study_file() -> bytes:
    lines = [{"study": {"slug": "fresh", "title": "Fresh", "group_attributes": {"party": ["D", "R"]},
                        "overlap": 3, "quota": 10, "consent": "ok"}}]
    lines += [{"prompt_id": f"q{p}", "turns": [{"role": "user", "content": f"A new question {p} at {time.time()}?"}],
               "candidates": [{"candidate_id": f"q{p}c{c}", "text": f"New answer {c} to {p}, {time.time()}."}
                              for c in range(4)]} for p in range(3)]
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def child(action: str) -> None:
    started = time.perf_counter()
    from pluralweb.wsgi import application  # noqa: F401 (starts the warm-up thread when it is on)

    warm_seconds = None
    import threading

    for thread in threading.enumerate():
        if thread.name == "pluralweb-warm-up":
            thread.join()
            warm_seconds = time.perf_counter() - started
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(username="admin"))
    began = time.perf_counter()
    if action == "dashboard":
        response = client.get("/studies/demo/dashboards/divergence/")
    elif action == "upload":
        response = client.post("/api/studies/", {"file": SimpleUploadedFile("fresh.jsonl", _study_file())})
    else:
        response = client.post("/studies/demo/models/launch/", {"kind": "pal", "k": "2"})
    seconds = time.perf_counter() - began
    print(json.dumps({"status": response.status_code, "seconds": seconds, "warm_up": warm_seconds}))


def main() -> None:
    base = Path(tempfile.mkdtemp(prefix="pw-first-"))
    seed = base / "seed"
    seed.mkdir()
    for command in (["migrate", "--no-input", "-v0"], ["load_demo"]):
        subprocess.run([PYTHON, "manage.py", *command], cwd=ROOT, env=_env(seed, False), check=True,
                       stdout=subprocess.DEVNULL)
    print("first request of a fresh process, seconds (2 shared CPU cores: figures are noisy)")
    print(f"{'request':<10} {'cold':>8} {'warm':>8} {'warm-up':>8}")
    for action in ACTIONS:
        row = {}
        for mode in ("cold", "warm"):
            var_dir = base / f"{action}-{mode}"
            shutil.copytree(seed, var_dir)
            out = subprocess.run([PYTHON, __file__, "--child", action], cwd=ROOT, env=_env(var_dir, mode == "warm"),
                                 check=True, capture_output=True, text=True).stdout
            row[mode] = json.loads(out.strip().splitlines()[-1])
            assert row[mode]["status"] in (200, 201, 302), row[mode]
        print(f"{action:<10} {row['cold']['seconds']:8.2f} {row['warm']['seconds']:8.2f} "
              f"{row['warm']['warm_up']:8.2f}")
    shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        sys.path.insert(0, str(ROOT))
        child(sys.argv[2])
    else:
        main()
