"""Texts per second of the embedding pipeline (embed_with_cache: hashing, cache lookup, encoding of
misses, store) against raw SentenceTransformer.encode on the same texts, in the same run.

Cold (every text a miss, dict-backed store) and warm (every text a hit) passes; the encoder is loaded
once beforehand and its load time printed apart. Each timing is the best of --repeat rounds, the
runs alternating within a round.

    .venv/bin/python bench/embed.py [--n 2000] [--batch-size 64] [--repeat 3] [--threads N]
"""

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from alignment.embeddings import DEFAULT_MODEL, embed_with_cache, load_encoder  # noqa: E402

SUBJECTS = [
    "The city council",
    "My neighbour",
    "A small farmer",
    "The new teacher",
    "Our senator",
    "A nurse",
    "The union leader",
    "An old friend",
    "The startup founder",
    "A retired soldier",
]
VERBS = ["argues that", "worries that", "believes that", "doubts that", "hopes that", "insists that"]
CLAIMS = [
    "taxes on fuel should rise",
    "schools need longer holidays",
    "the border should stay open",
    "public transport must be free",
    "religion belongs in public life",
    "rents ought to be capped",
    "nuclear power is the safest option",
    "the army needs more money",
    "meat should cost more",
    "voting should be compulsory",
    "the old factory must be kept",
    "children need less screen time",
]
TAILS = [
    "",
    " this year",
    " for everyone's sake",
    ", at least in the long run",
    " despite the cost",
    " before the next election",
]


def sentences(n: int) -> list[str]:
    """n distinct sentences of mixed length, in a shuffled (seeded) order."""
    combos = itertools.product(SUBJECTS, VERBS, CLAIMS, TAILS)
    texts = [f"{s} {v} {c}{t}." for s, v, c, t in itertools.islice(combos, n)]
    if len(texts) < n:
        texts += [f"{texts[i % len(texts)]} (variant {i})" for i in range(n - len(texts))]
    order = np.random.default_rng(0).permutation(n)
    return [texts[i] for i in order]


def best_times(repeat: int, runs: dict) -> dict[str, float]:
    """Best wall time of each run over `repeat` rounds; the runs alternate within a round, so that a
    busy spell on a shared machine hits them alike."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeat):
        for name, run in runs.items():
            started = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - started)
    return best


class PrecomputedEncoder:
    """Answers encode() from a table, so that timing the pipeline around it leaves the model out."""

    def __init__(self, texts: list[str], dim: int = 384):
        self.rows = {text: i for i, text in enumerate(texts)}
        self.table = np.random.default_rng(0).normal(size=(len(texts), dim)).astype(np.float32)

    def encode(self, texts, **kwargs):
        return self.table[[self.rows[t] for t in texts]]

    def get_embedding_dimension(self) -> int:
        return self.table.shape[1]


def pipeline_overhead(texts: list[str], repeat: int) -> float:
    stub = PrecomputedEncoder(texts)

    def cold():
        cache: dict = {}
        embed_with_cache(
            texts,
            model_name=DEFAULT_MODEL,
            lookup=lambda m, hs: {h: cache[h] for h in hs if h in cache},
            store=lambda m, fresh: cache.update(fresh),
            encoder_factory=lambda name: stub,
        )

    started = time.perf_counter()
    stub.encode(texts)
    encode_only = time.perf_counter() - started
    return max(0.0, best_times(repeat, {"cold": cold})["cold"] - encode_only)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="distinct texts")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    texts = sentences(args.n)
    started = time.perf_counter()
    encoder = load_encoder(DEFAULT_MODEL)
    print(
        f"{DEFAULT_MODEL} loaded in {time.perf_counter() - started:.1f} s on {encoder.device}, "
        f"torch threads {torch.get_num_threads()}; {len(texts):,} distinct texts, batch {args.batch_size}"
    )
    encoder.encode(texts[:64], batch_size=args.batch_size)  # warm-up: first calls allocate

    def raw():
        encoder.encode(texts, batch_size=args.batch_size, normalize_embeddings=True, show_progress_bar=False)

    def pipeline(cache: dict):
        def lookup(model_name, hashes):
            return {h: cache[h] for h in hashes if h in cache}

        def store(model_name, fresh):
            cache.update(fresh)

        return embed_with_cache(
            texts,
            model_name=DEFAULT_MODEL,
            lookup=lookup,
            store=store,
            encoder_factory=lambda name: encoder,
            batch_size=args.batch_size,
        )

    warm_cache: dict = {}
    pipeline(warm_cache)
    best = best_times(
        args.repeat, {"raw": raw, "cold": lambda: pipeline({}), "warm": lambda: pipeline(warm_cache)}
    )
    raw_seconds, cold_seconds, warm_seconds = best["raw"], best["cold"], best["warm"]
    n = len(texts)
    print(f"raw SentenceTransformer.encode: {n / raw_seconds:,.0f} texts/s ({raw_seconds:.2f} s)")
    print(
        f"embed_with_cache, all misses:   {n / cold_seconds:,.0f} texts/s ({cold_seconds:.2f} s), "
        f"{cold_seconds / raw_seconds:.3f}x the raw time (target <= 1.2x)"
    )
    print(
        f"embed_with_cache, all hits:     {n / warm_seconds:,.0f} texts/s ({warm_seconds * 1000:.1f} ms), "
        f"{raw_seconds / warm_seconds:,.0f}x faster than raw"
    )
    overhead = pipeline_overhead(texts, args.repeat)
    print(
        f"pipeline work outside the encoder (hash, dedupe, lookup, store, gather), all misses: "
        f"{overhead * 1000:.1f} ms, {overhead / raw_seconds:.2%} of the raw encode time"
    )


if __name__ == "__main__":
    main()
