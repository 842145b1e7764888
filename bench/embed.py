"""Texts per second of the embedding pipeline (embed_with_cache: hashing, cache lookup, encoding of
misses by the product's encoder at --precision, int8 by default; store) against raw float32
SentenceTransformer.encode on the same texts, in the same run, for short texts (one sentence), long ones
(--words, 300 by default: past the model's 256-token window) and, with --real, the Community Alignment
sample's prompts and responses from /work/shared/data (real texts, ~20-150 words).

Cold (every text a miss, dict-backed store) and warm (every text a hit) passes; the encoders are loaded
once beforehand and their load times printed apart. Each timing is the best of --repeat rounds, the
runs alternating within a round, in wall seconds and in this process's CPU seconds (on a shared machine
the CPU seconds are the steadier figure). The pipeline's vectors are compared with the raw ones: worst and
mean cosine (the tolerance is > 0.99 for every text), and how often a text's nearest neighbour stays the same.

--backends also times the faster encoders one could put behind the pipeline, each against the float32
PyTorch vectors (the tolerance is cosine > 0.99 for every text): PyTorch dynamic int8 quantisation of the
linear layers, and ONNX Runtime float32 with all graph optimisations when `onnxruntime`, `onnx` and
`onnxscript` are importable (not project dependencies: `pip install onnxruntime onnx onnxscript` into a
scratch environment). Figures in README ("Benchmarks").

    .venv/bin/python bench/embed.py [--n 2000] [--n-long 200] [--words 300] [--batch-size 64]
        [--repeat 3] [--threads N] [--precision int8|float32] [--real] [--backends]
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

from alignment.embeddings import DEFAULT_MODEL, PRECISIONS, embed_with_cache, load_encoder  # noqa: E402

REAL = Path("/work/shared/data/community_alignment/coalign_pairs_en_balanced10.csv")

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


def long_texts(n: int, words: int) -> list[str]:
    """n distinct texts of `words` words each, made of the sentences above (ids keep them distinct)."""
    pool = sentences(2000)
    texts, at = [], 0
    for i in range(n):
        parts = [f"Response {i}."]
        while sum(len(part.split()) for part in parts) < words:
            parts.append(pool[at % len(pool)])
            at += 1
        texts.append(" ".join(" ".join(parts).split()[:words]))
    return texts


def best_times(repeat: int, runs: dict, cpu: dict | None = None) -> dict[str, float]:
    """Best wall time of each run over `repeat` rounds; the runs alternate within a round, so that a
    busy spell on a shared machine hits them alike. `cpu`, when given, gets each run's best CPU seconds."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeat):
        for name, run in runs.items():
            started, cpu_started = time.perf_counter(), time.process_time()
            run()
            best[name] = min(best[name], time.perf_counter() - started)
            if cpu is not None:
                cpu[name] = min(cpu.get(name, float("inf")), time.process_time() - cpu_started)
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


def measure(encoder, product, texts: list[str], label: str, batch_size: int, repeat: int) -> float:
    """Print raw float32 `encoder` vs the pipeline on `product` (cold, warm) for these texts; the raw
    encode's seconds."""
    for model in (encoder, product):
        model.encode(texts[:batch_size], batch_size=batch_size)  # warm-up: first calls allocate

    def raw():
        return encoder.encode(texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False)

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
            encoder_factory=lambda name: product,
            batch_size=batch_size,
        )

    warm_cache: dict = {}
    vectors = pipeline(warm_cache)
    cpu: dict[str, float] = {}
    best = best_times(repeat, {"raw": raw, "cold": lambda: pipeline({}), "warm": lambda: pipeline(warm_cache)}, cpu)
    raw_seconds, cold_seconds, warm_seconds = best["raw"], best["cold"], best["warm"]
    n = len(texts)
    reference = raw()
    cosines = (reference * vectors).sum(axis=1)
    print(f"[{label}] {n:,} texts, {np.mean([len(t.split()) for t in texts]):.0f} words on average")
    print(f"  raw float32 SentenceTransformer.encode: {n / raw_seconds:,.1f} texts/s ({raw_seconds:.2f} s; "
          f"{n / cpu['raw']:,.1f} texts per CPU-second)")
    print(
        f"  embed_with_cache, all misses:   {n / cold_seconds:,.1f} texts/s ({cold_seconds:.2f} s), "
        f"{raw_seconds / cold_seconds:.2f}x raw; {n / cpu['cold']:,.1f} texts per CPU-second, "
        f"{cpu['raw'] / cpu['cold']:.2f}x raw"
    )
    print(f"  its vectors against raw float32: worst cosine {cosines.min():.4f} "
          f"({'within' if cosines.min() > 0.99 else 'OUTSIDE'} 0.99), mean {cosines.mean():.5f}; "
          f"nearest neighbour the same for {same_neighbour(reference, vectors):.1%} of texts")
    print(
        f"  embed_with_cache, all hits:     {n / warm_seconds:,.0f} texts/s ({warm_seconds * 1000:.1f} ms), "
        f"{raw_seconds / warm_seconds:,.0f}x faster than raw"
    )
    overhead = pipeline_overhead(texts, repeat)
    print(
        f"  pipeline work outside the encoder (hash, dedupe, lookup, store, gather), all misses: "
        f"{overhead * 1000:.1f} ms, {overhead / raw_seconds:.2%} of the raw encode time"
    )
    return raw_seconds


