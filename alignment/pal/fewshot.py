"""Few-shot mixture weights for users the model has not seen: everything but theta_new stays frozen."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from alignment.pal.data import Judgments, PalData, first_judgments
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
    config = config or FewShotConfig()
    users = np.unique(shots.user) if users is None else np.unique(users)
    prior = model.user_weights().detach().mean(0).cpu().numpy() if prior is None else np.asarray(prior)
    device = next(model.parameters()).device
    theta0 = torch.log(torch.as_tensor(prior, dtype=torch.float32, device=device).clamp_min(1e-6))
    theta = torch.nn.Parameter(theta0.repeat(len(users), 1))
    selected = first_judgments(shots.for_users(users), max(n, 0))
    if len(selected) and model.arch.k > 1:
        _fit_theta(model, data, selected, users, theta, theta0, config)
    return FewShotWeights(users, torch.softmax(theta.detach(), dim=-1).cpu().numpy())


def _fit_theta(model, data, selected, users, theta, theta0, config) -> None:
    tensors = DeviceData(data, theta.device)
    _, prompts, a, b, labels = tensors.columns(selected)
    index = torch.as_tensor(np.searchsorted(users, selected.user), device=theta.device)
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
