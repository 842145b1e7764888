"""Load benchmark of the annotation loop: N annotators doing next -> submit over HTTP.

The app runs under a production WSGI server (Granian by default, gunicorn with --server gunicorn) on
PostgreSQL; the annotators are threads here, each with its own keep-alive connection spoken over a plain
socket, so the load generator spends its time blocked in sockets and leaves the CPU to the server.
Prints judgments/s, next/submit latency percentiles and error counts, then checks the stored judgments
against the database.

    .venv/bin/python bench/annotation_loop.py --annotators 32 --seconds 20 [--server gunicorn] [--json] [--drop]

With --task set the same server also runs a set study (issue 13: best of 4, POST /api/set-judgments/), after the
pair study and with the same annotators and seconds, and prints the two side by side with comparisons/s (a set
judgment of 4 with a best only states 3 comparisons).

Everything stays on 127.0.0.1: the server binds to loopback and the database is local.
"""

import argparse
import http.client
import json
import math
import os
import random
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from pg_setup import PG_ADMIN_DSN, bench_env, database_drop, database_recreate

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
SLUG = "bench"
SET_SLUG = "bench-sets"
SET_SIZE = 4
PARTIES = ("D", "R")
CHOICES = ("A", "B", "tie")
_ERROR_PAUSE = 0.05  # after a failed request, so that a dead server is not hammered in a tight loop
# Distinct candidate texts, reused across prompts: import embeds each distinct text once, so setup
# costs seconds however many prompts the run needs.
TEXT_POOL = [
    f"Answer {i}: on balance the policy should {verb} because of its effect on {topic}."
    for i, (verb, topic) in enumerate(
        (verb, topic)
        for verb in ("be adopted", "be rejected", "be delayed", "be amended", "be put to a vote")
        for topic in ("families", "small firms", "public budgets", "the environment", "civil liberties", "schools")
    )
]


# (workers, threads) per server, the best measured on the 2-core machine with PostgreSQL beside it.
# Granian: one process (HTTP in Rust threads, the app in 16 Python threads) did 340 judgments/s; two
# processes split the 32 keep-alive connections unevenly (12/20) and did less. gunicorn gthread: two
# workers of 8 threads, each capped at its share of the connections (see server_command).
SERVERS = {"granian": (1, 16), "gunicorn": (2, 8)}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--annotators", type=int, default=32, help="simulated annotators (threads)")
    parser.add_argument("--seconds", type=float, default=20.0, help="time budget of the annotation loop")
    parser.add_argument("--server", choices=sorted(SERVERS), default="granian", help="WSGI server")
    parser.add_argument("--workers", type=int, help="server worker processes (default: the server's row in SERVERS)")
    parser.add_argument("--threads", type=int, help="threads per worker; with gunicorn 1 means sync workers")
    parser.add_argument("--prompts", type=int, default=600, help="prompts in the generated study")
    parser.add_argument("--candidates", type=int, default=4, help="candidates per prompt (all pairs)")
    parser.add_argument("--overlap", type=int, default=3, help="judgments wanted per pair (k)")
    parser.add_argument("--quota", type=int, default=100_000, help="judgments allowed per annotator")
    parser.add_argument("--database", default="pluralweb_bench", help="database to (re)create")
    parser.add_argument("--seed", type=int, default=1, help="seed of the annotators' random choices")
    parser.add_argument("--allocation", choices=["uniform", "adaptive"], default="uniform",
                        help="study allocation (adaptive: k_max = 3k slots per pair, priorities, early stops)")
    parser.add_argument("--gold-rate", type=float, default=0.0, help="study gold_rate (share of gold pairs served)")
    parser.add_argument("--gold", type=int, default=200, help="gold items in the study when --gold-rate is set")
    parser.add_argument("--task", choices=["pair", "set"], default="pair",
                        help="set: also run a set study (best of 4) after the pair study and compare the two")
    parser.add_argument("--set-prompts", type=int, help="prompts of the set study (default 6 x --prompts: one set "
                                                        "each, as many tasks as the pair study's 6 pairs a prompt)")
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON line")
    parser.add_argument("--drop", action="store_true", help="drop the database at the end")
    args = parser.parse_args(argv)
    default_workers, default_threads = SERVERS[args.server]
    args.workers = default_workers if args.workers is None else args.workers
    args.threads = default_threads if args.threads is None else args.threads
    args.set_prompts = args.set_prompts or 6 * args.prompts
    if args.annotators < 1 or args.workers < 1 or args.threads < 1 or args.seconds <= 0:
        parser.error("--annotators, --workers, --threads and --seconds must be positive")
    return args


