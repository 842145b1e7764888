"""PAL mixture reward models (Chen et al., arXiv 2406.08469) on frozen sentence embeddings.

User i mixes K prototypes with weights w_i = softmax(theta_i); all users' theta live in one
nn.Embedding, so a minibatch over many users is one tensor op.

- PAL-A: prototypes P (K x D) in embedding space; ideal point a_i = f(w_i^T P); r_i(x) = -||f(x) - a_i||.
- PAL-B: a_i(p) = sum_k w_ik g_k(p); r_i(p, x) = s * cos(f(x), a_i(p)), s = min(exp(lambda), 100).
K = 1 is the homogeneous Bradley-Terry reward model.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F

KINDS = ("A", "B")
MAX_SCALE = 100.0
INITIAL_LOG_SCALE = math.log(1 / 0.07)


@dataclass(frozen=True)
class PalArchitecture:
    kind: str
    k: int
    dim: int
    n_users: int
    hidden: int = 64
    out: int = 32
    theta_init_std: float = 0.1
    # Dropout on f's and g_k's hidden layer (training only): with a few thousand texts and many
    # judgments of each, the MLPs otherwise memorise the texts within an epoch or two.
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown PAL kind {self.kind!r}; expected one of {KINDS}")
        if self.k < 1:
            raise ValueError("k must be at least 1")

    def to_dict(self) -> dict:
        return asdict(self)


class GeluDropout(nn.Module):
    """One parameterless module, so f keeps the state-dict keys (f.0, f.2) of earlier artifacts."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.dropout(F.gelu(x), self.p, self.training)


def mlp(dim: int, hidden: int, out: int, dropout: float = 0.0) -> nn.Sequential:
    return nn.Sequential(nn.Linear(dim, hidden), GeluDropout(dropout), nn.Linear(hidden, out))


