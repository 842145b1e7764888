"""Live conversation round trip (issue 13): from the annotator's submit of a turn's best response to the next turn's
set being ready, with the endpoint's own time taken out. A real Celery worker serves the `generation` queue; the
endpoint is the local chat-completions server of the tests (tests/chat_server.py), answering at once or after a
fixed delay; the calls go through the REST API (Django's test client, in this process, on PostgreSQL).

Per turn: t0 before POST .../turns/<n>/judgment/; then POST .../turns/ (the next user turn) queues the generation;
the worker claims it, calls the endpoint, stores prompt, candidates and set and marks it done (finished_at).
Overhead = finished_at - t0 - endpoint_seconds (what the endpoint took, measured by the worker around its call),
i.e. two API calls, the commit, the broker hop, the worker's claim and the atomic store.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pw CELERY_BROKER_URL=redis://127.0.0.1:6379/13 \\
        .venv/bin/python bench/conversation_loop.py [--conversations 5] [--turns 3] [--delay 0 --delay 0.5]
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from bench.pg_setup import database_drop, django_on_scratch_database  # noqa: E402


def worker_start(env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "pluralweb", "worker", "--pool=solo", "--loglevel=WARNING",
         "--without-gossip", "--without-mingle", "-Q", "generation", "-n", f"bench-{os.getpid()}@%h"],
        cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)


def wait_done(generation, seconds: float = 60.0):
    from annotation.models import TurnGeneration

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        generation.refresh_from_db()
        if generation.status in (TurnGeneration.Status.DONE, TurnGeneration.Status.FAILED):
            if generation.status == TurnGeneration.Status.FAILED:
                raise SystemExit(f"generation failed: {generation.error}")
            return generation
        time.sleep(0.005)
    raise SystemExit("the worker did not finish a generation in time (see the worker log)")


def run(delay: float, conversations: int, turns: int, server) -> list[tuple[float, ...]]:
    """(round trip, endpoint, overhead, submit -> queued, queued -> claimed, claimed -> stored less the endpoint)
    in seconds, of every turn after the first."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from annotation.models import Participant, Study, TurnGeneration

    server.delay = max(delay, 0.0)  # -1 names the warm-up round
    study = Study.objects.get(slug="convbench")
    rows = []
    for c in range(conversations):
        user = get_user_model().objects.create_user(f"bench-{delay}-{c}")
        Participant.objects.create(study=study, user=user, external_id=user.username, attributes={"party": "D"},
                                   group_key="party=D")
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
        body = api.post("/api/studies/convbench/conversations/", {"prompt": f"Opening question {c}?"},
                        format="json").json()
        url = f"/api/conversations/{body['id']}/"
        started = timezone.now()  # reset at each submit below
        for turn in range(1, turns + 1):
            generation = wait_done(TurnGeneration.objects.get(conversation_id=body["id"], turn=turn))
            if turn > 1:
                took = (generation.finished_at - started).total_seconds()
                rows.append((took, generation.endpoint_seconds, took - generation.endpoint_seconds,
                             (generation.queued_at - started).total_seconds(),
                             (generation.started_at - generation.queued_at).total_seconds(),
                             (generation.finished_at - generation.started_at).total_seconds()
                             - generation.endpoint_seconds))
            best = api.get(url).json()["turns"][-1]["responses"][0]["candidate_id"]
            started = timezone.now()
            answer = api.post(f"{url}turns/{turn}/judgment/", {"best": best, "client_id": f"{user.pk}-{turn}"},
                              format="json")
            assert answer.status_code == 201, answer.json()
            if turn < turns:
                answer = api.post(f"{url}turns/", {"prompt": f"Follow-up {turn + 1}?"}, format="json")
                assert answer.status_code == 201, answer.json()
    return rows


def ms(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--conversations", type=int, default=5)
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--delay", type=float, action="append", help="endpoint delay in seconds (repeatable)")
    args = parser.parse_args()
    delays = args.delay or [0.0, 0.5]
    database = django_on_scratch_database("_convbench", ROOT)
    from tests.chat_server import ChatServer

    server = ChatServer().start()
    env = {**os.environ, "NC_GENERATION_URL": server.url, "NC_GENERATION_MODEL": "bench-model",
           "NC_GENERATION_TIMEOUT": "30"}
    log = ROOT / "var" / "bench-conversation-worker.log"
    log.parent.mkdir(exist_ok=True)
    worker = worker_start(env, log)
    try:
        from annotation.models import Study

        Study.objects.create(slug="convbench", title="bench", consent="ok", group_attributes={"party": ["D", "R"]},
                             task=Study.Task.CONVERSATION, max_turns=args.turns, quota=1000)
        run(-1.0, 1, 2, server)  # warm-up: the worker's first task imports and connects
        print(f"{args.conversations} conversations x {args.turns} turns per endpoint delay; a real worker on "
              "`generation` (solo pool); times submit -> next set ready")
        for delay in delays:
            rows = run(delay, args.conversations, args.turns, server)
            trips, endpoint, overhead, api, pickup, store = ([r[i] for r in rows] for i in range(6))
            print(f"delay {delay:.2f} s: {len(rows)} turns, round trip p50 {ms(trips, .5):.0f} ms p95 "
                  f"{ms(trips, .95):.0f} ms; endpoint p50 {ms(endpoint, .5):.0f} ms; overhead without the endpoint "
                  f"p50 {ms(overhead, .5):.0f} ms p95 {ms(overhead, .95):.0f} ms mean "
                  f"{1000 * statistics.fmean(overhead):.0f} ms; of it (p50) submit + next turn -> queued "
                  f"{ms(api, .5):.0f} ms, queued -> claimed by the worker {ms(pickup, .5):.0f} ms, call + store "
                  f"less the endpoint {ms(store, .5):.0f} ms")
    finally:
        worker.terminate()
        worker.wait(timeout=20)
        server.stop()
        from django.db import connections

        connections.close_all()
        database_drop(database)


if __name__ == "__main__":
    main()
