"""PAL fit speed, memory and accuracy on a synthetic population with known groups (prints figures).

Default: 200k judgments from 2,000 annotators on 2,000 prompts x 4 candidates, D = 384, K* = 3 (PAL-B
truth); fits PAL-B K = 3 and reports wall time, judgments/s, peak memory, seen and unseen accuracy
against the truth ceiling and the K = 1 / per-group baselines. Then times a straightforward per-user
loop (a Python dict of per-user logits, one forward per user per step, as in the reference code)
against the vectorised fit on a 20k-judgment subset, in the same run.

    .venv/bin/python bench/pal_fit.py [--quick] [--device cpu|cuda] [--judgments N] [--epochs N] [--threads N]

The refit speed target: `--judgments 300000 --annotators 3000 --prompts 3000 --threads 1 --no-loop`
(the "refit as the worker runs it" line, under 60 s on a 2-core CPU). `--small-data-below N`: PAL-B also
runs the small-data candidate fit below N training judgments (TrainConfig.small_data_below, the setting
PLURALWEB_PAL_TWO_FITS_BELOW in the product).
"""

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from alignment.pal import (  # noqa: E402
    PalArchitecture,
    PalData,
    TrainConfig,
    adjusted_rand_index,
    assignment_clusters,
    build_model,
    evaluate_pal,
    fit_kept,
    fit_pal,
    make_population,
    small_data_candidate,
    split_pal_data,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--judgments", type=int, default=200_000)
    parser.add_argument("--annotators", type=int, default=2000)
    parser.add_argument("--prompts", type=int, default=2000)
    parser.add_argument("--candidates", type=int, default=4, help="per prompt")
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--k", type=int, default=3, help="K* of the truth and K of the fit")
    parser.add_argument("--epochs", type=int, default=60, help="most epochs (early stopping may end sooner)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present)")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's own)")
    parser.add_argument("--loop-judgments", type=int, default=20_000, help="subset for the per-user loop")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--small-data-below", type=int, default=TrainConfig.small_data_below,
                        help="training judgments below which PAL-B also runs the small-data candidate fit")
    parser.add_argument("--quick", action="store_true", help="20k judgments, 200 annotators, 200 prompts")
    parser.add_argument("--no-loop", action="store_true", help="skip the per-user loop comparison")
    args = parser.parse_args(argv)
    if args.quick:
        args.judgments, args.annotators, args.prompts, args.loop_judgments = 20_000, 200, 200, 5_000
    return args


def peak_memory() -> str:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    text = f"peak RSS {rss:,.0f} MiB"
    if torch.cuda.is_available():
        text += f", CUDA max allocated {torch.cuda.max_memory_allocated() / 2**20:,.0f} MiB"
    return text


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    config = TrainConfig(max_epochs=args.epochs, device=args.device, seed=args.seed, threads=args.threads,
                         small_data_below=args.small_data_below)
    device = config.device or ("cuda" if torch.cuda.is_available() else "cpu")
    print(f"device {device}, torch threads {torch.get_num_threads()}, torch {torch.__version__}")
    started = time.perf_counter()
    population = make_population(
        kind="B",
        n_groups=args.k,
        n_users=args.annotators,
        n_prompts=args.prompts,
        candidates_per_prompt=args.candidates,
        dim=args.dim,
        latent_dim=16,
        seed=args.seed,
        judgments_per_user=args.judgments // args.annotators,
    )
    split_started = time.perf_counter()
    split = split_pal_data(population.data, unseen_fraction=0.1, seed=args.seed)
    split_seconds = time.perf_counter() - split_started
    print(
        f"population: {len(population.data.judgments):,} judgments, {args.annotators:,} annotators "
        f"({len(split.unseen_users)} unseen), {args.prompts:,} prompts x {args.candidates} candidates, "
        f"D={args.dim}, K*={args.k}; built in {time.perf_counter() - started:.1f} s"
    )
    fit = fit_and_report(population, split, args, config)
    evaluation, evaluation_cpu = report_accuracy(population, split, fit, config)
    print(f"\nrefit as the worker runs it (split + fit + evaluation): {split_seconds + fit.seconds + evaluation:.1f} s "
          f"wall (split {split_seconds:.1f}, fit {fit.seconds:.1f}, evaluation {evaluation:.1f}); "
          f"{fit.cpu_seconds + evaluation_cpu:.1f} s of process CPU (fit {fit.cpu_seconds:.1f}, evaluation "
          f"{evaluation_cpu:.1f}) on {len(population.data.judgments):,} judgments, {torch.get_num_threads()} torch "
          f"threads; load average {os.getloadavg()[0]:.1f}")
    if not args.no_loop:
        compare_with_user_loop(population, split, args, config, device)


