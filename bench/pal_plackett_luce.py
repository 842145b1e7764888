"""Does PAL gain from a Plackett-Luce likelihood on set judgments (issue 13)? Prints figures.

The product fits PAL on set judgments expanded into pairwise comparisons (annotation/set_expansion.py): the
best beats each other member, and a ranking adds its pairs. That is a composite likelihood: the three
comparisons of one best-of-4 pick count as three independent Bradley-Terry events, where the pick is one
Plackett-Luce event, P(best) = exp(r_best) / sum_j exp(r_j). On the same pairwise margins d_j = r_best - r_j,
the Plackett-Luce negative log-likelihood of one pick is log(1 + sum_j exp(-d_j)); a full ranking is one such
pick per place, each over the members ranked below it.

This bench fits the same PAL-B model on the same known-truth set judgments twice, once with each loss, in one
training loop (AdamW with PAL's parameter groups and decay, early stopping on the validation set judgments'
Plackett-Luce loss for both, so the stopping rule does not favour either), and reports on held-out set
judgments of the seen users:
- `truth top-1`: how often the model's highest-reward member is the truth's (noise-free) best;
- `pick acc`: how often it is the annotator's observed pick;
- `pick NLL`: the Plackett-Luce negative log-likelihood of the observed picks (calibration);
- `ARI`: adjusted Rand index of the users' argmax mixture weight against the planted groups.

    .venv/bin/python bench/pal_plackett_luce.py [--seeds 0,1,2] [--users 90] [--sets 20] [--ranked]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a script from anywhere

from alignment.pal import TrainConfig, adjusted_rand_index, make_population  # noqa: E402
from alignment.pal.data import Judgments  # noqa: E402
from alignment.pal.device_data import DeviceData  # noqa: E402
from alignment.pal.model import PalArchitecture, build_model  # noqa: E402
from alignment.pal.train import _optimizer, batch_logits, plan_batch  # noqa: E402
from annotation.set_expansion import set_comparisons  # noqa: E402

SIZE = 4


def draw_sets(*, users: int, sets: int, ranked: bool, groups: int, prompts: int, scale: float, seed: int):
    """Per user `sets` set judgments of a prompt's 4 candidates: Plackett-Luce draws on the planted utilities."""
    population = make_population(kind="B", n_groups=groups, n_users=users, n_prompts=prompts, dim=32, seed=seed,
                                 text_like=True, scale=scale)
    rng = np.random.default_rng(seed + 1)
    picks = []  # (user, prompt, members in shown order, observed order best first)
    for user, group in enumerate(population.true_group):
        for prompt in rng.choice(prompts, size=sets, replace=False):
            shown = [int(prompt * SIZE + i) for i in rng.permutation(SIZE)]
            utility = population.utility[group, prompt, [c % SIZE for c in shown]]
            order = [shown[i] for i in np.argsort(-(utility + rng.gumbel(size=SIZE)))]
            picks.append((user, int(prompt), shown, order if ranked else order[:1]))
    return population, picks


def expand(picks: list, index: np.ndarray) -> tuple[Judgments, np.ndarray]:
    """The chosen set judgments' comparisons (winner as a, label 1) and each comparison's Plackett-Luce stage:
    one stage per (set judgment, winner), i.e. per place of the observed order."""
    rows, stage = [], []
    for i in index.tolist():
        user, prompt, shown, order = picks[i]
        ranking = [[c] for c in order[1:]]
        for comparison in set_comparisons(shown, order[0], ranking):
            rows.append((user, prompt, comparison.winner, comparison.loser, 1.0))
            stage.append(i * SIZE + order.index(comparison.winner))
    columns = [np.array(c) for c in zip(*rows, strict=True)]
    return Judgments.from_arrays(*columns), np.unique(np.array(stage), return_inverse=True)[1]


def pl_loss(margins: torch.Tensor, stage: torch.Tensor, n_stages: int) -> torch.Tensor:
    """Mean over stages of log(1 + sum_j exp(-d_j)): a segment logsumexp over each stage's margins and a 0."""
    top = torch.zeros(n_stages, device=margins.device).scatter_reduce(0, stage, -margins, "amax", include_self=True)
    total = torch.exp(-top).index_add(0, stage, torch.exp(-margins - top[stage]))
    return (top + torch.log(total)).mean()


