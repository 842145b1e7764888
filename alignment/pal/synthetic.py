"""A population with known preference groups, to check that PAL finds what was planted.

Truth lives in a latent space: f*(x) = x R. Group k of K* has a PAL-B prototype function
g*_k(p) = p M_k + c_k (reward s * cos(f*(x), g*_k(p))) or a PAL-A ideal point a*_k
(reward -s * ||f*(x) - a*_k||). `agreement` blends a shared component into every group, so groups
agree partly, as real ones do. Each user belongs to one group; labels are drawn from Bradley-Terry.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alignment.pal.data import TIE, Judgments, PalData


@dataclass(frozen=True)
class SyntheticPopulation:
    data: PalData
    true_group: np.ndarray  # (n_users,)
    true_prob: np.ndarray  # P(a preferred) under the truth, per judgment row
    ceiling: float  # accuracy of the true reward over all judgments, in expectation
    # scale x true reward of every (group, prompt, candidate of that prompt): (K*, n_prompts, per_prompt), so that
    # other judgment shapes (best-of-k sets, rankings) can be drawn from the same truth.
    utility: np.ndarray | None = None

    def ceiling_on(self, judgments: Judgments) -> float:
        """Expected accuracy of the truth on these judgments: no model can beat it on average."""
        decided = judgments.label != TIE
        p = self.true_prob[judgments.row[decided]]
        return float(np.maximum(p, 1 - p).mean())


@dataclass(frozen=True)
class _Truth:
    projection: np.ndarray  # R (D, L)
    group_maps: np.ndarray  # M_k (K*, D, L), PAL-B
    group_offsets: np.ndarray  # c_k or a*_k (K*, L)


def make_population(
    *,
    kind: str = "B",
    n_groups: int = 3,
    n_users: int = 60,
    n_prompts: int = 40,
    candidates_per_prompt: int = 4,
    dim: int = 32,
    judgments_per_user: int = 50,
    latent_dim: int = 8,
    scale: float = 10.0,
    agreement: float = 0.3,
    group_shares: tuple[float, ...] | None = None,
    text_like: bool = False,
    prompt_embeddings: np.ndarray | None = None,
    candidate_embeddings: np.ndarray | None = None,
    seed: int = 0,
) -> SyntheticPopulation:
    """Groups are unequal by default (shares proportional to K*, K*-1, ..., 1): the minority matters.

    Embeddings are isotropic unit vectors by default; `text_like` draws them as sentence embeddings
    are (one shared direction, most variance in a few dimensions); `prompt_embeddings` and
    `candidate_embeddings` (candidate rows in blocks of `candidates_per_prompt` per prompt) put the
    truth on real texts' embeddings."""
    rng = np.random.default_rng(seed)
    if prompt_embeddings is not None and candidate_embeddings is not None:
        prompts, candidates = _unit_rows(prompt_embeddings), _unit_rows(candidate_embeddings)
        n_prompts, dim = prompts.shape
        if len(candidates) != n_prompts * candidates_per_prompt:
            raise ValueError("candidate_embeddings needs candidates_per_prompt rows per prompt row")
    else:
        draw = _text_like_rows if text_like else _isotropic_rows
        prompts = draw(rng, n_prompts, dim)
        candidates = draw(rng, n_prompts * candidates_per_prompt, dim)
    truth = _draw_truth(rng, n_groups, dim, latent_dim, agreement)
    groups = _assign_groups(rng, n_users, group_shares or tuple(range(n_groups, 0, -1)))
    user, prompt, a, b = _draw_comparisons(rng, n_users, n_prompts, candidates_per_prompt, judgments_per_user)
    rewards = _reward_table(kind, truth, prompts, candidates.reshape(n_prompts, candidates_per_prompt, dim))
    g, m = groups[user], candidates_per_prompt
    margin = scale * (rewards[g, prompt, a % m] - rewards[g, prompt, b % m])
    prob = 1 / (1 + np.exp(-margin))
    label = (rng.random(len(prob)) < prob).astype(np.float32)
    data = PalData(
        prompts.astype(np.float32),
        candidates.astype(np.float32),
        Judgments.from_arrays(user, prompt, a, b, label),
        user_ids=tuple(f"user-{i}" for i in range(n_users)),
        user_group=groups,
        group_names=tuple(f"group-{k}" for k in range(n_groups)),
    )
    return SyntheticPopulation(data, groups, prob, float(np.maximum(prob, 1 - prob).mean()), scale * rewards)


def _unit_rows(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _isotropic_rows(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    return _unit_rows(rng.normal(size=(n, dim)))


def _text_like_rows(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    """Unit rows shaped like sentence embeddings of one domain: a common direction (typical cosine
    between two texts about 0.3) plus a spectrum that decays with the dimension, so that a free MLP
    on D inputs can memorise each text long before it learns the few directions that matter."""
    spectrum = 1.0 / np.sqrt(1.0 + np.arange(dim))
    spread = rng.normal(size=(n, dim)) * spectrum / np.linalg.norm(spectrum)
    common = _unit_rows(rng.normal(size=(1, dim)))
    return _unit_rows(0.6 * common + spread * np.sqrt(1 - 0.6**2))


def _draw_truth(rng: np.random.Generator, n_groups: int, dim: int, latent: int, agreement: float) -> _Truth:
    def blended(shape: tuple[int, ...]) -> np.ndarray:
        shared, own = rng.normal(size=shape[1:]), rng.normal(size=shape)
        return np.sqrt(agreement) * shared + np.sqrt(1 - agreement) * own

    # 1/sqrt(latent) keeps latent vectors of unit embeddings near unit norm, whatever the sizes.
    projection = rng.normal(size=(dim, latent)) / np.sqrt(latent)
    return _Truth(
        projection,
        blended((n_groups, dim, latent)) / np.sqrt(latent),
        blended((n_groups, latent)) / np.sqrt(latent),
    )


def _assign_groups(rng: np.random.Generator, n_users: int, shares: tuple[float, ...]) -> np.ndarray:
    shares_arr = np.asarray(shares, dtype=np.float64) / np.sum(shares)
    sizes = np.floor(shares_arr * n_users).astype(np.int64)
    sizes[: n_users - sizes.sum()] += 1
    return rng.permutation(np.repeat(np.arange(len(sizes)), sizes))


def _draw_comparisons(rng, n_users, n_prompts, per_prompt, per_user) -> tuple[np.ndarray, ...]:
    n = n_users * per_user
    user = np.repeat(np.arange(n_users), per_user)
    prompt = rng.integers(0, n_prompts, size=n)
    first = rng.integers(0, per_prompt, size=n)
    second = (first + rng.integers(1, per_prompt, size=n)) % per_prompt  # never the same candidate
    return user, prompt, prompt * per_prompt + first, prompt * per_prompt + second


def _reward_table(kind: str, truth: _Truth, prompts: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """True reward of every (group, prompt, candidate of that prompt): (K*, n_prompts, per_prompt).
    Computed per prompt rather than per judgment, so no (D x L) map is ever gathered per judgment."""
    latent = candidates @ truth.projection  # (n_prompts, per_prompt, L)
    if kind == "A":
        offsets = truth.group_offsets[:, None, None, :]
        return -np.linalg.norm(latent[None] - offsets, axis=3)
    ideal = np.einsum("pd,kdl->kpl", prompts, truth.group_maps) + truth.group_offsets[:, None, :]
    unit_ideal = ideal / np.linalg.norm(ideal, axis=2, keepdims=True)
    unit_latent = latent / np.linalg.norm(latent, axis=2, keepdims=True)
    return np.einsum("kpl,pcl->kpc", unit_ideal, unit_latent)
