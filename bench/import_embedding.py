"""How long a study import keeps its caller (request, command) before and after embedding moved to a worker.

On a scratch PostgreSQL database (default: recreated `pw_embq`), three imports of the same shape with fresh
texts each (so every text is a cache miss):

- before: what an import did until now, in one call: store the prompts and candidates, then embed and pair
  prompt by prompt (annotation.pairing.pairs_create, as the old study_import called it);
- inline: `study_import(on_worker=False)` (import_study --wait, the demo): embed all texts in one pass, pair;
- queued: `study_import(on_worker=True)` (admin upload, API, import_study): the time to return, then the
  worker's body (pairing_job_execute) timed apart, as the `embeddings` worker runs it.

Wall and CPU seconds of this process per phase, and the load average before and after.

    .venv/bin/python bench/import_embedding.py [--candidates 500] [--per-prompt 5] [--words 300]
"""

import argparse
import io
import json
import os
import random
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.pg_setup import bench_env, database_recreate  # noqa: E402

WORDS = ("the a council neighbour farmer teacher senator nurse union friend founder soldier argues worries "
         "believes doubts hopes insists taxes fuel schools holidays border public transport religion rents nuclear "
         "power army money meat voting factory children screen time should must ought never always because while "
         "despite although community family freedom fairness tradition safety future cost election values").split()


def study_file(slug: str, *, candidates: int, per_prompt: int, words: int, seed: int) -> bytes:
    rng = random.Random(seed)
    nonce = uuid.uuid4().hex  # fresh texts: every one a cache miss
    lines = [{"study": {"slug": slug, "title": slug, "group_attributes": {"party": ["D", "R"]}, "overlap": 3,
                        "quota": 20, "consent": "ok", "pair_strategy": "nc"}}]
    for p in range(candidates // per_prompt):
        lines.append({"prompt_id": f"p{p}", "turns": [{"role": "user", "content": f"Question {p} about values?"}],
                      "candidates": [{"candidate_id": f"p{p}c{c}",
                                      "text": f"{nonce} {p} {c}. " + " ".join(rng.choices(WORDS, k=words))}
                                     for c in range(per_prompt)]})
    return "".join(json.dumps(line) + "\n" for line in lines).encode()


def timed(label: str, call) -> tuple[object, dict]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = call()
    figures = {"wall_s": round(time.perf_counter() - wall, 2), "cpu_s": round(time.process_time() - cpu, 2)}
    print(f"{label:<44} wall {figures['wall_s']:>8.2f} s   cpu {figures['cpu_s']:>8.2f} s", flush=True)
    return result, figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--candidates", type=int, default=500)
    parser.add_argument("--per-prompt", type=int, default=5)
    parser.add_argument("--words", type=int, default=300)
    parser.add_argument("--database", default="pw_embq")
    args = parser.parse_args()

    database_recreate(args.database)
    os.environ.update(bench_env(args.database))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from alignment.embeddings import load_encoder
    from annotation.models import Candidate, Pair, Prompt
    from annotation.pairing import pairs_create
    from annotation.pairing_jobs import pairing_job_execute
    from annotation.study_files import study_import

    load_encoder()  # loaded once, as a warm worker or web process has it
    print(f"{args.candidates} candidates of {args.words} words, {args.per_prompt} per prompt; "
          f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}", flush=True)
    shape = {"candidates": args.candidates, "per_prompt": args.per_prompt, "words": args.words}

    def before() -> int:
        summary = study_import(io.BytesIO(study_file("before", seed=1, **shape)), on_worker=True)
        pairs = 0
        for prompt in Prompt.objects.filter(study=summary.study).order_by("id"):
            pairs += pairs_create(study=summary.study, prompt=prompt,
                                  candidates=list(Candidate.objects.filter(prompt=prompt).order_by("id")))
        return pairs

    pairs, _ = timed("before: import, embedding prompt by prompt", before)
    inline, _ = timed("inline: study_import(on_worker=False)", lambda: study_import(
        io.BytesIO(study_file("inline", seed=2, **shape))))
    queued, _ = timed("queued: study_import(on_worker=True) returns", lambda: study_import(
        io.BytesIO(study_file("queued", seed=3, **shape)), on_worker=True))
    job, _ = timed("worker: pairing_job_execute (embed + pair)", lambda: pairing_job_execute(job_id=queued.job.pk))
    made = Pair.objects.filter(prompt__study=queued.study).count()
    print(f"pairs: before {pairs}, inline {inline.pairs}, queued at return {queued.pairs}, "
          f"after the worker {made} ({job.status}, {job.texts_done}/{job.texts_total} texts)")
    print(f"load average after: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")
    # The two jobs' messages were sent for real: take them back, so no worker on this broker meets them.
    from kombu import Queue

    from alignment.broker import broker_connection

    with broker_connection() as broker:
        Queue("embeddings").bind(broker.default_channel).purge()


if __name__ == "__main__":
    main()
