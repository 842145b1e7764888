"""Benchmark of the researchers' dashboards on PostgreSQL: a million judgments, or a ratings-shaped study.

Creates its own database, migrates it with manage.py, generates a study in SQL (INSERT ... SELECT
from generate_series: prompts, candidates from several models, all pairs of each prompt's
candidates half "nc" and half "random", participants in 4 groups (party x country), judgments
with group-dependent preferences, slots and leases), runs ANALYZE, then times each dashboard page
and its JSON download through Django's test Client as a researcher: the median of `--repeat` runs
after one warm-up, with the share spent in SQL.

`--shape ratings` generates instead a study shaped like a real imported ratings dataset (1 prompt,
1,500 candidates each from its own source, so the leaderboard has 1,500 competitors, ~272k pairs,
~318k judgments derived from ratings with 46% ties, 262 annotators in 39 groups, many of 1-2
members, no leases) and prints what beat's refresh costs: seconds and peak traced memory per
dashboard, the whole refresh's peak RSS, the cost of a refresh of the unchanged study, then the
pages read from the snapshot and each JSON download (computed live).

    .venv/bin/python bench/dashboards.py [--judgments 1000000] [--pages bridging] [--explain] [--json] [--drop]
    .venv/bin/python bench/dashboards.py --shape ratings [--reuse] [--repeat 1]

Everything stays on 127.0.0.1.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from pg_setup import bench_env, database_drop, database_recreate

ROOT = Path(__file__).resolve().parent.parent
SLUG = "bench-dash"
PAGES = ["divergence", "leaderboard", "strategies", "progress", "bridging"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=("million", "ratings"), default="million")
    parser.add_argument("--judgments", type=int, default=1_000_000)
    parser.add_argument("--prompts", type=int, default=2000)
    parser.add_argument("--candidates", type=int, default=4, help="per prompt; every two of them make a pair")
    parser.add_argument("--participants", type=int, default=4000, help="spread evenly over the 4 groups")
    parser.add_argument("--assignments", type=int, default=1_200_000, help="leases (judged, expired, active)")
    parser.add_argument("--pages", nargs="+", choices=PAGES, default=PAGES, help="pages to time (default: all)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per page (the median is printed)")
    parser.add_argument("--database", default="pluralweb_bench_dash", help="database to (re)create")
    parser.add_argument("--reuse", action="store_true", help="keep the database of a previous run")
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of the heaviest queries")
    parser.add_argument("--server-defaults", action="store_true",
                        help="time the pages without their SET LOCAL jit/work_mem (to measure what those buy)")
    parser.add_argument("--json", action="store_true", help="also print the figures as one JSON line")
    parser.add_argument("--drop", action="store_true", help="drop the database at the end")
    args = parser.parse_args(argv)
    if args.shape == "ratings":
        args.candidates = 1500 if args.candidates == 4 else args.candidates
        args.participants = 262 if args.participants == 4000 else args.participants
        args.judgments = 317_889 if args.judgments == 1_000_000 else args.judgments
        args.pairs = 272_211
        if args.database == "pluralweb_bench_dash":
            args.database = "pluralweb_bench_dash_ratings"
        return args
    pairs = args.prompts * args.candidates * (args.candidates - 1) // 2
    # Each pair's judges are distinct participants (judgment_once_per_pair): rounds per pair < participants.
    if args.judgments > pairs * args.participants or args.candidates < 2:
        parser.error("too many judgments for the pairs x participants, or fewer than 2 candidates")
    return args


def migrate(env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True)


# --- data -------------------------------------------------------------------------------------------

# Preference for the pair's candidate A: every fifth pair divides the parties sharply (D 0.85, R 0.15),
# the rest lean by group and pair, so that every figure has structure to show.
GENERATE = """
INSERT INTO annotation_prompt (study_id, external_id, turns, tags, language, source)
SELECT %(study)s, 'p' || g,
       jsonb_build_array(jsonb_build_object('role', 'user', 'content',
           'Question ' || g || ': what should a government do about issue ' || (g %% 97) || '?')),
       jsonb_build_array((ARRAY['politics', 'health', 'religion', 'economy', 'family'])[1 + g %% 5])
           || CASE WHEN g %% 3 = 0 THEN '["values"]'::jsonb ELSE '[]'::jsonb END,
       'en', 'bench'
FROM generate_series(0, %(prompts)s - 1) g;