def fit(population, train: tuple, val: tuple, *, loss: str, config: TrainConfig, k: int):
    data = population.data
    torch.manual_seed(config.seed)
    arch = PalArchitecture("B", k, data.dim, data.n_users, config.hidden, config.out, config.theta_init_std,
                           config.dropout)
    model = build_model(arch)
    tensors = DeviceData(data, torch.device("cpu"))
    optimizer = _optimizer(model, config)
    (train_j, train_stage), (val_j, val_stage) = train, val
    train_columns, val_batch = tensors.columns(train_j), plan_batch(tensors.columns(val_j))
    train_stage, val_stage = torch.as_tensor(train_stage), torch.as_tensor(val_stage)
    n_train_stages = int(train_stage.max()) + 1
    generator = torch.Generator().manual_seed(config.seed)
    best = (float("inf"), 0, None)
    for epoch in range(1, config.max_epochs + 1):
        model.train()
        # Batches of whole stages, so that each Plackett-Luce event stays in one batch.
        order = torch.randperm(n_train_stages, generator=generator)
        for part in order.tensor_split(16):
            rows = torch.nonzero(torch.isin(train_stage, part)).squeeze(1)
            batch = plan_batch([c.index_select(0, rows) for c in train_columns])
            margins = batch_logits(model, batch, tensors)
            if loss == "pl":
                stages, local = torch.unique(train_stage[rows], return_inverse=True)
                value = pl_loss(margins, local, len(stages))
            else:
                value = F.binary_cross_entropy_with_logits(margins, batch.labels)
            optimizer.zero_grad(set_to_none=True)
            value.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            val_loss = float(pl_loss(batch_logits(model, val_batch, tensors), val_stage, int(val_stage.max()) + 1))
        if val_loss < best[0] - config.min_improvement:
            best = (val_loss, epoch, {n: t.clone() for n, t in model.state_dict().items()})
        elif epoch - best[1] >= config.patience:
            break
    model.load_state_dict(best[2])
    return model.eval(), best[1]


@torch.no_grad()
def scores(model, population, picks: list, index: np.ndarray) -> dict:
    """The held-out set judgments: rewards of every member relative to the first shown one."""
    data = population.data
    tensors = DeviceData(data, torch.device("cpu"))
    user = np.repeat([picks[i][0] for i in index], SIZE)
    prompt = np.repeat([picks[i][1] for i in index], SIZE)
    members = np.array([picks[i][2] for i in index])
    reference = np.repeat(members[:, 0], SIZE)
    judgments = Judgments.from_arrays(user, prompt, members.reshape(-1), reference, np.ones(len(user)))
    reward = batch_logits(model, plan_batch(tensors.columns(judgments)), tensors).numpy().reshape(-1, SIZE)
    best = np.array([picks[i][2].index(picks[i][3][0]) for i in index])
    groups = population.true_group[[picks[i][0] for i in index]]
    truth = population.utility[groups[:, None], prompt.reshape(-1, SIZE), members % SIZE]
    log_p = reward - np.logaddexp.reduce(reward, axis=1, keepdims=True)
    weights = model.user_weights().numpy()
    return {
        "truth top-1": float((reward.argmax(1) == truth.argmax(1)).mean()),
        "pick acc": float((reward.argmax(1) == best).mean()),
        "pick NLL": float(-log_p[np.arange(len(best)), best].mean()),
        "ARI": adjusted_rand_index(population.true_group, weights.argmax(1)),
    }


def one_seed(args, seed: int) -> dict[str, dict]:
    population, picks = draw_sets(users=args.users, sets=args.sets, ranked=args.ranked, groups=args.groups,
                                  prompts=args.prompts, scale=args.scale, seed=seed)
    rng = np.random.default_rng(seed + 2)
    part = rng.random(len(picks))
    train_i, val_i, test_i = (np.flatnonzero(m) for m in (part < 0.7, (part >= 0.7) & (part < 0.85), part >= 0.85))
    train, val = expand(picks, train_i), expand(picks, val_i)
    config = TrainConfig(seed=seed, threads=args.threads)
    out = {}
    for loss in ("bt", "pl"):
        started = time.perf_counter()
        model, epoch = fit(population, train, val, loss=loss, config=config, k=args.groups)
        out[loss] = scores(model, population, picks, test_i) | {"epoch": epoch,
                                                                "seconds": time.perf_counter() - started}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--users", type=int, default=90)
    parser.add_argument("--sets", type=int, default=20, help="set judgments per user")
    parser.add_argument("--prompts", type=int, default=40)
    parser.add_argument("--groups", type=int, default=3)
    parser.add_argument("--ranked", action="store_true", help="full rankings instead of best only")
    parser.add_argument("--scale", type=float, default=10.0, help="the truth's reward scale: lower, noisier picks")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    metrics = ("truth top-1", "pick acc", "pick NLL", "ARI", "epoch")
    print(f"PAL-B K={args.groups}, {args.users} users x {args.sets} {'ranked sets' if args.ranked else 'best-of-4'}"
          f", {args.prompts} prompts, reward scale {args.scale}, text-like embeddings; held-out set judgments of seen "
          "users")
    print(f"{'seed':>4} {'loss':>4} " + " ".join(f"{m:>11}" for m in metrics))
    totals: dict[str, list] = {"bt": [], "pl": []}
    for seed in [int(s) for s in args.seeds.split(",")]:
        result = one_seed(args, seed)
        for loss in ("bt", "pl"):
            totals[loss].append([result[loss][m] for m in metrics])
            print(f"{seed:>4} {loss:>4} " + " ".join(f"{result[loss][m]:>11.3f}" for m in metrics))
    for loss, rows in totals.items():
        print(f"{'mean':>4} {loss:>4} " + " ".join(f"{v:>11.3f}" for v in np.mean(rows, axis=0)))


if __name__ == "__main__":
    main()