def same_neighbour(reference: np.ndarray, other: np.ndarray) -> float:
    """Share of rows whose most similar other row is the same under both sets of vectors."""
    def nearest(vectors):
        similarity = vectors @ vectors.T
        np.fill_diagonal(similarity, -np.inf)
        return similarity.argmax(axis=1)

    return float((nearest(reference) == nearest(other)).mean())


def real_texts() -> list[str]:
    """The Community Alignment sample's distinct prompts and responses."""
    import csv

    seen: dict[str, None] = {}
    with REAL.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            for column in ("situation", "action_0_description", "action_1_description"):
                seen.setdefault(row[column])
    return list(seen)


def compare_backends(encoder, texts: list[str], label: str, batch_size: int, repeat: int) -> None:
    """Other encoders against float32 PyTorch on the same texts: speed and the worst cosine."""
    from bench.embed_backends import available_backends

    reference = encoder.encode(texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False)
    runs = {"float32 PyTorch": lambda: encoder.encode(
        texts, batch_size=batch_size, normalize_embeddings=True, show_progress_bar=False)}
    worst: dict[str, float] = {}
    for name, encode in available_backends(encoder, batch_size).items():
        worst[name] = float((encode(texts) * reference).sum(axis=1).min())
        runs[name] = lambda encode=encode: encode(texts)
    best = best_times(repeat, runs)
    base = best["float32 PyTorch"]
    for name, seconds in best.items():
        cosine = f"worst cosine {worst[name]:.4f} ({'within' if worst[name] > 0.99 else 'OUTSIDE'} 0.99)" \
            if name in worst else "reference"
        print(f"  [{label}] {name:<28} {len(texts) / seconds:7.1f} texts/s, {base / seconds:.2f}x; {cosine}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="distinct short texts")
    parser.add_argument("--n-long", type=int, default=200, help="distinct long texts")
    parser.add_argument("--words", type=int, default=300, help="words per long text")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--precision", choices=PRECISIONS, default="int8", help="the pipeline's encoder")
    parser.add_argument("--real", action="store_true", help=f"also the real texts of {REAL}")
    parser.add_argument("--backends", action="store_true", help="also time int8 and ONNX Runtime encoders")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    short, long = sentences(args.n), long_texts(args.n_long, args.words)
    started = time.perf_counter()
    encoder = load_encoder(DEFAULT_MODEL)
    print(
        f"{DEFAULT_MODEL} loaded in {time.perf_counter() - started:.1f} s on {encoder.device}, "
        f"torch threads {torch.get_num_threads()}, {torch.backends.cpu.get_cpu_capability()}; batch {args.batch_size}"
    )
    started = time.perf_counter()
    product = load_encoder(DEFAULT_MODEL, precision=args.precision)
    print(f"the pipeline's encoder ({args.precision}) loaded in {time.perf_counter() - started:.1f} s")
    measure(encoder, product, short, "short: one sentence", args.batch_size, args.repeat)
    measure(encoder, product, long, f"long: {args.words} words", args.batch_size, args.repeat)
    if args.real:
        measure(encoder, product, real_texts(), "real: Community Alignment prompts and responses", args.batch_size,
                args.repeat)
    if args.backends:
        print("backends against float32 PyTorch (best of --repeat):")
        compare_backends(encoder, short[: max(256, args.n // 4)], "short", args.batch_size, args.repeat)
        compare_backends(encoder, long, "long", args.batch_size, args.repeat)


if __name__ == "__main__":
    main()