INSERT INTO annotation_candidate (prompt_id, external_id, text, source, strategy)
SELECT p.id, p.external_id || 'c' || c,
       'Answer ' || c || ' to ' || p.external_id || ': on balance the policy should take stance '
           || ((c * 7 + p.id) %% 13) || '.',
       'model-' || ((c + p.id) %% 6), CASE WHEN c %% 2 = 0 THEN 'nc' ELSE 'sampled' END
FROM annotation_prompt p CROSS JOIN generate_series(0, %(candidates)s - 1) c
WHERE p.study_id = %(study)s;

INSERT INTO annotation_pair (prompt_id, candidate_a_id, candidate_b_id, strategy, diversity, created_at)
SELECT a.prompt_id, a.id, b.id,
       CASE WHEN a.prompt_id %% 2 = 0 THEN 'nc' ELSE 'random' END,
       CASE WHEN a.prompt_id %% 2 = 0 THEN 0.35 + 0.45 * random() ELSE 0.05 + 0.4 * random() END,
       now()
FROM annotation_candidate a
JOIN annotation_candidate b ON b.prompt_id = a.prompt_id AND a.id < b.id
JOIN annotation_prompt p ON p.id = a.prompt_id
WHERE p.study_id = %(study)s;

INSERT INTO annotation_participant (study_id, user_id, external_id, attributes, group_key, crowd_params,
                                    consented_at, created_at, flag_note)
SELECT %(study)s, NULL, 'w' || g, jsonb_build_object('party', party, 'country', country),
       'country=' || country || '|party=' || party, '{}'::jsonb, now(), now(), ''
FROM (SELECT g, (ARRAY['D', 'R'])[1 + g %% 2] AS party, (ARRAY['FR', 'US'])[1 + (g / 2) %% 2] AS country
      FROM generate_series(0, %(participants)s - 1) g) t;

CREATE TEMP TABLE pair_ix AS
SELECT (row_number() OVER (ORDER BY pr.id) - 1)::int AS ix, pr.id, pr.candidate_a_id, pr.candidate_b_id
FROM annotation_pair pr JOIN annotation_prompt p ON p.id = pr.prompt_id WHERE p.study_id = %(study)s;
CREATE UNIQUE INDEX ON pair_ix (ix);

CREATE TEMP TABLE part_ix AS
SELECT (row_number() OVER (ORDER BY id) - 1)::int AS ix, id, group_key, attributes ->> 'party' AS party,
       ((row_number() OVER (ORDER BY id) - 1) %% 4)::int AS gix
FROM annotation_participant WHERE study_id = %(study)s;
CREATE UNIQUE INDEX ON part_ix (ix);

INSERT INTO annotation_judgment (participant_id, pair_id, assignment_id, candidate_a_id, candidate_b_id, choice,
                                 strength, rationale, rating_a, rating_b, group_key, time_taken_ms, origin,
                                 client_id, created_at)
SELECT pa.id, pr.id, NULL,
       CASE WHEN j.swapped THEN pr.candidate_b_id ELSE pr.candidate_a_id END,
       CASE WHEN j.swapped THEN pr.candidate_a_id ELSE pr.candidate_b_id END,
       CASE WHEN j.u < 0.03 THEN 'both_bad'
            WHEN j.u < 0.08 THEN 'tie'
            WHEN (j.v < CASE WHEN pr.ix %% 5 = 0 THEN CASE WHEN pa.party = 'D' THEN 0.85 ELSE 0.15 END
                             ELSE 0.5 + 0.3 * sin(pr.ix * 1.7 + pa.gix) END) <> j.swapped THEN 'A'
            ELSE 'B' END,
       '', '', NULL, NULL, pa.group_key, 3000 + (random() * 20000)::int, 'web', 'bench-' || j.i,
       now() - random() * interval '30 days'
FROM (SELECT i, i %% %(pairs)s AS pix, i / %(pairs)s AS round, random() AS u, random() AS v, i %% 2 = 0 AS swapped
      FROM generate_series(0, %(judgments)s - 1) i) j
JOIN pair_ix pr ON pr.ix = j.pix
JOIN part_ix pa ON pa.ix = (j.pix * 7 + j.round) %% %(participants)s;

INSERT INTO annotation_slot (pair_id, study_id, group_key, open_group, status, lease_expires_at)
SELECT pr.id, %(study)s, '', '', 'done', NULL FROM pair_ix pr CROSS JOIN generate_series(0, 2) s ORDER BY pr.ix, s;

