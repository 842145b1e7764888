"""Benchmark of a Community Alignment import on PostgreSQL (issue 13), then the dashboards on what it stored.

Generates a file in the official CA CSV schema (one row per conversation, 1 to 4 turns, 4 responses a turn, a
preferred response and sometimes feedback) with --comparisons pairwise comparisons (a best-of-4 set judgment
is 3 of them: 200,000 makes ~66,700 set judgments), --annotators annotators over 5 countries and the five CA
languages. Texts are real: prompts and responses drawn from the derived Community Alignment sample in
/work/shared/data (see its README), so cell lengths are the release's (~600 characters a response); each
country leans towards a different response letter, so the divergence dashboard has something to show.

The file is written to disk row by row, then `community_alignment_import` streams it; the bench prints the
import's wall and CPU seconds, the process's peak RSS (ru_maxrss, which includes Django), then each dashboard
page's time through Django's test client as a researcher: computed live, then from beat's snapshots.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pw_x .venv/bin/python bench/ca_import.py \
        [--comparisons 200000] [--annotators 3500] [--seed 0] [--repeat 3] [--no-pages] [--keep]

Targets: import under 120 s and 1 GiB on the 2-core machine; each page under 1 s.
"""

import argparse
import cProfile
import csv
import os
import pstats
import random
import resource
import tempfile
import time
from pathlib import Path