# --- setup -------------------------------------------------------------------------------------


def database_analyze(name: str) -> None:
    # The import bulk-inserts thousands of slots; until autovacuum analyses them (up to a minute
    # later) the planner thinks the table is empty and `next` sorts every open slot (~35 ms a call).
    # A deployment reaches the analysed state on its own, so the benchmark measures that state.
    with psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={name}", autocommit=True) as conn:
        conn.execute("ANALYZE")


def study_file_write(path: Path, args: argparse.Namespace, *, task: str = "pair") -> None:
    """A study file (docs/formats.md): the header line, then one prompt a line. A set study has one set of
    SET_SIZE candidates a prompt ("all" of 4 candidates: one 4-subset)."""
    sets = task == "set"
    prompts, n_candidates = (args.set_prompts, SET_SIZE) if sets else (args.prompts, args.candidates)
    header = {"study": {
        "slug": SET_SLUG if sets else SLUG, "title": "Benchmark study", "group_attributes": {"party": list(PARTIES)},
        "overlap": args.overlap, "quota": args.quota, "consent": "I agree.", "pair_strategy": "all",
        # The simulated annotators answer at random: screening would stop them after a few gold items.
        "gold_rate": args.gold_rate, "screen_min_gold": 1000, "allocation": args.allocation,
    }}
    if sets:
        header["study"].update(task="set", set_size=SET_SIZE, gold_rate=0.0, allocation="uniform")
    with path.open("w") as out:
        out.write(json.dumps(header) + "\n")
        for p in range(prompts):
            candidates = [
                {"candidate_id": f"p{p}c{c}", "text": TEXT_POOL[(p * n_candidates + c) % len(TEXT_POOL)]}
                for c in range(n_candidates)
            ]
            turns = [{"role": "user", "content": f"Question {p}: what should be done about policy {p}?"}]
            out.write(json.dumps({"prompt_id": f"p{p}", "turns": turns, "candidates": candidates}) + "\n")
        # Attention checks on the first prompts' candidates (pair studies: gold items are pairs).
        for g in range(args.gold if args.gold_rate and not sets else 0):
            p = g % args.prompts
            gold = {"prompt_id": f"p{p}", "a": f"p{p}c{g // args.prompts}", "b": f"p{p}c{g // args.prompts + 1}",
                    "expected": "A"}
            out.write(json.dumps({"gold": gold}) + "\n")


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(VENV_BIN / "python"), "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout.strip()


# --- server ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_command(args: argparse.Namespace, port: int) -> list[str]:
    if args.server == "granian":
        return [
            str(VENV_BIN / "granian"), "--interface", "wsgi", "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(args.workers), "--blocking-threads", str(args.threads), "--http", "1", "--no-ws",
            "--log-level", "warning", "pluralweb.wsgi:application",
        ]
    return [
        str(VENV_BIN / "gunicorn"), "pluralweb.wsgi:application",
        "--bind", f"127.0.0.1:{port}",
        "--workers", str(args.workers), "--threads", str(args.threads),
        "--worker-class", "sync" if args.threads == 1 else "gthread",
        # Keep idle keep-alive connections longer than gthread's 2 s default: an overloaded worker
        # otherwise closes connections whose next request it has not read yet.
        "--keep-alive", "30", "--log-level", "warning",
        # The annotators connect at once and keep their connections: uncapped, one worker accepted 27 of
        # the 32 (their latency 87 ms against 23 ms on the other). The cap is each worker's share.
        "--worker-connections", str(math.ceil(args.annotators / args.workers)),
        # Import Django once in the master: workers fork ready, so their CPU counters hold only requests.
        "--preload",
    ]


def server_start(env: dict[str, str], command: list[str], *, log: Path) -> subprocess.Popen:
    with log.open("w") as out:  # the child keeps its own descriptor
        # A new session, so that stopping it can signal the master without touching this process.
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)