class StackedMLP(nn.Module):
    """K independent two-layer MLPs run as batched matmuls instead of a Python loop over k."""

    def __init__(self, k: int, dim: int, hidden: int, out: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.dropout = dropout
        self.w1 = nn.Parameter(_uniform((k, dim, hidden), dim))
        self.b1 = nn.Parameter(_uniform((k, hidden), dim))
        self.w2 = nn.Parameter(_uniform((k, hidden, out), hidden))
        self.b2 = nn.Parameter(_uniform((k, out), hidden))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(n, dim) -> (n, k, out)"""
        k, dim, width = self.w1.shape
        # One (n, dim) x (dim, K * hidden) product: a single large matmul, not K small ones.
        hidden = F.gelu((x @ self.w1.transpose(0, 1).reshape(dim, k * width)).view(-1, k, width) + self.b1)
        hidden = F.dropout(hidden, self.dropout, self.training)
        return torch.einsum("nkh,kho->nko", hidden, self.w2) + self.b2

    def forward_runs(self, x: torch.Tensor, counts: list[int]) -> torch.Tensor:
        """(n, dim) rows in runs, counts[k] rows for MLP k in order -> (n, out), each row through its
        own run's MLP only (per-group models: a row is computed for the groups that need it)."""
        parts = []
        for k, rows in enumerate(x.split(counts)):
            if len(rows):
                hidden = F.dropout(F.gelu(rows @ self.w1[k] + self.b1[k]), self.dropout, self.training)
                parts.append(hidden @ self.w2[k] + self.b2[k])
        return torch.cat(parts) if parts else x.new_zeros((0, self.w2.shape[-1]))


def take(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """x[index] along the first axis. index_select, not x[index]: on CPU advanced indexing of rows
    is several times slower, forward and backward, and the fit is mostly such gathers."""
    return x.index_select(0, index)


def _uniform(shape: tuple[int, ...], fan_in: int) -> torch.Tensor:
    # The same range nn.Linear uses, so a stacked g_k starts like K separate nn.Linear MLPs.
    bound = 1 / math.sqrt(fan_in)
    return torch.empty(shape).uniform_(-bound, bound)


class PalModel(nn.Module):
    """`pair_logits` is what training calls; `rewards` scores explicit rows for the reward API.
    Both take mixture weights (U, K) plus, per judgment, an index into them, so that seen users,
    few-shot users and groups all go through the same code."""

    def __init__(self, arch: PalArchitecture) -> None:
        super().__init__()
        self.arch = arch
        self.theta = nn.Embedding(arch.n_users, arch.k)
        nn.init.normal_(self.theta.weight, std=arch.theta_init_std)
        self.f = mlp(arch.dim, arch.hidden, arch.out, arch.dropout)

    def user_weights(self, users: torch.Tensor | None = None) -> torch.Tensor:
        logits = self.theta.weight if users is None else self.theta(users)
        return torch.softmax(logits, dim=-1)

    def pair_logits(
        self,
        weights: torch.Tensor,
        weight_index: torch.Tensor,
        prompts: torch.Tensor,
        a: torch.Tensor,
        b: torch.Tensor,
        prompt_x: torch.Tensor,
        candidate_x: torch.Tensor,
    ) -> torch.Tensor:
        """r(a) - r(b) per judgment, for the mixture weights[weight_index[j]] of judgment j."""
        return self.pair_scorer(prompts, a, b, prompt_x, candidate_x)(weights, weight_index)

    def pair_scorer(
        self,
        prompts: torch.Tensor,
        a: torch.Tensor,
        b: torch.Tensor,
        prompt_x: torch.Tensor,
        candidate_x: torch.Tensor,
    ) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        """Computes once what r(a) - r(b) needs apart from the mixtures, and returns (weights,
        weight_index) -> margins: few-shot fits call it many times with f and g_k frozen."""
        return self.plan_scorer(plan_pairs(prompts, a, b), prompt_x, candidate_x)

    def plan_scorer(
        self, plan: PairPlan, prompt_x: torch.Tensor, candidate_x: torch.Tensor
    ) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        """pair_scorer on judgments already turned into index arrays (a training loop plans each
        batch once). Texts are far fewer than judgments: f and g_k run once per distinct row."""
        raise NotImplementedError

    def rewards(
        self,
        weights: torch.Tensor,
        weight_index: torch.Tensor,
        prompt_x: torch.Tensor,
        response_x: torch.Tensor,
    ) -> torch.Tensor:
        """Reward of each response row, for the prompt row beside it and the mixture weight_index picks."""
        positions = torch.arange(len(response_x), device=response_x.device)
        ideal = self.ideal_points_for(prompt_x, positions)(weights, weight_index)
        return self.score(ideal, self.response_features(response_x))

    def response_features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def ideal_points_for(
        self, prompt_rows: torch.Tensor, prompt_index: torch.Tensor
    ) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        """(weights, weight_index) -> one ideal point per judgment, judgment j asking for the prompt
        prompt_rows[prompt_index[j]] and the mixture weights[weight_index[j]]."""
        raise NotImplementedError

    def score(self, ideal: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class PalA(PalModel):
    def __init__(self, arch: PalArchitecture) -> None:
        super().__init__(arch)
        # Prototypes start near unit norm, the scale of the normalised embeddings they live among.
        self.prototypes = nn.Parameter(torch.randn(arch.k, arch.dim) / math.sqrt(arch.dim))

    def response_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.f(x)

    def plan_scorer(self, plan, prompt_x, candidate_x):
        features = self.f(take(candidate_x, plan.candidate_rows))
        chosen, other = take(features, plan.a), take(features, plan.b)

        def margins(weights: torch.Tensor, weight_index: torch.Tensor) -> torch.Tensor:
            ideal = take(self.f(weights @ self.prototypes), weight_index)
            return self.score(ideal, chosen) - self.score(ideal, other)

        return margins

    def ideal_points_for(self, prompt_rows, prompt_index):
        # PAL-A's ideal points ignore the prompt. One f per mixture, not per judgment: a batch holds
        # many judgments of each user.
        return lambda weights, weight_index: self.f(weights @ self.prototypes)[weight_index]

    def score(self, ideal: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        # The epsilon keeps the gradient finite when a response sits exactly on the ideal point.
        return -torch.sqrt(((features - ideal) ** 2).sum(dim=-1).clamp_min(1e-12))


class PalB(PalModel):
    def __init__(self, arch: PalArchitecture) -> None:
        super().__init__(arch)
        self.g = StackedMLP(arch.k, arch.dim, arch.hidden, arch.out, arch.dropout)
        self.log_scale = nn.Parameter(torch.tensor(INITIAL_LOG_SCALE))

    def scale(self) -> torch.Tensor:
        return self.log_scale.exp().clamp(max=MAX_SCALE)

    def response_features(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.f(x), dim=-1)

    def plan_scorer(self, plan, prompt_x, candidate_x):
        """cos(f(x), a_i(p)) with a_i(p) = sum_k w_ik g_k(p) / ||...||, as K numbers per judgment:
        sum_k w_ik <g_k(p), f^(x)> / sqrt(w_i' Gram(p) w_i), Gram(p)_kl = <g_k(p), g_l(p)>. The
        (prompt, response) dot products and each prompt's K x K Gram are computed once per batch,
        so a judgment costs O(K^2), not a gathered (K, out) block and its backward."""
        features = self.response_features(take(candidate_x, plan.candidate_rows))  # (rows, out)
        prototypes = self.g(take(prompt_x, plan.prompt_rows))  # (prompt rows, K, out)
        k = prototypes.shape[1]
        # Per judgment tensors are laid out (K, judgments), (K, K, judgments): every elementwise op
        # then runs along one long contiguous axis (on CPU, (judgments, K) ops with K = 3 innermost
        # cost several times more, forward and backward).
        dots = (take(prototypes, plan.pair_prompt) * take(features, plan.pair_candidate).unsqueeze(1)).sum(-1)
        dots = dots.t().contiguous()  # (K, pairs)
        difference = dots.index_select(1, plan.pair_a) - dots.index_select(1, plan.pair_b)  # (K, judgments)
        gram = (prototypes @ prototypes.transpose(1, 2)).reshape(-1, k * k).t().contiguous()
        gram = gram.index_select(1, plan.prompt).view(k, k, -1)  # (K, K, judgments)
        scale = self.scale()

        def margins(weights: torch.Tensor, weight_index: torch.Tensor) -> torch.Tensor:
            w = weights.t().contiguous().index_select(1, weight_index)  # (K, judgments)
            squared_norm = (w.unsqueeze(1) * w.unsqueeze(0) * gram).sum((0, 1))
            # max(||ideal||, 1e-12), as F.normalize divides by
            return scale * (w * difference).sum(0) / squared_norm.clamp_min(1e-24).sqrt()

        return margins

    def ideal_points_for(self, prompt_rows, prompt_index):
        prototypes = self.g(prompt_rows)[prompt_index]  # (judgments, K, out)

        def mix(weights: torch.Tensor, weight_index: torch.Tensor) -> torch.Tensor:
            return F.normalize(torch.einsum("bk,bkd->bd", weights[weight_index], prototypes), dim=-1)

        return mix

    def score(self, ideal: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        return self.scale() * (ideal * features).sum(dim=-1)


@dataclass(frozen=True)
class PairPlan:
    """Judgments (prompt, a, b) as indices into their distinct rows: what a scorer needs, computed
    once per batch (or once for a fixed set, such as the validation split)."""

    candidate_rows: torch.Tensor  # distinct candidate rows
    prompt_rows: torch.Tensor  # distinct prompt rows
    a: torch.Tensor  # per judgment: index into candidate_rows
    b: torch.Tensor
    prompt: torch.Tensor  # per judgment: index into prompt_rows
    pair_prompt: torch.Tensor  # distinct (prompt, candidate) pairs: index into prompt_rows
    pair_candidate: torch.Tensor  # ... and into candidate_rows
    pair_a: torch.Tensor  # per judgment: index into the pairs
    pair_b: torch.Tensor

    def __len__(self) -> int:
        return len(self.a)


def plan_pairs(
    prompts: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    n_prompts: int | None = None,
    n_candidates: int | None = None,
) -> PairPlan:
    """`n_prompts` and `n_candidates` bound the row ids (default: read off the ids)."""
    n = len(a)
    rows, candidate = compact(torch.cat([a, b]), n_candidates)
    prompt_rows, prompt = compact(prompts, n_prompts)
    width = max(len(rows), 1)
    pairs, pair = compact(prompt.repeat(2) * width + candidate, len(prompt_rows) * width)
    return PairPlan(
        rows, prompt_rows, candidate[:n], candidate[n:], prompt,
        pairs // width, pairs % width, pair[:n], pair[n:],
    )


def compact(ids: torch.Tensor, size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """torch.unique(ids, return_inverse=True) for non-negative ids below `size`: by a presence table,
    without a sort, when the id space is small next to the ids (a training batch plans this way)."""
    if not len(ids):
        return ids, ids
    size = int(ids.max()) + 1 if size is None else size
    if size > 4 * len(ids) + 65536:
        return torch.unique(ids, return_inverse=True)
    present = torch.zeros(size, dtype=torch.bool, device=ids.device).index_fill_(0, ids, True)
    distinct = torch.nonzero(present).squeeze(1)
    # Each distinct id's position written once (a cumsum over the whole table costs far more).
    position = torch.empty(size, dtype=ids.dtype, device=ids.device)
    position.index_copy_(0, distinct, torch.arange(len(distinct), dtype=ids.dtype, device=ids.device))
    return distinct, position.index_select(0, ids)


def build_model(arch: PalArchitecture) -> PalModel:
    return PalA(arch) if arch.kind == "A" else PalB(arch)
