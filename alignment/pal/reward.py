"""A fitted PAL model as the reward API sees it: mixtures by user or group, and rewards of rows."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field

import numpy as np
import torch

from alignment.pal.data import PalData
from alignment.pal.evaluate import group_mixtures
from alignment.pal.model import PalModel
from alignment.pal.train import PalFit


@dataclass
class PalRewardModel:
    model: PalModel
    user_ids: tuple
    group_weights: dict[str, np.ndarray] = field(default_factory=dict)
    embedding_model: str = ""
    hyperparameters: dict = field(default_factory=dict)
    # Per user row: "fitted" (weights learned from training judgments), "held_out" (seen, but every
    # judgment fell in val/test) or "unseen" (kept out for few-shot evaluation). Only "fitted"
    # weights were trained; the others are where they started. Empty: an artifact from before this
    # was recorded, every user taken as fitted.
    user_status: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.model.eval()
        self._row_of = {user_id: row for row, user_id in enumerate(self.user_ids)}
        if self.user_status and len(self.user_status) != len(self.user_ids):
            raise ValueError("user_status needs one entry per user id")

    def status_of(self, user_id) -> str:
        return self.user_status[self._row_of[user_id]] if self.user_status else "fitted"

    @property
    def k(self) -> int:
        return self.model.arch.k

    def user_weights(self) -> np.ndarray:
        """(n_users, K) mixture weights, rows in `user_ids` order."""
        with torch.no_grad():
            return self.model.user_weights().cpu().numpy()

    def weights_for(self, who) -> np.ndarray:
        """`who` is a user id, a group name (users first, if a name is both) or a weight vector."""
        if isinstance(who, Hashable) and not isinstance(who, tuple):
            if who in self._row_of:
                return self.user_weights()[self._row_of[who]]
            if who in self.group_weights:
                return np.asarray(self.group_weights[who], dtype=np.float32)
            if isinstance(who, str | int):
                raise KeyError(f"{who!r} is neither a user id nor a group of this model")
        return _as_mixture(who, self.k)

    def reward(self, who, prompt_embedding: np.ndarray, response_embedding: np.ndarray) -> np.ndarray:
        """(n,) rewards of response rows (one row or n) for prompt rows (one row, shared, or n)."""
        weights = torch.as_tensor(self.weights_for(who), dtype=torch.float32)[None, :]
        prompts = torch.as_tensor(np.atleast_2d(prompt_embedding), dtype=torch.float32)
        responses = torch.as_tensor(np.atleast_2d(response_embedding), dtype=torch.float32)
        prompts = prompts.expand(len(responses), -1) if len(prompts) == 1 else prompts
        if len(prompts) != len(responses):
            raise ValueError("give one prompt row, or one per response row")
        with torch.no_grad():
            everyone = torch.zeros(len(responses), dtype=torch.long)
            rewards = self.model.rewards(weights, everyone, prompts, responses)
        return rewards.numpy()

    __call__ = reward

    def prototypes(self, prompt_embeddings: np.ndarray | None = None) -> np.ndarray:
        """PAL-A: the K prototypes (K, D) in embedding space. PAL-B: the K prototype ideal points
        g_k(p) (n, K, out) of the given prompts."""
        with torch.no_grad():
            if self.model.arch.kind == "A":
                return self.model.prototypes.detach().cpu().numpy()
            if prompt_embeddings is None:
                raise ValueError("PAL-B prototypes are functions of the prompt: pass prompt embeddings")
            prompts = torch.as_tensor(np.atleast_2d(prompt_embeddings), dtype=torch.float32)
            return self.model.g(prompts).numpy()


def _as_mixture(weights, k: int) -> np.ndarray:
    array = np.asarray(weights, dtype=np.float32).reshape(-1)
    if array.shape != (k,) or np.any(array < 0) or not np.isclose(array.sum(), 1.0, atol=1e-4):
        raise ValueError(f"mixture weights must be {k} non-negative numbers summing to 1")
    return array


def pal_reward_model(
    fit: PalFit, data: PalData, *, embedding_model: str = "", user_status: list[str] | None = None
) -> PalRewardModel:
    """Group mixtures count only users with training judgments (the others hold untrained weights).
    `user_status` (evaluate.annotator_status) defaults to fitted / held_out from the fit."""
    model = fit.model.cpu().eval()
    weights = model.user_weights().detach().numpy()
    mixtures = {
        name: np.asarray(w, dtype=np.float32)
        for name, w in group_mixtures(weights, data, fit.trained_users).items()
    }
    status = user_status or ["fitted" if t else "held_out" for t in fit.trained_users]
    return PalRewardModel(
        model, tuple(data.user_ids), mixtures, embedding_model, fit.config.to_dict(), tuple(status)
    )
