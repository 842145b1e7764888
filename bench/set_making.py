"""Candidate sets on real texts (issue 13): the Community Alignment sample in /work/shared/data (337 real prompts,
each with its NC-generated responses), embedded with the project's encoder, then sets chosen per prompt by `nc`
and `random` (alignment/sampling, the functions a set study's pairing job calls). Prints the mean set diversity
of each strategy, how often a set holds the prompt's closest two responses, and the selection time per prompt
(embedding apart). Not a test: the data is not the project's to ship.

    .venv/bin/python bench/set_making.py [--prompts 120] [--set-size 3] [--sets 2]
"""

import argparse
import csv
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from alignment.embeddings.encoder import encode_texts, load_encoder  # noqa: E402
from alignment.sampling import cosine_distances, nc_select_sets  # noqa: E402

SAMPLE = Path("/work/shared/data/community_alignment/coalign_pairs_en_balanced10.csv")


def prompt_pools(limit: int) -> list[list[str]]:
    pools: dict[str, dict[str, str]] = defaultdict(dict)
    with SAMPLE.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            for side in ("0", "1"):
                pools[row["dilemma_id"]][row[f"action_{side}_id"]] = row[f"action_{side}_description"]
    return [list(p.values()) for p in list(pools.values())[:limit]]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prompts", type=int, default=120)
    parser.add_argument("--set-size", type=int, default=3)
    parser.add_argument("--sets", type=int, default=2)
    args = parser.parse_args()
    pools = [p for p in prompt_pools(args.prompts) if len(p) >= args.set_size]
    encoder = load_encoder()
    start = time.perf_counter()
    embedded = [encode_texts(encoder, pool) for pool in pools]
    print(f"{len(pools)} prompts, {sum(map(len, pools))} responses embedded in {time.perf_counter() - start:.1f} s")
    for strategy in ("nc", "random"):
        start = time.perf_counter()
        chosen = [nc_select_sets(e, args.set_size, args.sets, seed=i, strategy=strategy)
                  for i, e in enumerate(embedded)]
        took = (time.perf_counter() - start) / len(pools) * 1000
        diversity = np.mean([s.diversity for sets in chosen for s in sets])
        closest = []
        for e, sets in zip(embedded, chosen, strict=True):
            d = cosine_distances(e) + np.eye(len(e)) * 9
            pair = set(np.unravel_index(np.argmin(d), d.shape))
            closest += [pair <= set(s.members) for s in sets]
        print(f"{strategy:>6}: {sum(map(len, chosen))} sets of {args.set_size}, mean diversity {diversity:.4f}, "
              f"holding the closest two responses {np.mean(closest):.1%}, selection {took:.2f} ms a prompt")


if __name__ == "__main__":
    main()
