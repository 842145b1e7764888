"""A population whose groups differ in first-order preferences and in salience, to check SPICA.

Scenarios belong to topics (embedding = topic centre + noise, so similarity finds the topic). Each
candidate carries one of `n_stances` stances (refusal, multi-perspective, ... in SPICA's study), shared
across scenarios. Group g's utility of stance k on topic t is u[g, t, k] = pref[g, k] + topic[t, k]:
a group preference plus a topic effect every group shares. Salience: each group cares strongly
(Bradley-Terry scale `strong`) about its own random half of the topics and barely (`weak`) about the
rest, so on most scenarios a group's judgments are noisy and only some reveal its norm. The last group
is the far one: its preference is the opposite of the others' and it is the smallest (fewest judgments
per scenario), so population shrinkage and group-agnostic retrieval serve it worst.

Each judgment comes from a member drawn from its group's pool of `members_per_group`, so a member may
judge several pairs of one scenario. With `raters_per_group`, members also rate every candidate of a
scenario on 1-5 (SPICA's study design): rating = round(3 + 2 tanh(salience * (u - mean u) / 2) + noise),
clipped to [1, 5], so a group that cares gives extreme ratings and one that does not stays near 3.
Annotators and ratings are drawn after the judgments, so a seed gives the same judgments either way.

`weak_salience_scenarios` is the shape of real crowd data, where a tuned metric bonus can swamp
similarity: many topics, texts whose embeddings sit close together (a small cosine spread, as long
responses give), two raters per group and scenario, noisy 1-5 ratings, and groups that care only weakly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alignment.spica.data import GroupJudgments, GroupRatings, SpicaData

RATING_LOW, RATING_HIGH = 1.0, 5.0


@dataclass(frozen=True)
class SyntheticScenarios:
    data: SpicaData
    topic: np.ndarray  # (n_s,)
    stance: np.ndarray  # (n_s, C) stance of each candidate
    utility: np.ndarray  # (G, T, K) true utility
    salience: np.ndarray  # (G, T) Bradley-Terry scale of each topic
    distance_from_population: np.ndarray  # (G,) mean |pref_g - pref_pop| over stances
    scenario_salience: np.ndarray  # (G, n_s) the scale each judgment and rating used (topic's, or flipped)

    @property
    def furthest_group(self) -> int:
        return int(np.argmax(self.distance_from_population))


def make_scenarios(
    *,
    n_scenarios: int = 2000,
    n_groups: int = 4,
    n_topics: int = 8,
    n_stances: int = 5,
    candidates: int = 4,
    dim: int = 32,
    judgments_per_group: tuple[float, ...] | None = None,
    strong: float = 4.0,
    weak: float = 0.3,
    topic_effect: float = 0.5,
    embedding_noise: float = 0.8,
    members_per_group: int = 50,
    raters_per_group: tuple[float, ...] | None = None,
    rating_noise: float = 0.7,
    fixed_raters: bool = False,
    salience_flip: float = 0.0,
    seed: int = 0,
) -> SyntheticScenarios:
    """`judgments_per_group`: mean judgments per scenario by each group (Poisson); by default 4 for
    every group but the far one, which has 1.5. `raters_per_group`: mean members per scenario and group
    who rate all its candidates (Poisson, or exactly that many, rounded, with `fixed_raters`); None: no
    ratings."""
    rng = np.random.default_rng(seed)
    rates = np.asarray(judgments_per_group or (4.0,) * (n_groups - 1) + (1.5,), dtype=np.float64)
    topic = rng.integers(0, n_topics, size=n_scenarios)
    embeddings = _unit_rows(
        _unit_rows(rng.normal(size=(n_topics, dim)))[topic]
        + embedding_noise * rng.normal(size=(n_scenarios, dim)) / np.sqrt(dim)
    )
    stance = np.argsort(rng.random((n_scenarios, n_stances)), axis=1)[:, :candidates]  # distinct stances
    utility, preference = _utilities(rng, n_groups, n_topics, n_stances, topic_effect)
    salience = np.where(rng.random((n_groups, n_topics)) < 0.5, strong, weak)
    per_scenario = salience[:, topic]  # (G, n_s)
    if salience_flip > 0:
        flip = rng.random(per_scenario.shape) < salience_flip
        per_scenario = np.where(flip, strong + weak - per_scenario, per_scenario)
    judgments = _judge(rng, topic, stance, utility, per_scenario, rates, members_per_group)
    ratings = None
    if raters_per_group is not None:
        raters = np.asarray(raters_per_group, dtype=np.float64)
        if len(raters) != n_groups:
            raise ValueError("raters_per_group needs one rate per group")
        ratings = _rate(rng, topic, stance, utility, per_scenario, raters, members_per_group, rating_noise,
                        fixed_raters)
    pop = (rates[:, None] * preference).sum(axis=0) / rates.sum()
    data = SpicaData(
        embeddings=embeddings.astype(np.float32),
        candidate_features=np.eye(n_stances, dtype=np.float32)[stance],
        n_candidates=np.full(n_scenarios, candidates, dtype=np.int64),
        judgments=judgments,
        group_names=tuple(f"group-{g}" for g in range(n_groups)),
        ratings=ratings,
    )
    return SyntheticScenarios(data, topic, stance, utility, salience, np.abs(preference - pop).mean(axis=1),
                              per_scenario)


def _unit_rows(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _utilities(rng, n_groups: int, n_topics: int, n_stances: int, topic_effect: float) -> tuple[np.ndarray, ...]:
    shared = rng.permutation(np.linspace(-1.0, 1.0, n_stances))  # a clear order, whatever the seed
    # Near groups: the shared preference plus a small deviation; the far group: its opposite.
    preference = shared[None, :] + 0.3 * rng.normal(size=(n_groups, n_stances))
    preference[-1] = -shared + 0.3 * rng.normal(size=n_stances)
    topic = topic_effect * rng.normal(size=(n_topics, n_stances))
    return preference[:, None, :] + topic[None, :, :], preference


def _judge(rng, topic, stance, utility, salience, rates, members: int) -> GroupJudgments:
    n_s, n_c = stance.shape
    counts = rng.poisson(rates[None, :], size=(n_s, len(rates)))  # (n_s, G)
    cell = np.repeat(np.arange(counts.size), counts.reshape(-1))
    scenario, group = cell // len(rates), cell % len(rates)
    a = rng.integers(0, n_c, size=len(cell))
    b = (a + rng.integers(1, n_c, size=len(cell))) % n_c  # never the same candidate
    t = topic[scenario]
    margin = utility[group, t, stance[scenario, a]] - utility[group, t, stance[scenario, b]]
    prob = 1 / (1 + np.exp(-salience[group, scenario] * margin))
    label = (rng.random(len(cell)) < prob).astype(np.float64)
    annotator = group * members + rng.integers(0, members, size=len(cell))  # member ids are per group
    return GroupJudgments.from_arrays(scenario, group, a, b, label, annotator=annotator)


def _rate(rng, topic, stance, utility, salience, raters, members: int, noise: float, fixed: bool) -> GroupRatings:
    """Each rater rates every candidate of the scenario; raters are distinct members of the group."""
    n_s, n_c = stance.shape
    drawn = (np.broadcast_to(np.round(raters).astype(np.int64), (n_s, len(raters))) if fixed
             else rng.poisson(raters[None, :], size=(n_s, len(raters))))
    counts = np.minimum(drawn, members)  # (n_s, G)
    cell = np.repeat(np.arange(counts.size), counts.reshape(-1))  # one entry per (scenario, group, rater)
    scenario, group = cell // len(raters), cell % len(raters)
    # Distinct members per cell: consecutive pool positions from a random start (counts <= members).
    first = np.cumsum(counts.reshape(-1)) - counts.reshape(-1)
    start = rng.integers(0, members, size=counts.size)
    annotator = group * members + (start[cell] + np.arange(len(cell)) - first[cell]) % members
    t = topic[scenario]
    centred = utility[group, t] - utility[group, t].mean(axis=1, keepdims=True)  # (n, K)
    latent = salience[group, scenario][:, None] * np.take_along_axis(centred, stance[scenario], axis=1)  # (n, C)
    mid, half = (RATING_LOW + RATING_HIGH) / 2, (RATING_HIGH - RATING_LOW) / 2
    rating = np.clip(np.round(mid + half * np.tanh(latent / 2) + noise * rng.normal(size=latent.shape)),
                     RATING_LOW, RATING_HIGH)
    return GroupRatings.from_arrays(
        np.repeat(scenario, n_c), np.repeat(group, n_c), np.tile(np.arange(n_c), len(cell)), rating.reshape(-1),
        annotator=np.repeat(annotator, n_c), low=RATING_LOW, high=RATING_HIGH)


def weak_salience_scenarios(
    *, n_scenarios: int = 1500, dim: int = 32, seed: int = 0, **overrides
) -> SyntheticScenarios:
    """Real-data-shaped known truth (module docstring): 24 topics, embedding noise that leaves a cosine
    spread of about 0.1-0.2 between related and unrelated scenarios, salience 1.2 / 0.2, 2 raters per
    group and scenario rating 1-5 with noise 1.0, and about 2 judgments per group and scenario."""
    settings = dict(n_topics=24, strong=1.2, weak=0.2, embedding_noise=2.5, judgments_per_group=(2.0, 2.0, 2.0, 1.0),
                    raters_per_group=(2, 2, 2, 2), fixed_raters=True, rating_noise=1.0, n_groups=4)
    return make_scenarios(n_scenarios=n_scenarios, dim=dim, seed=seed, **(settings | overrides))