CREATE TEMP TABLE slot_ix AS
SELECT (row_number() OVER (ORDER BY id) - 1)::int AS ix, id, pair_id FROM annotation_slot WHERE study_id = %(study)s;
CREATE UNIQUE INDEX ON slot_ix (ix);

-- Slot ix = 3 * pair + s, so participant (13 * round + slot ix) never meets the same pair twice.
INSERT INTO annotation_assignment (slot_id, pair_id, participant_id, swapped, status, created_at, expires_at)
SELECT s.id, s.pair_id, pa.id, a.i %% 2 = 0,
       CASE WHEN a.round = 0 AND a.i %% 50 = 0 THEN 'active' WHEN a.i %% 6 = 1 THEN 'expired' ELSE 'judged' END,
       a.at, a.at + interval '10 minutes'
FROM (SELECT i, i %% %(slots)s AS six, i / %(slots)s AS round, now() - random() * interval '30 days' AS at
      FROM generate_series(0, %(assignments)s - 1) i) a
JOIN slot_ix s ON s.ix = a.six
JOIN part_ix pa ON pa.ix = (a.round * 13 + a.six) %% %(participants)s;
"""


def generate(args: argparse.Namespace) -> dict[str, float]:
    from django.contrib.auth.models import Group, User
    from django.db import connection, transaction

    from annotation.access import RESEARCHERS
    from annotation.models import Study

    timings = {}
    started = time.perf_counter()
    with transaction.atomic():
        study = Study.objects.create(
            slug=SLUG, title="Dashboards benchmark", consent="I agree.", pair_strategy="nc", overlap=3,
            group_attributes={"party": ["D", "R"], "country": ["FR", "US"]},
        )
        user = User.objects.create_user("bench-researcher")
        user.groups.add(Group.objects.get(name=RESEARCHERS))
        pairs = args.prompts * args.candidates * (args.candidates - 1) // 2
        params = {"study": study.pk, "prompts": args.prompts, "candidates": args.candidates, "pairs": pairs,
                  "participants": args.participants, "judgments": args.judgments, "slots": pairs * 3,
                  "assignments": min(args.assignments, pairs * 3 * max(1, args.participants // 13 - 1))}
        with connection.cursor() as cursor:
            for statement in filter(str.strip, GENERATE.split(";\n")):
                cursor.execute(statement, params)
    timings["generate_s"] = time.perf_counter() - started
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    timings["analyze_s"] = time.perf_counter() - started
    return timings


# A ratings dataset imported on one prompt: every candidate its own source (the per-candidate leaderboard),
# a quarter of all pairs of candidates judged once, every sixth of those a second time by another
# annotator, 46% ties (equal ratings). Annotators (part_ix) come in 39 groups of skewed sizes.
GENERATE_RATINGS = """
INSERT INTO annotation_prompt (study_id, external_id, turns, tags, language, source)
VALUES (%(study)s, 'comments', '[{"role": "user", "content": "How offensive is this comment?"}]'::jsonb,
        '["offensiveness"]'::jsonb, 'en', 'bench');

INSERT INTO annotation_candidate (prompt_id, external_id, text, source, strategy)
SELECT p.id, 'c' || c, 'Comment ' || c || ': some text that a reader may or may not find offensive.',
       'comment-' || c, 'imported'
FROM annotation_prompt p CROSS JOIN generate_series(0, %(candidates)s - 1) c
WHERE p.study_id = %(study)s;

CREATE TEMP TABLE cand_ix AS
SELECT (row_number() OVER (ORDER BY c.id) - 1)::int AS ix, c.id, c.prompt_id
FROM annotation_candidate c JOIN annotation_prompt p ON p.id = c.prompt_id WHERE p.study_id = %(study)s;

INSERT INTO annotation_pair (prompt_id, candidate_a_id, candidate_b_id, strategy, diversity, created_at)
SELECT a.prompt_id, a.id, b.id, 'imported', NULL, now()
FROM cand_ix a JOIN cand_ix b ON a.ix < b.ix
WHERE (a.ix * 7919 + b.ix * 104729) %% 1000 < %(per_mille)s;

CREATE TEMP TABLE pair_ix AS
SELECT (row_number() OVER (ORDER BY pr.id) - 1)::int AS ix, pr.id, pr.candidate_a_id, pr.candidate_b_id,
       ca.ix AS a_ix, cb.ix AS b_ix