from pg_setup import database_drop, django_on_scratch_database

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = Path("/work/shared/data/community_alignment/coalign_pairs_en_balanced10.csv")
SLUG = "bench-ca"
COUNTRIES = ["united states", "india", "brazil", "france", "italy"]
LANGUAGE = {"united states": "en", "india": "hi", "brazil": "pt", "france": "fr", "italy": "it"}
TURN_WEIGHTS = [0.35, 0.3, 0.2, 0.15]  # conversations of 1, 2, 3, 4 turns: mean 2.15 turns


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comparisons", type=int, default=200_000)
    parser.add_argument("--annotators", type=int, default=3500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per page (the median is printed)")
    parser.add_argument("--no-pages", action="store_true", help="time the import only")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--profile", action="store_true", help="print the import's cProfile (slows it)")
    return parser.parse_args(argv)


def text_pool() -> tuple[list[str], list[str]]:
    """Real prompts and responses from the derived CA sample (never used by tests)."""
    prompts, responses = set(), set()
    with SAMPLE.open(newline="", encoding="utf-8") as stream:
        for row in csv.DictReader(stream):
            prompts.add(row["situation"])
            responses.update((row["action_0_description"], row["action_1_description"]))
    return sorted(prompts), sorted(responses)


def write_file(path: Path, args: argparse.Namespace) -> dict:
    from annotation.community_alignment import COLUMNS, TURNS

    rng = random.Random(args.seed)
    prompts, responses = text_pool()
    people = [(f"ann{i:05d}", COUNTRIES[i % len(COUNTRIES)], rng.choice(["18-34", "35-45", "46-54", "55+"]),
               rng.choice(["man", "woman", "non-binary"]), rng.choice(["liberal", "moderate", "conservative"]))
              for i in range(args.annotators)]
    wanted = -(-args.comparisons // 3)
    made = conversations = 0
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=COLUMNS)
        writer.writeheader()
        while made < wanted:
            who, country, age, gender, political = people[conversations % len(people)]
            turns = min(rng.choices(range(1, 5), TURN_WEIGHTS)[0], wanted - made)
            row = {name: "" for name in COLUMNS}
            row.update(conversation_id=f"conv{conversations:06d}", annotator_id=who, assigned_lang=LANGUAGE[country],
                       is_pregenerated_first_prompt=str(rng.random() < 0.7), annotator_age=age,
                       annotator_gender=gender, annotator_education_level="bachelor", annotator_political=political,
                       annotator_ethnicity="", annotator_country=country)
            lean = COUNTRIES.index(country) % 4
            for turn in TURNS[:turns]:
                row[f"{turn}_turn_prompt"] = rng.choice(prompts)
                for letter in "abcd":
                    row[f"{turn}_turn_response_{letter}"] = rng.choice(responses)
                pick = lean if rng.random() < 0.55 else rng.randrange(4)
                row[f"{turn}_turn_preferred_response"] = f"response_{'abcd'[pick]}"
                row[f"{turn}_turn_feedback"] = "It answers the question directly." if rng.random() < 0.3 else ""
            writer.writerow(row)
            made += turns
            conversations += 1
    return {"conversations": conversations, "set_judgments": made, "mb": path.stat().st_size / 1e6}


def study_create():
    from django.contrib.auth.models import Group, User

    from annotation.access import RESEARCHERS
    from annotation.models import Study

    study = Study.objects.create(slug=SLUG, title="CA import bench", consent="ok", task="set", set_size=4,
                                 group_attributes={"country": COUNTRIES}, pair_strategy="random", overlap=1)
    User.objects.create_user("bench-researcher").groups.add(Group.objects.get(name=RESEARCHERS))
    return study


def counts(study) -> dict[str, int]:
    from annotation.models import Candidate, Judgment, Pair, Participant, Prompt, SetJudgment

    return {
        "prompts": Prompt.objects.filter(study=study).count(),
        "candidates": Candidate.objects.filter(prompt__study=study).count(),
        "set judgments": SetJudgment.objects.filter(participant__study=study).count(),
        "comparisons": Judgment.objects.filter(participant__study=study).count(),
        "pairs": Pair.objects.filter(prompt__study=study).count(),
        "participants": Participant.objects.filter(study=study).count(),
    }


def pages(repeat: int) -> None:
    import dashboards

    from alignment.dashboards.refresh import dashboards_refresh

    dashboards.SLUG = SLUG
    live, _ = dashboards.time_pages(repeat, snapshots=False)
    started = time.perf_counter()
    dashboards_refresh()
    print(f"beat refresh of the default views: {time.perf_counter() - started:.2f} s")
    snapshot, _ = dashboards.time_pages(repeat, snapshots=True)
    print(f"{'page':<26}{'median s':>10}{'min s':>8}{'SQL s':>8}{'queries':>9}{'KiB':>8}")
    for row in live + snapshot:
        print(f"{row['page']:<26}{row['median_s']:>10.3f}{row['min_s']:>8.3f}{row['sql_s']:>8.3f}"
              f"{row['queries']:>9}{row['bytes'] / 1024:>8.0f}")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    database = django_on_scratch_database("_bench", ROOT)
    from django.db import transaction
    from ratings_import import backend_cpu

    from annotation.community_alignment import community_alignment_import

    study = study_create()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ca.csv"
        started = time.perf_counter()
        shape = write_file(path, args)
        print(f"file: {shape['conversations']:,} conversations, {shape['set_judgments']:,} set judgments, "
              f"{args.annotators:,} annotators in {len(COUNTRIES)} countries, {shape['mb']:.0f} MB "
              f"(written in {time.perf_counter() - started:.1f} s)")
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        load = os.getloadavg()
        server_cpu = backend_cpu()
        started, cpu = time.perf_counter(), time.process_time()
        # The outer atomic block only splits the figures: the import's own block then commits here, where
        # PostgreSQL runs the foreign-key checks Django defers to COMMIT.
        profiler = cProfile.Profile() if args.profile else None
        with transaction.atomic():
            if profiler:
                profiler.enable()
            with path.open("rb") as stream:
                summary = community_alignment_import(study=study, stream=stream, source=str(path))
            if profiler:
                profiler.disable()
            before_commit = time.perf_counter() - started
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        server_cpu = backend_cpu() - server_cpu if server_cpu is not None else None
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if profiler:
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    server = f"{server_cpu:.1f} s" if server_cpu is not None else "not readable here"
    print(f"import: {seconds:.1f} s wall ({seconds - before_commit:.1f} s of it the COMMIT), CPU: this process "
          f"{cpu:.1f} s, its PostgreSQL backend {server}; peak RSS {rss_after:.0f} MiB "
          f"(before the import {rss_before:.0f} MiB); load average before {load[0]:.2f}, after "
          f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    print("summary: " + ", ".join(f"{k} {v:,}" for k, v in vars(summary).items()))
    print("stored: " + ", ".join(f"{k} {v:,}" for k, v in counts(study).items()))
    print(f"rate: {summary.comparisons / seconds:,.0f} comparisons/s")
    if not args.no_pages:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        pages(args.repeat)
    if not args.keep:
        from django.db import connections

        connections.close_all()
        database_drop(database)


if __name__ == "__main__":
    main()