def fit_and_report(population, split, args, config):
    fit = fit_pal(population.data, split.train, split.val, kind="B", k=args.k, config=config)
    rounds = config.assignment_rounds * args.k
    passes = rounds + len(fit.history)
    n_fits = 1 + (small_data_candidate(config, "B", args.k, len(split.train), len(split.val),
                                       grouped=assignment_clusters(population.data) is not None) is not None)
    print(
        f"\nPAL-B K={args.k} on {len(split.train):,} training judgments: fit {fit.seconds:.1f} s wall, "
        f"{fit.cpu_seconds:.1f} s process CPU, all {n_fits} fits (small-data candidates); kept: "
        f"{fit_kept(fit.config, config)}, {passes} passes ({rounds} assignment rounds + {len(fit.history)} epochs, "
        f"best epoch {fit.best_epoch})"
    )
    # With several fits the time covers all of them and the passes only the kept one's: a lower bound.
    print(
        f"  {len(split.train) * passes / fit.seconds:,.0f} judgments/s processed{' (at least)' if n_fits > 1 else ''}, "
        f"{len(split.train) / fit.seconds:,.0f} training judgments per second of whole fit"
    )
    print(f"  {peak_memory()}")
    weights = fit.model.user_weights().detach().cpu().numpy()
    seen = fit.trained_users
    ari = adjusted_rand_index(population.true_group[seen], weights[seen].argmax(1))
    print(f"  group recovery (argmax of w_i vs planted groups): adjusted Rand index {ari:.3f}")
    return fit


def report_accuracy(population, split, fit, config) -> float:
    started, cpu_started = time.perf_counter(), time.process_time()
    report = evaluate_pal(population.data, split, fit, config=config, truth_ceiling=population.ceiling_on)
    ceiling = report.truth_ceiling
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    print(f"\naccuracy (evaluation {seconds:.1f} s, K=1 and per-group BT baselines fitted in it)")
    print("  evaluation phases, wall (process CPU): " + ", ".join(
        f"{name} {s:.1f} s ({report.cpu_seconds[name]:.1f})" for name, s in report.seconds.items()))
    print(f"  {report.few_shot.get('text')}")
    used = "  ".join(f"n={n}: {u.get('mean', 0):.1f}" for n, u in report.shots_used.items())
    print(f"  shots actually used per unseen user (mean): {used}")
    print(
        f"  seen users, test split: PAL {report.seen_accuracy:.3f} | K=1 {report.seen_accuracy_k1:.3f} | "
        f"per-group BT {report.seen_accuracy_group_bt:.3f} | truth ceiling {ceiling['seen']:.3f}"
    )
    shots = "  ".join(f"n={n}: {acc:.3f}" for n, acc in report.unseen_accuracy.items())
    print(f"  unseen users by judgments used: {shots}")
    print(
        f"  unseen users: K=1 {report.unseen_accuracy_k1:.3f} | "
        f"per-group BT {report.unseen_accuracy_group_bt:.3f} | truth ceiling {ceiling['unseen']:.3f}"
    )
    for group, acc in report.group_accuracy.items():
        print(
            f"  {group} (n={report.group_n.get(group)}): PAL {acc:.3f} | K=1 {report.group_accuracy_k1[group]:.3f} | "
            f"per-group BT {report.group_accuracy_group_bt[group]:.3f}"
        )
    print(f"  {peak_memory()}")
    return seconds, cpu_seconds