FROM annotation_pair pr JOIN cand_ix ca ON ca.id = pr.candidate_a_id JOIN cand_ix cb ON cb.id = pr.candidate_b_id;

CREATE TEMP TABLE part_ix AS
SELECT (row_number() OVER (ORDER BY id) - 1)::int AS ix, id, group_key,
       (dense_rank() OVER (ORDER BY group_key) - 1)::int AS gix
FROM annotation_participant WHERE study_id = %(study)s;
CREATE UNIQUE INDEX ON part_ix (ix);

INSERT INTO annotation_judgment (participant_id, pair_id, assignment_id, candidate_a_id, candidate_b_id, choice,
                                 strength, rationale, rating_a, rating_b, group_key, time_taken_ms, origin,
                                 client_id, created_at)
SELECT pa.id, pr.id, NULL, pr.candidate_a_id, pr.candidate_b_id,
       CASE WHEN j.u < 0.46 THEN 'tie'
            WHEN j.v < 0.5 + 0.4 * sin(pr.a_ix * 0.37 - pr.b_ix * 0.21 + pa.gix) THEN 'A' ELSE 'B' END,
       '', '', NULL, NULL, pa.group_key, NULL, 'ratings', 'bench-' || pr.ix || '-' || j.round,
       now() - random() * interval '10 days'
FROM pair_ix pr
CROSS JOIN LATERAL (SELECT r AS round, random() AS u, random() AS v FROM generate_series(0, 1) r
                    WHERE r = 0 OR pr.ix %% %(second_every)s = 0) j
JOIN part_ix pa ON pa.ix = CASE WHEN j.round = 0 THEN (pr.ix * 7) %% %(participants)s
                                ELSE ((pr.ix * 7) %% %(participants)s + 1 + pr.ix %% (%(participants)s - 1))
                                     %% %(participants)s END;
