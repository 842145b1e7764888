"""The per-group Bradley-Terry baseline: one K = 1 reward model per (known) group, each fitted on its own
members' judgments only, as one batched model.

Group g has its own f_g, g_g and scale (PAL-B) or f_g and prototype (PAL-A), stacked in one tensor
per parameter; a judgment is scored by its user's group's model. Every parameter belongs to one group
and the loss is a sum of per-group means, so Adam's per-parameter steps are those of separate fits;
early stopping is per group too: each group keeps its own best epoch, and its judgments leave the
epochs once its patience has run out. One loop over epochs replaces one fit per group (whose cost was
mostly per-fit overhead, and grew with the number of groups).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from alignment.pal.data import Judgments, PalData, PalSplit
from alignment.pal.device_data import DeviceData
from alignment.pal.model import (
    INITIAL_LOG_SCALE,
    KINDS,
    MAX_SCALE,
    PairPlan,
    PalArchitecture,
    StackedMLP,
    build_model,
    plan_pairs,
    take,
)
from alignment.pal.train import (
    TrainConfig,
    batch_size_for,
    deterministic_torch,
    epoch_batches,
    resolve_device,
    torch_threads,
)


@dataclass(frozen=True)
class GroupPlan:
    """Judgments as a PairPlan over (group, text) rows: row ids are group * n_rows + row, so the
    distinct rows come sorted by group and each group's MLP runs once on its run of them."""

    pairs: PairPlan
    candidate_rows: torch.Tensor  # the embedding row of each distinct (group, candidate)
    candidate_counts: list[int]  # distinct candidates per group, in group order
    prompt_rows: torch.Tensor
    prompt_counts: list[int]
    group: torch.Tensor  # per judgment: model group


def plan_groups(
    group: torch.Tensor, prompts: torch.Tensor, a: torch.Tensor, b: torch.Tensor, n_groups: int, tensors: DeviceData
) -> GroupPlan:
    n_candidates, n_prompts = len(tensors.candidates), len(tensors.prompts)
    pairs = plan_pairs(group * n_prompts + prompts, group * n_candidates + a, group * n_candidates + b,
                       n_groups * n_prompts, n_groups * n_candidates)
    return GroupPlan(
        pairs,
        pairs.candidate_rows % n_candidates,
        torch.bincount(pairs.candidate_rows // n_candidates, minlength=n_groups).tolist(),
        pairs.prompt_rows % n_prompts,
        torch.bincount(pairs.prompt_rows // n_prompts, minlength=n_groups).tolist(),
        group,
    )


class GroupBT(nn.Module):
    """n_groups independent K = 1 PAL models of one kind (PAL-B: s_g cos(f_g(x), g_g(p));
    PAL-A: -||f_g(x) - f_g(P_g)||), their parameters stacked along a leading group axis."""

    def __init__(self, kind: str, n_groups: int, dim: int, hidden: int, out: int, dropout: float) -> None:
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"unknown PAL kind {kind!r}; expected one of {KINDS}")
        self.kind, self.n_groups = kind, n_groups
        self.f = StackedMLP(n_groups, dim, hidden, out, dropout)
        if kind == "B":
            self.g = StackedMLP(n_groups, dim, hidden, out, dropout)
            self.log_scale = nn.Parameter(torch.full((n_groups,), INITIAL_LOG_SCALE))
        else:
            self.prototypes = nn.Parameter(torch.randn(n_groups, dim) / math.sqrt(dim))

    def margins(self, plan: GroupPlan, tensors: DeviceData) -> torch.Tensor:
        """r_g(a) - r_g(b) per judgment, g its group."""
        pairs = plan.pairs
        features = self.f.forward_runs(take(tensors.candidates, plan.candidate_rows), plan.candidate_counts)
        if self.kind == "A":
            ideal = take(self.f.forward_runs(self.prototypes, [1] * self.n_groups), plan.group)

            def distance(x: torch.Tensor) -> torch.Tensor:
                return torch.sqrt(((x - ideal) ** 2).sum(-1).clamp_min(1e-12))

            return distance(take(features, pairs.b)) - distance(take(features, pairs.a))
        features = F.normalize(features, dim=-1)
        ideal = F.normalize(self.g.forward_runs(take(tensors.prompts, plan.prompt_rows), plan.prompt_counts), dim=-1)
        # cos(f_g(x), g_g(p)) once per distinct (group, prompt, candidate), then gathered per judgment.
        dots = (take(ideal, pairs.pair_prompt) * take(features, pairs.pair_candidate)).sum(-1)
        scale = self.log_scale.exp().clamp(max=MAX_SCALE)[plan.group]
        return scale * (dots[pairs.pair_a] - dots[pairs.pair_b])


@dataclass
class GroupBTFit:
    model: GroupBT
    codes: np.ndarray  # the data's group code of each model group
    best_epoch: dict[int, int]  # by group code
    epochs_run: int
    seconds: float

    def model_groups(self, group_codes: np.ndarray) -> np.ndarray:
        """Model group of each data group code; -1 for no group or a group without a model."""
        lookup = np.full(int(max(group_codes.max(initial=0), self.codes.max(initial=0))) + 2, -1)
        lookup[self.codes] = np.arange(len(self.codes))
        return lookup[group_codes]  # a code of -1 reads the last slot, which stays -1

    @torch.no_grad()
    def margins(self, judgments: Judgments, groups: np.ndarray, tensors: DeviceData, chunk: int = 262144):
        """r(a) - r(b) of each judgment under the model of `groups` (model group indices, all >= 0)."""
        self.model.eval()
        _, prompts, a, b, _ = tensors.columns(judgments)
        group = torch.as_tensor(groups, device=tensors.device)
        parts = [
            self.model.margins(
                plan_groups(group[s : s + chunk], prompts[s : s + chunk], a[s : s + chunk], b[s : s + chunk],
                            self.model.n_groups, tensors),
                tensors,
            )
            for s in range(0, len(judgments), chunk)
        ]
        return torch.cat(parts).cpu().numpy() if parts else np.zeros(0, dtype=np.float32)


def fit_group_bt(
    data: PalData, split: PalSplit, *, kind: str, config: TrainConfig | None = None
) -> GroupBTFit | None:
    """One K = 1 model per group with training judgments, trained together; None without groups."""
    if data.user_group is None:
        return None
    config = config or TrainConfig()
    train_codes = data.user_group[split.train.user]
    codes = np.unique(train_codes[train_codes >= 0])
    if not len(codes):
        return None
    lookup = np.full(len(data.group_names) + 1, -1)  # the last slot answers code -1
    lookup[codes] = np.arange(len(codes))
    train_groups = lookup[train_codes]
    val_groups = lookup[data.user_group[split.val.user]]
    train, val = split.train.take(train_groups >= 0), split.val.take(val_groups >= 0)
    device = resolve_device(config.device)
    started = time.perf_counter()
    cuda_devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda_devices), deterministic_torch(device), torch_threads(config.threads):
        model = GroupBT(kind, len(codes), data.dim, config.hidden, config.out, config.dropout)
        _start_as_separate_fits(model, PalArchitecture(kind, 1, data.dim, data.n_users, config.hidden,
                                                       config.out, config.theta_init_std, config.dropout), config.seed)
        model = model.to(device)
        best_epoch, epochs = _train_groups(
            model, DeviceData(data, device), train, train_groups[train_groups >= 0], val,
            val_groups[val_groups >= 0], config,
        )
    return GroupBTFit(
        model.eval(), codes, {int(c): int(e) for c, e in zip(codes, best_epoch, strict=True)}, epochs,
        time.perf_counter() - started,
    )