def healthz_wait(port: int, server: subprocess.Popen, *, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with status {server.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            answer = conn.getresponse()
            # A deployed server is past its start-up warm-up (the model load) long before traffic: wait
            # for it, or its seconds of CPU would land inside the measured run.
            if answer.status == 200 and json.loads(answer.read()).get("warm", True):
                return
        except OSError:
            pass  # not listening yet
        time.sleep(0.2)
    raise RuntimeError(f"the server did not answer /healthz within {timeout:.0f} s")


def server_stop(server: subprocess.Popen) -> None:
    if server.poll() is not None:
        return
    server.send_signal(signal.SIGTERM)  # graceful: the master stops its workers
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def _proc_cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def server_cpu(server: subprocess.Popen, database: str) -> dict[tuple[str, int], float]:
    """CPU seconds so far of the server's processes ("app", pid: its master and workers) and of each
    PostgreSQL backend of the bench database ("db", pid).

    CPU per judgment is the figure that other work on a shared machine disturbs least: throughput is
    at most (cores x 1000) / (server CPU ms per judgment)."""
    pids = [server.pid]
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat") as stat:
                    if int(stat.read().rpartition(")")[2].split()[1]) == server.pid:
                        pids.append(int(entry.name))
            except OSError:
                continue  # the process ended meanwhile
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [database]
        ).fetchall()
    usage = {}
    for key in [("app", pid) for pid in pids] + [("db", row[0]) for row in rows]:
        try:
            usage[key] = _proc_cpu_seconds(key[1])
        except OSError:
            continue
    return usage


# --- annotators --------------------------------------------------------------------------------


@dataclass
class AnnotatorResult:
    """What one annotator saw; each thread owns one, so recording needs no lock."""

    next_ms: list[float] = field(default_factory=list)
    submit_ms: list[float] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    judgments: int = 0
    replays: int = 0  # submits answered 200: the judgment was already stored (a resent request)
    reconnects: int = 0
    server_closes: int = 0
    finished: bool = False  # got 204: quota met or nothing left


class Client:
    """One annotator's keep-alive HTTP/1.1 connection, spoken over a plain socket.

    The load generator shares the machine's two cores with the server it measures; http.client spent
    about 0.4 ms of CPU a request (most of it parsing headers with the email package), this about a
    quarter of that, which leaves that much more to the server. Sync gunicorn workers close the
    connection after each response; the next request then reconnects."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock: socket.socket | None = None
        self.buffer = b""
        self.headers = {"Content-Type": "application/json"}
        self.reconnects = 0
        self.server_closes = 0  # responses that ended the connection ("Connection: close")

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock, self.buffer = None, b""

    def post(self, path: str, body: dict | None = None) -> tuple[int, dict | None, float]:
        """(status, decoded body or None, milliseconds)."""
        payload = json.dumps(body or {}).encode()
        head = "".join(f"{name}: {value}\r\n" for name, value in self.headers.items())
        request = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(payload)}\r\n{head}\r\n"
                   .encode() + payload)
        start = time.perf_counter()
        reused = self.sock is not None
        try:
            status, content_type, raw, keep = self._exchange(request)
        except (ConnectionError, TimeoutError):
            if not reused:
                raise
            # The server closed an idle keep-alive connection under us. Resending is safe, as a browser
            # would: `next` returns the live lease and a resent submit replays its client_id.
            self.reconnects += 1
            status, content_type, raw, keep = self._exchange(request)
        elapsed = (time.perf_counter() - start) * 1000
        if not keep:
            self.server_closes += 1
            self.close()
        is_json = content_type.startswith("application/json")
        return status, json.loads(raw) if raw and is_json else None, elapsed

    def _exchange(self, request: bytes) -> tuple[int, str, bytes, bool]:
        try:
            if self.sock is None:
                self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
                self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sock.sendall(request)
            while b"\r\n\r\n" not in self.buffer:
                self._receive()
            head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            status = int(lines[0].split(" ", 2)[1])
            fields = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                fields[name.strip().lower()] = value.strip()
            if "chunked" in fields.get("transfer-encoding", ""):
                raise ConnectionError("chunked responses are not expected from the annotation API")
            length = int(fields.get("content-length", "0"))
            while len(self.buffer) < length:
                self._receive()
            raw, self.buffer = self.buffer[:length], self.buffer[length:]
            return status, fields.get("content-type", ""), raw, fields.get("connection", "").lower() != "close"
        except (OSError, ValueError, IndexError):
            self.close()  # the next request starts on a fresh connection
            raise

    def _receive(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionResetError("the server closed the connection")
        self.buffer += chunk


def annotator_join(client: Client, party: str, slug: str = SLUG) -> None:
    status, body, _ = client.post(f"/api/studies/{slug}/join/", {"consent": True, "attributes": {"party": party}})
    if status != 201 or body is None:
        raise RuntimeError(f"join answered {status}: {body}")
    client.headers["Authorization"] = f"Token {body['token']}"


def pair_submit(body: dict, rng: random.Random) -> tuple[str, dict]:
    return "/api/judgments/", {"assignment": body["assignment_id"], "choice": rng.choice(CHOICES),
                               "client_id": uuid.uuid4().hex}


def set_submit(body: dict, rng: random.Random) -> tuple[str, dict]:
    """The best of the set only: SET_SIZE - 1 comparisons."""
    best = rng.choice(body["candidates"])["candidate_id"]
    return "/api/set-judgments/", {"assignment": body["assignment_id"], "best": best, "client_id": uuid.uuid4().hex}


def annotator_loop(client: Client, result: AnnotatorResult, *, deadline: float, max_judgments: int,
                   rng: random.Random, slug: str = SLUG,
                   submit_of: Callable[[dict, random.Random], tuple[str, dict]] = pair_submit) -> None:
    """next -> submit until 204, the quota or the deadline."""
    while time.perf_counter() < deadline and result.judgments < max_judgments:
        try:
            status, body, ms = client.post(f"/api/studies/{slug}/next/")
        except (OSError, ValueError) as exc:
            result.errors[f"next {type(exc).__name__}"] += 1
            time.sleep(_ERROR_PAUSE)
            continue
        if status == 204:
            result.finished = True
            return
        result.next_ms.append(ms)
        if status != 200 or body is None:
            result.errors[f"next {status}"] += 1
            time.sleep(_ERROR_PAUSE)
            continue
        path, submit = submit_of(body, rng)
        try:
            status, _, ms = client.post(path, submit)
        except (OSError, ValueError) as exc:
            result.errors[f"submit {type(exc).__name__}"] += 1
            time.sleep(_ERROR_PAUSE)
            continue
        result.submit_ms.append(ms)
        if status in (200, 201):
            result.judgments += 1
            result.replays += status == 200
        else:
            result.errors[f"submit {status}"] += 1


@dataclass
class LoadResult:
    annotators: list[AnnotatorResult]
    seconds: float
    client_cpu_s: float
    server_cpu_s: float
    app_cpu_s: float


def load_run(port: int, args: argparse.Namespace,
             cpu_probe: Callable[[], dict[tuple[str, int], float]], *, task: str = "pair") -> LoadResult:
    slug, submit_of = (SET_SLUG, set_submit) if task == "set" else (SLUG, pair_submit)
    results = [AnnotatorResult() for _ in range(args.annotators)]
    clients = [Client(port) for _ in range(args.annotators)]
    # Everyone joins first; the clock starts when the last one is ready, so joins are not timed.
    start_box: list[float] = []
    ready = threading.Barrier(args.annotators + 1, action=lambda: start_box.append(time.perf_counter()))

    def run(i: int) -> None:
        try:
            annotator_join(clients[i], PARTIES[i % len(PARTIES)], slug)
        except Exception:
            ready.abort()
            raise
        ready.wait()
        annotator_loop(clients[i], results[i], deadline=start_box[0] + args.seconds,
                       max_judgments=args.quota, rng=random.Random(args.seed * 1000 + i), slug=slug,
                       submit_of=submit_of)
        results[i].reconnects = clients[i].reconnects
        results[i].server_closes = clients[i].server_closes

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(args.annotators)]
    for thread in threads:
        thread.start()
    ready.wait()
    cpu_start, server_start = _cpu_seconds(), cpu_probe()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start_box[0]
    # Processes that appeared during the run (a thread's first database connection) count whole.
    used = {key: cpu - server_start.get(key, 0.0) for key, cpu in cpu_probe().items()}
    for client in clients:
        client.close()
    return LoadResult(annotators=results, seconds=elapsed, client_cpu_s=_cpu_seconds() - cpu_start,
                      server_cpu_s=sum(used.values()),
                      app_cpu_s=sum(cpu for (kind, _), cpu in used.items() if kind == "app"))


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --- figures and checks ------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def figures_of(load: LoadResult, args: argparse.Namespace) -> dict:
    next_ms = [ms for r in load.annotators for ms in r.next_ms]
    submit_ms = [ms for r in load.annotators for ms in r.submit_ms]
    judgments = sum(r.judgments for r in load.annotators)
    errors = sum((r.errors for r in load.annotators), Counter())
    return {
        "server": args.server, "workers": args.workers, "threads": args.threads,
        "annotators": args.annotators, "seconds": round(load.seconds, 2), "judgments": judgments,
        "judgments_per_s": round(judgments / load.seconds, 1),
        "next_requests": len(next_ms), "submit_requests": len(submit_ms),
        **{f"next_p{q}_ms": round(percentile(next_ms, q), 1) for q in (50, 95, 99)},
        **{f"submit_p{q}_ms": round(percentile(submit_ms, q), 1) for q in (50, 95, 99)},
        "errors": dict(sorted(errors.items())),
        "replays": sum(r.replays for r in load.annotators),
        "reconnects": sum(r.reconnects for r in load.annotators),
        "server_closes": sum(r.server_closes for r in load.annotators),
        "annotators_finished": sum(r.finished for r in load.annotators),
        "client_cpu_s": round(load.client_cpu_s, 2),
        "server_cpu_s": round(load.server_cpu_s, 2),
        "server_cpu_ms_per_judgment": round(load.server_cpu_s * 1000 / judgments, 1) if judgments else None,
        "app_cpu_ms_per_judgment": round(load.app_cpu_s * 1000 / judgments, 1) if judgments else None,
        "load_average": round(os.getloadavg()[0], 1),
    }


def database_checks(database: str, *, submitted: int) -> dict:
    """Stored judgments == successful submits, and no pair over k (nor a group over ceil(k / G))."""
    with psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={database}") as conn:
        # A pair's ceiling: k under uniform allocation, k_max (default 3k) under adaptive.
        study_id, overlap, groups = conn.execute(
            "SELECT id, CASE WHEN allocation = 'adaptive' THEN coalesce(k_max, 3 * overlap) ELSE overlap END,"
            " group_attributes FROM annotation_study WHERE slug = %s", [SLUG]
        ).fetchone()
        pairs = conn.execute(
            "SELECT count(*) FROM annotation_pair p JOIN annotation_prompt pr ON pr.id = p.prompt_id"
            " WHERE pr.study_id = %s", [study_id]
        ).fetchone()[0]
        stored = conn.execute(
            "SELECT count(*) FROM annotation_judgment j JOIN annotation_pair p ON p.id = j.pair_id"
            " JOIN annotation_prompt pr ON pr.id = p.prompt_id WHERE pr.study_id = %s", [study_id]
        ).fetchone()[0]
        # Gold pairs (attention checks) have no slots: every annotator may answer them, outside k.
        ordinary = "WHERE pair_id NOT IN (SELECT pair_id FROM annotation_golditem)"
        over_k = conn.execute(
            f"SELECT count(*) FROM (SELECT pair_id FROM annotation_judgment {ordinary} GROUP BY pair_id"
            " HAVING count(*) > %s) t", [overlap]
        ).fetchone()[0]
        n_groups = math.prod(len(values) for values in groups.values()) or 1
        over_cap = conn.execute(
            f"SELECT count(*) FROM (SELECT pair_id FROM annotation_judgment {ordinary} GROUP BY pair_id, group_key"
            " HAVING count(*) > %s) t", [math.ceil(overlap / n_groups)]
        ).fetchone()[0]
        # The per-(pair, group) counts submit keeps, against the GROUP BY they stand for.
        counts_differ = conn.execute(
            "SELECT count(*) FROM (SELECT j.pair_id, j.group_key, count(*) AS n FROM annotation_judgment j"
            " WHERE j.choice <> 'both_bad' GROUP BY j.pair_id, j.group_key) t FULL JOIN"
            " (SELECT pair_id, group_key, n FROM annotation_pairgroupcount WHERE n > 0) c"
            " ON c.pair_id = t.pair_id AND c.group_key = t.group_key WHERE c.n IS DISTINCT FROM t.n"
        ).fetchone()[0]
    return {
        "pairs": pairs, "stored_judgments": stored, "stored_equals_submitted": stored == submitted,
        "pair_counts_differ": counts_differ,
        "overlap_k": overlap, "pairs_over_k": over_k, "pair_groups_over_cap": over_cap,
        "ok": stored == submitted and over_k == 0 and over_cap == 0 and counts_differ == 0,
    }


def set_database_checks(database: str, *, submitted: int) -> dict:
    """The set study's: stored set judgments == successful submits, each expanded into SET_SIZE - 1 comparisons,
    no set over k, no group over ceil(k / G) of a set."""
    with psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={database}") as conn:
        study_id, overlap, groups = conn.execute(
            "SELECT id, overlap, group_attributes FROM annotation_study WHERE slug = %s", [SET_SLUG]).fetchone()
        of_study = "FROM annotation_setjudgment sj JOIN annotation_participant pa ON pa.id = sj.participant_id" \
                   " WHERE pa.study_id = %s"
        sets = conn.execute("SELECT count(*) FROM annotation_candidateset c JOIN annotation_prompt pr"
                            " ON pr.id = c.prompt_id WHERE pr.study_id = %s", [study_id]).fetchone()[0]
        stored = conn.execute(f"SELECT count(*) {of_study}", [study_id]).fetchone()[0]
        comparisons = conn.execute(
            "SELECT count(*) FROM annotation_judgment j JOIN annotation_participant pa ON pa.id = j.participant_id"
            " WHERE pa.study_id = %s AND j.origin = 'set'", [study_id]).fetchone()[0]
        over_k = conn.execute(f"SELECT count(*) FROM (SELECT 1 {of_study} GROUP BY sj.candidate_set_id"
                              " HAVING count(*) > %s) t", [study_id, overlap]).fetchone()[0]
        n_groups = math.prod(len(values) for values in groups.values()) or 1
        over_cap = conn.execute(
            f"SELECT count(*) FROM (SELECT 1 {of_study} GROUP BY sj.candidate_set_id, sj.group_key"
            " HAVING count(*) > %s) t", [study_id, math.ceil(overlap / n_groups)]).fetchone()[0]
    ok = stored == submitted and comparisons == (SET_SIZE - 1) * stored and over_k == 0 and over_cap == 0
    return {"sets": sets, "stored_set_judgments": stored, "stored_equals_submitted": stored == submitted,
            "comparisons": comparisons, "overlap_k": overlap, "sets_over_k": over_k, "set_groups_over_cap": over_cap,
            "ok": ok}


def set_report(pairs: dict, sets: dict, checks: dict) -> None:
    """The set loop beside the pair loop: judgments/s, p95s, and comparisons/s against the target of 2x."""
    per_set = SET_SIZE - 1
    set_comparisons = sets["judgments_per_s"] * per_set
    ratio = set_comparisons / pairs["judgments_per_s"] if pairs["judgments_per_s"] else math.nan
    print(f"sets          {checks['sets']} sets of {SET_SIZE} x {checks['overlap_k']} judgments")
    for name, f, comparisons in (("pair loop", pairs, pairs["judgments_per_s"]), ("set loop", sets, set_comparisons)):
        print(f"{name:<13} {f['judgments_per_s']:.1f} judgments/s, {comparisons:.1f} comparisons/s, next p95 "
              f"{f['next_p95_ms']:.1f} ms, submit p95 {f['submit_p95_ms']:.1f} ms, server CPU "
              f"{f['server_cpu_ms_per_judgment']} ms per judgment, errors {f['errors'] or 'none'}")
    print(f"check         stored set judgments {checks['stored_set_judgments']} == successful submits "
          f"{sets['judgments']}, each {per_set} comparisons ({checks['comparisons']}), sets over k "
          f"{checks['sets_over_k']}, set groups over cap {checks['set_groups_over_cap']}: "
          f"{'ok' if checks['ok'] else 'VIOLATED'}")
    print(f"target        set comparisons/s >= 2 x pair judgments/s: {ratio:.2f} x, "
          f"{'met' if ratio >= 2 else 'not met'}")


def report(figures: dict, checks: dict, setup: dict) -> None:
    f = figures
    server = f"{f['server']}, {f['workers']} worker(s) x {f['threads']} threads"
    print(f"server        {server}, 127.0.0.1:{setup['port']}, PostgreSQL database {setup['database']}")
    print(f"study         {checks['pairs']} pairs x at most {checks['overlap_k']} judgments "
          f"(setup {setup['setup_s']:.1f} s)")
    print(f"annotators    {f['annotators']} ({f['annotators_finished']} reached 204)")
    print(f"duration      {f['seconds']:.2f} s  (load generator CPU {f['client_cpu_s']:.2f} s, "
          f"machine load average {f['load_average']} at the end: other work on the machine skews the figures)")
    print(f"judgments     {f['judgments']}  ->  {f['judgments_per_s']:.1f} judgments/s  (server CPU "
          f"{f['server_cpu_ms_per_judgment']} ms per judgment, of which the WSGI server "
          f"{f['app_cpu_ms_per_judgment']} ms and PostgreSQL backends the rest)")
    for name in ("next", "submit"):
        p50, p95, p99 = (f[f"{name}_p{q}_ms"] for q in (50, 95, 99))
        print(f"{name:<13} p50 {p50:.1f} ms  p95 {p95:.1f} ms  p99 {p99:.1f} ms  ({f[f'{name}_requests']} requests)")
    errors = ", ".join(f"{key}: {n}" for key, n in f["errors"].items()) or "none"
    print(f"errors        {errors}  (replayed submits {f['replays']}, reconnects {f['reconnects']}, "
          f"connections the server closed after a response {f['server_closes']})")
    print(f"check         stored judgments {checks['stored_judgments']} == successful submits {f['judgments']}: "
          f"{'ok' if checks['stored_equals_submitted'] else 'MISMATCH'}")
    print(f"check         pair-group counts that differ from a GROUP BY over judgments: "
          f"{checks['pair_counts_differ']}: {'ok' if checks['pair_counts_differ'] == 0 else 'MISMATCH'}")
    print(f"check         pairs over k={checks['overlap_k']}: {checks['pairs_over_k']}, "
          f"pair groups over cap: {checks['pair_groups_over_cap']}: "
          f"{'ok' if checks['pairs_over_k'] == 0 and checks['pair_groups_over_cap'] == 0 else 'VIOLATED'}")
    target = f["judgments_per_s"] >= 200 and max(f["next_p95_ms"], f["submit_p95_ms"]) < 100
    print(f"target        >= 200 judgments/s with p95 < 100 ms: {'met' if target else 'not met'}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    env = bench_env(args.database)
    started = time.perf_counter()
    database_recreate(args.database)
    manage(env, "migrate", "--no-input", "-v0")
    with tempfile.TemporaryDirectory(prefix="pluralweb-bench-") as tmp:
        study_file = Path(tmp) / "study.jsonl"
        study_file_write(study_file, args)
        manage(env, "import_study", "--wait", str(study_file))  # pairs made here: the bench runs no worker
        if args.task == "set":
            set_file = Path(tmp) / "sets.jsonl"
            study_file_write(set_file, args, task="set")
            manage(env, "import_study", "--wait", str(set_file))
        database_analyze(args.database)
        setup = {"database": args.database, "setup_s": time.perf_counter() - started,
                 "port": free_port()}
        log = Path(tmp) / "server.log"
        server = server_start(env, server_command(args, setup["port"]), log=log)
        try:
            healthz_wait(setup["port"], server)
            load = load_run(setup["port"], args, lambda: server_cpu(server, args.database))
            set_load = (load_run(setup["port"], args, lambda: server_cpu(server, args.database), task="set")
                        if args.task == "set" else None)
        except Exception:
            print(log.read_text()[-4000:], file=sys.stderr)
            raise
        finally:
            server_stop(server)
    figures = figures_of(load, args)
    checks = database_checks(args.database, submitted=figures["judgments"])
    report(figures, checks, setup)
    out = figures | {"checks": checks}
    if set_load is not None:
        set_figures = figures_of(set_load, args)
        set_checks = set_database_checks(args.database, submitted=set_figures["judgments"])
        set_report(figures, set_figures, set_checks)
        out["sets"] = set_figures | {"checks": set_checks,
                                     "comparisons_per_s": round(set_figures["judgments_per_s"] * (SET_SIZE - 1), 1)}
        checks = checks | {"ok": checks["ok"] and set_checks["ok"]}
    if args.json:
        print(json.dumps(out))
    if args.drop:
        database_drop(args.database)
    return 0 if checks["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
