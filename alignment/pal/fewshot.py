"""Few-shot mixture weights for users the model has not seen: everything but theta_new stays frozen."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from alignment.pal.data import Judgments, PalData, rank_within_user
from alignment.pal.device_data import DeviceData
from alignment.pal.model import PalModel


@dataclass(frozen=True)
class FewShotConfig:
    steps: int = 150
    lr: float = 0.1
    # Pull toward the prior mixture: with one or two judgments the likelihood alone would push theta
    # to a vertex of the simplex on no evidence.
    prior_strength: float = 0.5


@dataclass(frozen=True)
class FewShotWeights:
    users: np.ndarray  # user rows, sorted
    weights: np.ndarray  # (len(users), K)

    def index_of(self, user_rows: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.users, user_rows)


def fit_new_users(
    model: PalModel,
    data: PalData,
    shots: Judgments,
    n: int,
    *,
    users: np.ndarray | None = None,
    prior: np.ndarray | None = None,
    config: FewShotConfig | None = None,
) -> FewShotWeights:
    """Mixture weights for `users` (default: every user in `shots`) from each one's first n judgments
    in `shots`; with n = 0 (or no judgments) a user gets the prior, by default the mean mixture of
    the model's users. All users are fitted together in full-batch steps."""
    return fit_new_users_by_shots(model, data, shots, (n,), users=users, prior=prior, config=config)[n]


def fit_new_users_by_shots(
    model: PalModel,
    data: PalData,
    shots: Judgments,
    ns: Iterable[int],
    *,
    users: np.ndarray | None = None,
    prior: np.ndarray | None = None,
    config: FewShotConfig | None = None,
) -> dict[int, FewShotWeights]:
    """fit_new_users for every n in `ns` at once: one theta row per (n, user), all in one tensor
    under one optimiser. Each row's loss involves only its own judgments and Adam's steps are per
    element, so each row moves as it would in a fit of its own (to float rounding)."""
    config = config or FewShotConfig()
    ns = sorted(set(ns))
    users = np.unique(shots.user) if users is None else np.unique(users)
    prior = model.user_weights().detach().mean(0).cpu().numpy() if prior is None else np.asarray(prior)
    device = next(model.parameters()).device
    theta0 = torch.log(torch.as_tensor(prior, dtype=torch.float32, device=device).clamp_min(1e-6))
    theta = torch.nn.Parameter(theta0.repeat(len(ns) * len(users), 1))
    pool = shots.for_users(users)
    rank = rank_within_user(pool.user)
    position = np.searchsorted(users, pool.user)
    picked = [np.flatnonzero(rank < max(n, 0)) for n in ns]
    rows = np.concatenate([level * len(users) + position[p] for level, p in enumerate(picked)])
    selected = pool.take(np.concatenate(picked))
    if len(selected) and model.arch.k > 1:
        _fit_theta(model, data, selected, torch.as_tensor(rows, device=device), theta, theta0, config)
    weights = torch.softmax(theta.detach(), dim=-1).cpu().numpy().reshape(len(ns), len(users), -1)
    return {n: FewShotWeights(users, weights[level]) for level, n in enumerate(ns)}


def _fit_theta(model, data, selected, index, theta, theta0, config) -> None:
    tensors = DeviceData(data, theta.device)
    _, prompts, a, b, labels = tensors.columns(selected)
    optimizer = torch.optim.Adam([theta], lr=config.lr)
    frozen = [p.requires_grad for p in model.parameters()]
    model.eval().requires_grad_(False)
    try:
        margins = model.pair_scorer(prompts, a, b, tensors.prompts, tensors.candidates)
        for _ in range(config.steps):
            logits = margins(torch.softmax(theta, dim=-1), index)
            # Summed, not averaged: each user's evidence should count the same whatever the crowd size.
            loss = F.binary_cross_entropy_with_logits(logits, labels, reduction="sum")
            loss = loss + config.prior_strength * ((theta - theta0) ** 2).sum()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    finally:
        for parameter, flag in zip(model.parameters(), frozen, strict=True):
            parameter.requires_grad_(flag)