"""
RATINGS_ATTRIBUTES = {"gender": ["man", "woman", "nonbinary"], "race": ["asian", "black", "latino", "other", "white"],
                      "education": ["college", "graduate", "high school"]}
# 39 groups, the largest first; many of 1-2 members, as in the real dataset. The first absorbs the rest.
RATINGS_GROUP_SIZES = [30, 25, 20, 15, 12, 10, 9, 8, 7, 6, 6, 5, 5, 4, 4, 4, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2,
                       1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]


def generate_ratings(args: argparse.Namespace) -> dict[str, float]:
    from itertools import product

    from django.contrib.auth.models import Group, User
    from django.db import connection, transaction

    from annotation.access import RESEARCHERS
    from annotation.models import Participant, Study

    timings = {}
    started = time.perf_counter()
    with transaction.atomic():
        study = Study.objects.create(
            slug=SLUG, title="Dashboards benchmark (ratings)", consent="I agree.", pair_strategy="nc", overlap=1,
            group_attributes=RATINGS_ATTRIBUTES,
        )
        user = User.objects.create_user("bench-researcher")
        user.groups.add(Group.objects.get(name=RESEARCHERS))
        keys = ["|".join(f"{name}={value}" for name, value in sorted(zip(RATINGS_ATTRIBUTES, combo, strict=True)))
                for combo in product(*RATINGS_ATTRIBUTES.values())][:len(RATINGS_GROUP_SIZES)]
        sizes = list(RATINGS_GROUP_SIZES)
        sizes[0] += args.participants - sum(sizes)
        people = [(key, dict(part.split("=") for part in key.split("|")))
                  for key, size in zip(keys, sizes, strict=True) for _ in range(size)]
        Participant.objects.bulk_create(
            Participant(study=study, external_id=f"w{i}", attributes=attributes, group_key=key)
            for i, (key, attributes) in enumerate(people))
        # The share of the 1,124,250 pairs of 1,500 candidates to draw, and every how many a second judgment.
        all_pairs = args.candidates * (args.candidates - 1) // 2
        per_mille = max(1, round(1000 * args.pairs / all_pairs))
        second_every = max(1, round(args.pairs / max(1, args.judgments - args.pairs)))
        params = {"study": study.pk, "candidates": args.candidates, "participants": args.participants,
                  "per_mille": per_mille, "second_every": second_every}
        with connection.cursor() as cursor:
            for statement in filter(str.strip, GENERATE_RATINGS.split(";\n")):
                cursor.execute(statement, params)
    timings["generate_s"] = time.perf_counter() - started
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    timings["analyze_s"] = time.perf_counter() - started
    return timings


def counts() -> dict[str, int]:
    from annotation.models import Assignment, Candidate, Judgment, Pair, Participant, Prompt

    return {"prompts": Prompt.objects.count(), "candidates": Candidate.objects.count(), "pairs": Pair.objects.count(),
            "participants": Participant.objects.count(), "judgments": Judgment.objects.count(),
            "assignments": Assignment.objects.count()}


# --- timing -----------------------------------------------------------------------------------------


def time_pages(repeat: int, *, snapshots: bool, pages: list[str] = PAGES) -> tuple[list[dict], dict[str, str]]:
    """Seconds per page (and per JSON download), and the slowest SQL statement of each page.

    With snapshots, pages read what beat's refresh computed (as researchers do when beat runs);
    without, every page view recomputes its aggregates (what the refresh itself costs per page).
    Downloads always compute live.
    """
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from alignment.models import DashboardSnapshot

    def forget() -> None:
        # Unchanged data keeps a snapshot current at any age: without snapshots, drop them before each view.
        if not snapshots:
            DashboardSnapshot.objects.all().delete()

    client = Client()
    client.force_login(User.objects.get(username="bench-researcher"))
    settings.DASHBOARD_MAX_AGE_SECONDS = 3600 if snapshots else 0
    results, slowest = [], {}
    for page in pages:
        downloads = () if snapshots else (("?download=json", f"{page} (json)"),)
        for suffix, label in (("", f"{page} (snapshot)" if snapshots else page), *downloads):
            url = f"/studies/{SLUG}/dashboards/{page}/{suffix}"
            response = client.get(url)  # warm-up: imports, template compilation, connection
            assert response.status_code == 200, (url, response.status_code)
            seconds = []
            for _ in range(repeat):
                forget()
                started = time.perf_counter()
                response = client.get(url)
                seconds.append(time.perf_counter() - started)
            forget()
            with CaptureQueriesContext(connection) as queries:
                client.get(url)
            captured = queries.captured_queries
            sql = sum(float(q["time"]) for q in captured)
            if not suffix:
                slowest[page] = max(captured, key=lambda q: float(q["time"]))["sql"]
            results.append({"page": label, "median_s": statistics.median(seconds), "min_s": min(seconds),
                            "sql_s": sql, "queries": len(captured), "bytes": len(response.content)})
    return results, slowest


def explain(slowest: dict[str, str]) -> None:
    """EXPLAIN ANALYZE of each page's slowest statement, under the settings the pages read with."""
    from django.db import connection

    from alignment.dashboards.selectors import analytical_reads

    for page, sql in slowest.items():
        with analytical_reads(), connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
            print(f"--- {page}: {sql[:160]}...")
            print("\n".join(row[0] for row in cursor.fetchall()))


