"""PAL-B against the per-group Bradley-Terry model on a known-truth population built on REAL texts
(prints figures): does early stopping keep more than the first epoch, and does PAL-B K = 2 reach the
per-group BT's seen-test accuracy?

Texts: the Community Alignment sample in /work/shared/data (337 prompts x 4 responses, see its README),
embedded with the project's model (cached under /tmp). The truth is the synthetic generator's
(alignment/pal/synthetic.py) put on those embeddings. Tests use the generator's `text_like` embeddings
instead: the data here is not shipped with the project.

    .venv/bin/python bench/pal_real_text.py [--users 200] [--per-user 100] [--groups 2] [--threads 2]
        [--seeds 0,1,2] [--precision int8]

--precision: the encoder's (alignment/embeddings/encoder.py); float32 by default, so that figures stay
comparable with earlier runs, though the product embeds at int8 (EMBEDDING_PRECISION). Each precision
has its own cache.

With several seeds (population, split and fits all change with the seed) it ends with one row per
seed and their mean: one seed's seen test holds a few hundred judgments (60 users x 60 judgments:
about 650), and dropout's draws alone move a fit's accuracy by up to 2.6 points there.
"""

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from alignment.pal import (  # noqa: E402
    TrainConfig,
    evaluate_pal,
    fit_kept,
    fit_pal,
    make_population,
    split_pal_data,
)

DATA = Path("/work/shared/data/community_alignment/coalign_pairs_en_balanced10.csv")
CACHES = {
    "float32": Path("/tmp/pluralweb-bench-coalign-embeddings.npz"),
    "int8": Path("/tmp/pluralweb-bench-coalign-embeddings-int8.npz"),
}


def texts() -> tuple[list[str], list[str]]:
    """Prompts, and each prompt's 4 responses in letter order (A-D)."""
    sets: dict[str, dict] = {}
    with DATA.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            entry = sets.setdefault(row["set_id"], {"prompt": row["situation"], "responses": {}})
            for side in ("0", "1"):
                entry["responses"][row[f"action_{side}_letter"]] = row[f"action_{side}_description"]
    complete = [s for s in sets.values() if sorted(s["responses"]) == ["A", "B", "C", "D"]]
    prompts = [s["prompt"] for s in complete]
    responses = [s["responses"][letter] for s in complete for letter in "ABCD"]
    return prompts, responses


def embeddings(precision: str = "float32") -> tuple[np.ndarray, np.ndarray]:
    cache = CACHES[precision]
    if cache.exists():
        cached = np.load(cache)
        return cached["prompts"], cached["responses"]
    from alignment.embeddings.encoder import load_encoder

    prompts, responses = texts()
    started = time.perf_counter()
    encoder = load_encoder(precision=precision)
    p = encoder.encode(prompts, batch_size=64, normalize_embeddings=True)
    r = encoder.encode(responses, batch_size=64, normalize_embeddings=True)
    print(f"embedded {len(prompts)} prompts and {len(responses)} responses at {precision} "
          f"in {time.perf_counter() - started:.0f} s")
    np.savez(cache, prompts=p, responses=r)
    return p, r


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--per-user", type=int, default=100)
    parser.add_argument("--groups", type=int, default=2)
    parser.add_argument("--scale", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seeds", default="0", help="comma-separated, e.g. 0,1,2")
    parser.add_argument("--text-like", action="store_true", help="the generator's text-like embeddings instead")
    parser.add_argument("--precision", choices=sorted(CACHES), default="float32",
                        help="the encoder's precision for the real texts (each has its own cache)")
    args = parser.parse_args(argv)
    if args.text_like:
        given = {"text_like": True, "n_prompts": 337, "dim": 384}
    else:
        prompts, responses = embeddings(args.precision)
        given = {"prompt_embeddings": prompts, "candidate_embeddings": responses}
    rows = [run(args, seed, given) for seed in (int(s) for s in args.seeds.split(","))]
    columns = ("PAL-B", "epoch B", "PAL-A", "epoch A", "group BT", "K=1", "truth", "cpu s B")
    print(f"\n{args.users} users x {args.per_user} judgments, seen-test accuracy (epoch: the one kept; "
          "cpu s B: PAL-B's fit, all its candidate fits)")
    print("seed  " + "  ".join(f"{c:>8}" for c in columns) + "  PAL-B fit kept")
    for seed, row in rows:
        print(f"{seed:>4}  " + "  ".join(_cell(row[c]) for c in columns) + f"  {row['kept B']}")
    print("mean  " + "  ".join(_cell(float(np.mean([row[c] for _, row in rows]))) for c in columns))


def _cell(value: float) -> str:
    return f"{value:>8.3f}" if isinstance(value, float) else f"{value:>8}"


def run(args: argparse.Namespace, seed: int, given: dict) -> tuple[int, dict]:
    population = make_population(kind="B", n_groups=args.groups, n_users=args.users, candidates_per_prompt=4,
                                 judgments_per_user=args.per_user, scale=args.scale, seed=seed, **given)
    data = population.data
    cos = data.candidate_embeddings @ data.candidate_embeddings.T
    print(f"\nseed {seed}: {len(data.judgments):,} judgments, {args.users} users, {data.dim}-d embeddings, "
          f"mean cosine between responses {cos[np.triu_indices(len(cos), 1)].mean():.3f}")
    split = split_pal_data(data, unseen_fraction=0.1, seed=seed)
    config = TrainConfig(threads=args.threads, seed=seed)
    row: dict = {}
    for kind in ("B", "A"):
        fit = fit_pal(data, split.train, split.val, kind=kind, k=args.groups, config=config)
        report = evaluate_pal(data, split, fit, config=config, truth_ceiling=population.ceiling_on)
        curve = " ".join(f"{row['val_loss']:.3f}" for row in fit.history[:12])
        print(f"PAL-{kind} K={args.groups}: {fit_kept(fit.config, config)} fit kept, epoch {fit.best_epoch} of "
              f"{len(fit.history)} ({fit.seconds:.1f} s, {fit.cpu_seconds:.1f} CPU s, all fits); "
              f"train loss at the end {fit.history[-1]['train_loss']:.3f}; val loss {curve}")
        print(f"  seen test: PAL {report.seen_accuracy:.3f} | K=1 {report.seen_accuracy_k1:.3f} | "
              f"per-group BT {report.seen_accuracy_group_bt:.3f} | truth {report.truth_ceiling['seen']:.3f}")
        shots = "  ".join(f"n={n}: {acc:.3f}" for n, acc in report.unseen_accuracy.items())
        print(f"  unseen: {shots} | K=1 {report.unseen_accuracy_k1:.3f} | truth {report.truth_ceiling['unseen']:.3f}")
        row[f"PAL-{kind}"], row[f"epoch {kind}"] = report.seen_accuracy, fit.best_epoch
        row[f"kept {kind}"], row[f"cpu s {kind}"] = fit_kept(fit.config, config), fit.cpu_seconds
        if kind == "B":  # the baselines of PAL-B's kind: the issue compares PAL-B with them
            row["group BT"], row["K=1"] = report.seen_accuracy_group_bt, report.seen_accuracy_k1
            row["truth"] = report.truth_ceiling["seen"]
    return seed, row


if __name__ == "__main__":
    main()
