"""Hard user-to-prototype assignment rounds that start a PAL fit, as k-means starts EM.

Every user starts near the middle of the simplex, and the mixture likelihood has an optimum just as
good as the planted one where the largest group stays there and the prototypes bend around it; soft
training from the middle finds that one. A few rounds of (fit prototypes to hard assignments,
reassign each user to the prototype that explains their judgments best) put each group on a vertex
first; the mixture fit then starts from there.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from alignment.pal.model import PalModel

START_LOGIT = 2.0  # softmax([2, 0, 0]) = (0.79, 0.11, 0.11): a clear vertex, still free to move


def warm_start_users(
    model: PalModel,
    tensors,
    columns: tuple[torch.Tensor, ...],
    *,
    rounds: int,
    batch_size: int,
    lr: float,
    generator: torch.Generator,
) -> torch.Tensor:
    """Run the rounds, then set theta to the final assignment (users without judgments: uniform)."""
    n_users, k = model.theta.weight.shape
    assignment = torch.randint(0, k, (n_users,), generator=generator).to(tensors.device)
    optimizer = torch.optim.Adam([p for name, p in model.named_parameters() if not name.startswith("theta.")], lr=lr)
    for _ in range(rounds):
        _fit_prototypes(model, optimizer, tensors, columns, assignment, batch_size, generator)
        assignment = _reassign(model, tensors, columns, assignment)
    has_data = torch.bincount(columns[0], minlength=n_users) > 0
    with torch.no_grad():
        model.theta.weight.copy_(F.one_hot(assignment, k).float() * START_LOGIT * has_data[:, None])
    return assignment


def _fit_prototypes(model, optimizer, tensors, columns, assignment, batch_size, generator) -> None:
    model.train()
    vertices = torch.eye(model.arch.k, device=tensors.device)
    order = torch.randperm(len(columns[0]), generator=generator).to(tensors.device)
    for start in range(0, len(order), batch_size):
        users, prompts, a, b, labels = (c[order[start : start + batch_size]] for c in columns)
        logits = model.pair_logits(vertices, assignment[users], prompts, a, b, tensors.prompts, tensors.candidates)
        loss = F.binary_cross_entropy_with_logits(logits, labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()


@torch.no_grad()
def _reassign(model, tensors, columns, assignment) -> torch.Tensor:
    losses = prototype_losses(model, tensors, columns, len(assignment))
    fresh = losses.argmin(dim=1)
    counts = torch.bincount(columns[0], minlength=len(assignment)).clamp_min(1)
    # An emptied prototype takes the worst-explained user, the usual k-means repair, so that all K
    # prototypes stay in play.
    for k in range(model.arch.k):
        if not bool((fresh == k).any()):
            misfit = losses.gather(1, fresh[:, None]).squeeze(1) / counts
            fresh[int(misfit.argmax())] = k
    return fresh


@torch.no_grad()
def prototype_losses(
    model: PalModel, tensors, columns: tuple[torch.Tensor, ...], n_users: int, chunk: int = 65536
) -> torch.Tensor:
    """(n_users, K): each user's summed Bradley-Terry loss if they were all prototype k."""
    model.eval()
    vertices = torch.eye(model.arch.k, device=tensors.device)
    losses = torch.zeros(n_users, model.arch.k, device=tensors.device)
    for start in range(0, len(columns[0]), chunk):
        users, prompts, a, b, labels = (c[start : start + chunk] for c in columns)
        for k in range(model.arch.k):
            index = torch.full_like(users, k)
            logits = model.pair_logits(vertices, index, prompts, a, b, tensors.prompts, tensors.candidates)
            per_judgment = F.binary_cross_entropy_with_logits(logits, labels, reduction="none")
            losses[:, k].index_add_(0, users, per_judgment)
    return losses