def refresh_costs() -> dict:
    """What beat's refresh costs: the whole refresh (seconds, growth of the peak RSS), a second refresh
    of the unchanged study, and per dashboard the seconds its snapshot recorded and the peak memory
    traced (tracemalloc, which sees NumPy's buffers) while building its report and its payload's JSON."""
    import resource
    import tracemalloc

    from alignment.dashboards.catalog import snapshot_views
    from alignment.dashboards.refresh import dashboards_refresh
    from alignment.dashboards.selectors import analytical_reads
    from alignment.models import DashboardRefresh, DashboardSnapshot
    from annotation.models import Study

    study = Study.objects.get(slug=SLUG)
    # A run killed mid-refresh leaves its lease to lapse (DASHBOARD_REFRESH_LEASE_SECONDS): not here.
    DashboardRefresh.objects.filter(study=study).delete()
    DashboardSnapshot.objects.filter(study=study).delete()  # with --reuse: measure a first refresh
    result: dict = {}
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    dashboards_refresh()
    result["refresh_s"] = time.perf_counter() - started
    result["refresh_rss_growth_mib"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    started = time.perf_counter()
    dashboards_refresh()
    result["unchanged_refresh_s"] = time.perf_counter() - started
    seconds = dict(DashboardSnapshot.objects.filter(study=study).values_list("key", "seconds"))
    result["dashboards"] = []
    for dashboard, _params, build in snapshot_views(study):
        tracemalloc.start()
        with analytical_reads():
            report = build()
            payload = json.dumps({"tables": report.tables, "summary": report.summary}, default=str)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        key = next(key for key in seconds if key.split("|")[0] == dashboard.name)
        result["dashboards"].append({"dashboard": key, "seconds": seconds[key], "peak_mib": peak / 2**20,
                                     "payload_kib": len(payload) / 1024})
        del report, payload
    return result


def time_downloads() -> list[dict]:
    """One JSON download of each page (computed live, every table complete)."""
    from django.contrib.auth.models import User
    from django.test import Client

    client = Client()
    client.force_login(User.objects.get(username="bench-researcher"))
    results = []
    for page in PAGES:
        started = time.perf_counter()
        response = client.get(f"/studies/{SLUG}/dashboards/{page}/?download=json")
        assert response.status_code == 200, (page, response.status_code)
        content = b"".join(response.streaming_content) if response.streaming else response.content
        results.append({"page": f"{page} (json)", "seconds": time.perf_counter() - started, "bytes": len(content)})
    return results


def main_ratings(args: argparse.Namespace, timings: dict) -> None:
    costs = refresh_costs()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"beat refresh: {costs['refresh_s']:.2f} s, peak RSS grew {costs['refresh_rss_growth_mib']:.0f} MiB; "
          f"refresh of the unchanged study: {costs['unchanged_refresh_s']:.3f} s")
    print(f"{'dashboard':<24}{'refresh s':>10}{'peak MiB':>10}{'payload KiB':>13}")
    for row in costs["dashboards"]:
        print(f"{row['dashboard']:<24}{row['seconds']:>10.2f}{row['peak_mib']:>10.0f}{row['payload_kib']:>13.0f}")
    pages = time_pages(args.repeat, snapshots=True)[0]
    downloads = time_downloads()
    print(f"{'page':<24}{'median s':>10}{'queries':>9}{'KiB':>8}")
    for row in pages:
        print(f"{row['page']:<24}{row['median_s']:>10.3f}{row['queries']:>9}{row['bytes'] / 1024:>8.0f}")
    for row in downloads:
        print(f"{row['page']:<24}{row['seconds']:>10.3f}{'':>9}{row['bytes'] / 1024:>8.0f}")
    if args.json:
        print(json.dumps({"setup": timings, "refresh": costs, "pages": pages, "downloads": downloads}))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    env = bench_env(args.database)
    timings = {}
    if not args.reuse:
        database_recreate(args.database)
    started = time.perf_counter()
    migrate(env)  # with --reuse, applies what the code added since (its data stays)
    timings["migrate_s"] = time.perf_counter() - started
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    if not args.reuse:
        timings |= generate_ratings(args) if args.shape == "ratings" else generate(args)
    if args.server_defaults:
        from contextlib import nullcontext

        from alignment.dashboards import views

        views.analytical_reads = nullcontext
    sizes = counts()
    print("data: " + ", ".join(f"{name} {value:,}" for name, value in sizes.items()))
    print("setup: " + ", ".join(f"{name} {value:.1f}" for name, value in timings.items()))
    if args.shape == "ratings":
        main_ratings(args, timings)
        if args.drop:
            from django.db import connections

            connections.close_all()
            database_drop(args.database)
        return
    results, slowest = time_pages(args.repeat, snapshots=False, pages=args.pages)
    from alignment.dashboards.refresh import dashboards_refresh

    started = time.perf_counter()
    dashboards_refresh()
    timings["beat_refresh_s"] = time.perf_counter() - started
    print(f"beat refresh of the default views: {timings['beat_refresh_s']:.2f} s")
    results += time_pages(args.repeat, snapshots=True, pages=args.pages)[0]
    print(f"{'page':<24}{'median s':>10}{'min s':>8}{'SQL s':>8}{'queries':>9}{'KiB':>8}")
    for row in results:
        print(f"{row['page']:<24}{row['median_s']:>10.3f}{row['min_s']:>8.3f}{row['sql_s']:>8.3f}"
              f"{row['queries']:>9}{row['bytes'] / 1024:>8.0f}")
    if args.explain:
        explain(slowest)
    if args.json:
        print(json.dumps({"data": sizes, "setup": timings, "pages": results}))
    if args.drop:
        from django.db import connections

        connections.close_all()
        database_drop(args.database)


if __name__ == "__main__":
    main()