@torch.no_grad()
def _start_as_separate_fits(model: GroupBT, arch: PalArchitecture, seed: int) -> None:
    """Every group starts from the K = 1 model fit_pal(seed) would start from: with dropout off,
    the batched fit then takes exactly the steps of one fit per group."""
    torch.manual_seed(seed)
    start = build_model(arch).state_dict()
    f = {"w1": start["f.0.weight"].t(), "b1": start["f.0.bias"], "w2": start["f.2.weight"].t(),
         "b2": start["f.2.bias"]}
    for name, value in f.items():
        getattr(model.f, name).copy_(value.expand_as(getattr(model.f, name)))
    if model.kind == "B":
        for name in ("w1", "b1", "w2", "b2"):
            getattr(model.g, name).copy_(start[f"g.{name}"].expand_as(getattr(model.g, name)))
        model.log_scale.fill_(float(start["log_scale"]))
    else:
        model.prototypes.copy_(start["prototypes"].expand_as(model.prototypes))


class GroupAdamW:
    """torch.optim.AdamW's update for parameters stacked along a leading group axis, applied to the
    groups a step names only, each with its own step count: a group moves exactly as in an AdamW fit
    of its own, however many steps the other groups take (a plain optimiser would keep moving a
    group that sits out a step, by its momentum and the decay)."""

    def __init__(self, groups: list[dict], n_groups: int, betas=(0.9, 0.999), eps: float = 1e-8) -> None:
        self.groups, self.betas, self.eps = groups, betas, eps
        device = groups[0]["params"][0].device
        self.steps = torch.zeros(n_groups, device=device)
        self.state = {id(p): (torch.zeros_like(p), torch.zeros_like(p)) for g in groups for p in g["params"]}

    def zero_grad(self) -> None:
        for group in self.groups:
            for p in group["params"]:
                p.grad = None

    @torch.no_grad()
    def step(self, stepping: torch.Tensor) -> None:
        """One AdamW step for the groups where `stepping` (bool, per group) is set."""
        beta1, beta2 = self.betas
        self.steps += stepping.float()
        count = self.steps.clamp_min(1)
        correction1, correction2 = 1 - beta1**count, (1 - beta2**count).sqrt()
        for group in self.groups:
            lr, decay = group["lr"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                shape = (-1,) + (1,) * (p.dim() - 1)
                mask = stepping.view(shape)
                exp_avg, exp_avg_sq = self.state[id(p)]
                exp_avg.copy_(torch.where(mask, exp_avg.lerp(p.grad, 1 - beta1), exp_avg))
                exp_avg_sq.copy_(torch.where(mask, exp_avg_sq * beta2 + (1 - beta2) * p.grad**2, exp_avg_sq))
                denom = exp_avg_sq.sqrt() / correction2.view(shape) + self.eps
                moved = p * (1 - lr * decay) - (lr / correction1.view(shape)) * exp_avg / denom
                p.copy_(torch.where(mask, moved, p))


def _optimizer(model: GroupBT, config: TrainConfig) -> GroupAdamW:
    # The rates and decay of fit_pal's (train._optimizer) for a K = 1 model.
    groups = [
        {"params": [p for name, p in model.named_parameters() if name.startswith(("f.", "g."))],
         "lr": config.lr, "weight_decay": config.weight_decay},
    ]
    if model.kind == "B":
        groups.append({"params": [model.log_scale], "lr": config.scale_lr, "weight_decay": 0.0})
    else:
        groups.append({"params": [model.prototypes], "lr": config.user_lr, "weight_decay": 0.0})
    return GroupAdamW(groups, model.n_groups)


def _group_steps(columns, group, active, config, generators) -> list[torch.Tensor]:
    """One epoch as joint steps: each live group's judgments cut into the batches a fit of its own
    would take (train.epoch_batches with that group's batch size and its own generator, seeded as
    fit_pal seeds one); step t joins batch t of every group that has one."""
    per_group = []
    for g in torch.nonzero(active).squeeze(1).tolist():
        mine = torch.nonzero(group == g).squeeze(1)
        prompts = columns[1].index_select(0, mine)
        n_prompts = int(torch.unique(prompts).numel())
        batches = epoch_batches(prompts, batch_size_for(config, len(mine)), generators[g], n_prompts)
        per_group.append([mine.index_select(0, index) for index in batches])
    steps = max((len(b) for b in per_group), default=0)
    return [torch.cat([b[t] for b in per_group if t < len(b)]) for t in range(steps)]


def _train_groups(model, tensors, train, train_groups, val, val_groups, config) -> tuple[np.ndarray, int]:
    n_groups = model.n_groups
    columns = tensors.columns(train)
    group = torch.as_tensor(train_groups, device=tensors.device)
    val_columns = tensors.columns(val)
    val_group = torch.as_tensor(val_groups, device=tensors.device)
    val_plan = plan_groups(val_group, *val_columns[1:4], n_groups, tensors)
    val_count = torch.bincount(val_group, minlength=n_groups).float()
    has_val = val_count > 0
    generators = [torch.Generator().manual_seed(config.seed) for _ in range(n_groups)]
    optimizer = _optimizer(model, config)
    active = torch.ones(n_groups, dtype=torch.bool, device=tensors.device)
    best_loss = torch.full((n_groups,), float("inf"), device=tensors.device)
    best_epoch = torch.zeros(n_groups, dtype=torch.long, device=tensors.device)
    best_state = {name: p.detach().clone() for name, p in model.named_parameters()}
    epoch = 0
    for epoch in range(1, config.max_epochs + 1):
        model.train()
        for rows in _group_steps(columns, group, active, config, generators):
            g = group.index_select(0, rows)
            plan = plan_groups(g, *(c.index_select(0, rows) for c in columns[1:4]), n_groups, tensors)
            per_judgment = F.binary_cross_entropy_with_logits(
                model.margins(plan, tensors), columns[4].index_select(0, rows), reduction="none")
            # A sum of per-group means: each group's parameters get the gradient of its own fit.
            share = torch.bincount(g, minlength=n_groups)
            loss = (per_judgment / share.clamp_min(1).float().index_select(0, g)).sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step(share > 0)
        model.eval()
        with torch.no_grad():
            per_judgment = F.binary_cross_entropy_with_logits(
                model.margins(val_plan, tensors), val_columns[4], reduction="none")
            val_loss = torch.zeros(n_groups, device=tensors.device).index_add_(0, val_group, per_judgment)
            val_loss = val_loss / val_count.clamp_min(1)
            # A group without validation judgments runs every epoch and keeps the last (as fit_pal).
            improved = active & (~has_val | (val_loss < best_loss - config.min_improvement))
            for name, p in model.named_parameters():
                best_state[name][improved] = p.detach()[improved]
            best_loss = torch.where(improved, val_loss, best_loss)
            best_epoch = torch.where(improved, torch.full_like(best_epoch, epoch), best_epoch)
            active &= improved | (epoch - best_epoch < config.patience)
        if not bool(active.any()):
            break
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(best_state[name])
    return best_epoch.cpu().numpy(), epoch