class UserLoopPal(torch.nn.Module):
    """The reference shape: per-user logits in a ParameterDict keyed by user id, and per step a
    Python loop over the batch's users, each running f and g_k on its own judgments' rows."""

    def __init__(self, template, user_ids):
        super().__init__()
        self.f, self.g, self.log_scale = template.f, template.g, template.log_scale
        self.theta = torch.nn.ParameterDict(
            {u: torch.nn.Parameter(torch.randn(template.arch.k) * 0.1) for u in user_ids}
        )

    def loss(self, users, prompts, a, b, labels, prompt_x, candidate_x, user_ids):
        total = 0.0
        for user in torch.unique(users).tolist():
            mine = users == user
            w = torch.softmax(self.theta[user_ids[user]], dim=0)
            ideal = F.normalize(torch.einsum("k,nkd->nd", w, self.g(prompt_x[prompts[mine]])), dim=-1)
            fa = F.normalize(self.f(candidate_x[a[mine]]), dim=-1)
            fb = F.normalize(self.f(candidate_x[b[mine]]), dim=-1)
            scale = self.log_scale.exp().clamp(max=100)
            logits = scale * ((ideal * fa).sum(-1) - (ideal * fb).sum(-1))
            total = total + F.binary_cross_entropy_with_logits(logits, labels[mine], reduction="sum")
        return total / len(users)


def compare_with_user_loop(population, split, args, config, device) -> None:
    # Whole users (the loop's unit of work), taken in order until the subset holds enough judgments.
    counts = np.bincount(split.train.user, minlength=population.data.n_users)
    users = np.flatnonzero(counts)
    subset_users = users[: int(np.searchsorted(np.cumsum(counts[users]), args.loop_judgments)) + 1]
    subset = split.train.for_users(subset_users)
    batch = max(256, len(subset) // 16)
    epochs = 2
    vectorised = fit_pal(
        population.data,
        subset,
        subset.take(np.arange(0)),
        kind="B",
        k=args.k,
        config=TrainConfig(
            max_epochs=epochs, assignment_rounds=0, batch_size=batch, device=args.device, seed=args.seed
        ),
    )
    vector_rate = len(subset) * epochs / vectorised.seconds
    loop_seconds = time_user_loop(population.data, subset, args, batch, device)
    loop_rate = len(subset) / loop_seconds
    print(
        f"\nper-user loop vs vectorised: {len(subset):,} judgments of {len(subset_users)} users, "
        f"batch {batch}, same device and threads"
    )
    print(
        f"  per-user loop {loop_rate:,.0f} judgments/s ({loop_seconds:.1f} s/epoch) | vectorised "
        f"{vector_rate:,.0f} judgments/s ({vectorised.seconds / epochs:.2f} s/epoch) | "
        f"speed-up x{vector_rate / loop_rate:.1f}"
    )


def time_user_loop(data: PalData, subset, args, batch: int, device: str) -> float:
    """Seconds for one training epoch of the per-user loop."""
    torch.manual_seed(args.seed)
    arch = PalArchitecture("B", args.k, data.dim, data.n_users)
    model = UserLoopPal(build_model(arch), [str(u) for u in data.user_ids]).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    prompt_x = torch.as_tensor(data.prompt_embeddings, device=device)
    candidate_x = torch.as_tensor(data.candidate_embeddings, device=device)
    columns = [
        torch.as_tensor(c, device=device)
        for c in (subset.user, subset.prompt, subset.a, subset.b, subset.label)
    ]
    user_ids = [str(u) for u in data.user_ids]
    order = torch.randperm(len(subset), device=device)
    started = time.perf_counter()
    for start in range(0, len(subset), batch):
        rows = [c[order[start : start + batch]] for c in columns]
        loss = model.loss(*rows, prompt_x, candidate_x, user_ids)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
