"""Benchmark of a ratings import on PostgreSQL, shaped like a real crowd dataset (issue 11).

The dataset it imitates: 13,036 offensiveness ratings of 1,500 comments (one prompt) by 262 annotators
with demographics (39 full groups, many with one or two members), about 50 ratings each on a 1-5 scale.
Each annotator's ~50 ratings become ~1,225 pairwise judgments, so the import derives ~320k judgments on
~272k new pairs, about 46% of them ties.

The bench (re)creates a scratch database `<DATABASE_URL's name>_bench` on DATABASE_URL's server (so it
never touches the database your tests use), migrates it, makes the study, prompt and candidates with the
ORM (no embedding: only the import is measured), writes the ratings file, then times
`judgments_import` on it and prints seconds, peak memory (ru_maxrss) and counts.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pw_x .venv/bin/python bench/ratings_import.py \
        [--annotators 262] [--per-annotator 50] [--items 1500] [--seed 0] [--keep]

Target: under 120 s for the full shape on the 2-core machine.
"""

import argparse
import io
import json
import os
import random
import resource
import time
from pathlib import Path

from pg_setup import database_drop, django_on_scratch_database

ROOT = Path(__file__).resolve().parent.parent
SLUG = "bench-ratings"
# 3 x 5 x 4 = 60 possible groups; a skewed draw of 262 annotators fills about 39 of them.
ATTRIBUTES = {
    "gender": ["woman", "man", "nonbinary"],
    "race": ["white", "black", "asian", "hispanic", "other"],
    "age": ["18-29", "30-44", "45-64", "65+"],
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--annotators", type=int, default=262)
    parser.add_argument("--per-annotator", type=int, default=50, help="ratings per annotator (mean)")
    parser.add_argument("--items", type=int, default=1500, help="candidates of the one prompt")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", action="store_true", help="print the import's cProfile (slows it)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    return parser.parse_args(argv)


def ratings_lines(args: argparse.Namespace) -> tuple[bytes, int]:
    """The ratings file (JSONL) and the number of groups it fills."""
    rng = random.Random(args.seed)
    combos = [{"gender": g, "race": r, "age": a}
              for g in ATTRIBUTES["gender"] for r in ATTRIBUTES["race"] for a in ATTRIBUTES["age"]]
    rng.shuffle(combos)
    weights = [1 / (rank + 1) ** 1.4 for rank in range(len(combos))]  # a few large groups, a long tail
    # Offensiveness: most comments are rated 1 by most people, so equal ratings (ties) are common.
    item_level = [rng.betavariate(0.4, 3.5) * 4 for _ in range(args.items)]
    out = io.StringIO()
    groups = set()
    for annotator in range(args.annotators):
        attributes = rng.choices(combos, weights)[0]
        groups.add(tuple(attributes.values()))
        shift = rng.gauss(0, 0.4)
        n = max(2, min(args.items, int(rng.gauss(args.per_annotator, 3))))
        for item in rng.sample(range(args.items), n):
            value = min(5, max(1, round(1 + item_level[item] + shift + rng.gauss(0, 0.6))))
            out.write(json.dumps({"annotator_id": f"w{annotator}", "attributes": attributes, "prompt_id": "comments",
                                  "candidate_id": f"c{item}", "rating": value}) + "\n")
    return out.getvalue().encode(), len(groups)


def study_create(items: int):
    from annotation.models import Candidate, Prompt, Study

    study = Study.objects.create(slug=SLUG, title="Ratings bench", consent="ok", group_attributes=ATTRIBUTES,
                                 overlap=3, pair_strategy="random")
    prompt = Prompt.objects.create(study=study, external_id="comments",
                                   turns=[{"role": "user", "content": "Is this comment offensive?"}])
    Candidate.objects.bulk_create(
        Candidate(prompt=prompt, external_id=f"c{i}", text=f"comment {i}", source="crowd") for i in range(items)
    )
    return study


def backend_cpu() -> float | None:
    """CPU seconds (user + system) of this connection's PostgreSQL backend, where the server runs on this
    machine: with the client's CPU it says what the import costs apart from waiting for a shared CPU."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def counts(study) -> dict[str, int]:
    from annotation.models import Judgment, Pair, Participant, Rating, Slot

    judgments = Judgment.objects.filter(participant__study=study)
    return {
        "ratings": Rating.objects.filter(participant__study=study).count(),
        "judgments": judgments.count(),
        "ties": judgments.filter(choice="tie").count(),
        "pairs": Pair.objects.filter(prompt__study=study).count(),
        "slots": Slot.objects.filter(study=study).count(),
        "participants": Participant.objects.filter(study=study).count(),
    }


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    database = django_on_scratch_database("_bench", ROOT)
    from annotation.judgment_files import judgments_import

    data, n_groups = ratings_lines(args)
    study = study_create(args.items)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    server_cpu = backend_cpu()
    started, cpu = time.perf_counter(), time.process_time()
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    summary = judgments_import(study=study, stream=io.BytesIO(data), source="bench.jsonl")
    if args.profile:
        profiler.disable()
        import pstats

        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    server_cpu = backend_cpu() - server_cpu if server_cpu is not None else None
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    found = counts(study)
    print(f"file: {args.annotators} annotators in {n_groups} groups, {args.items} items, "
          f"{len(data) / 1e6:.1f} MB")
    server = f"{server_cpu:.1f} s" if server_cpu is not None else "not readable here"
    print(f"import: {seconds:.1f} s wall; CPU: this process {cpu:.1f} s, its PostgreSQL backend {server}; "
          f"peak RSS {rss_after:.0f} MiB (before the import {rss_before:.0f} MiB)")
    print("summary: " + ", ".join(f"{k} {v:,}" for k, v in vars(summary).items()))
    print("stored: " + ", ".join(f"{k} {v:,}" for k, v in found.items())
          + f"; ties {found['ties'] / max(found['judgments'], 1):.0%}")
    print(f"rate: {found['judgments'] / seconds:,.0f} derived judgments/s; load {os.getloadavg()[0]:.2f}")
    if not args.keep:
        from django.db import connections

        connections.close_all()
        database_drop(database)


if __name__ == "__main__":
    main()
