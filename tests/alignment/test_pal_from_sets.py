"""PAL's known-truth check fed by set judgments (issue 13): best-of-4 picks (and full rankings) drawn from a
planted population, expanded by the one expansion function into pairwise comparisons, recover the groups."""

import numpy as np
import pytest

from alignment.pal import TrainConfig, adjusted_rand_index, fit_pal, make_population, split_pal_data
from alignment.pal.data import Judgments, PalData
from annotation.set_expansion import as_shown, set_comparisons

K_STAR = 3
CONFIG = TrainConfig(threads=1, seed=0)


def set_population(*, sets_per_user: int, ranked: bool, seed: int = 0):
    """Each user judges sets of a prompt's 4 candidates, shown in random order: the best drawn by
    Plackett-Luce on the planted utilities (the pairwise truth's Bradley-Terry, for k items), then with
    `ranked` the rest in Plackett-Luce order too. Returns the population and PalData of the expansion."""
    population = make_population(kind="B", n_groups=K_STAR, n_users=90, n_prompts=40, dim=32, seed=seed)
    rng = np.random.default_rng(seed + 1)
    rows: list[tuple[int, int, int, int, float]] = []
    for user, group in enumerate(population.true_group):
        for prompt in rng.choice(40, size=sets_per_user, replace=False):
            shown = [int(prompt * 4 + i) for i in rng.permutation(4)]
            utility = population.utility[group, prompt, [c % 4 for c in shown]]
            gumbel = utility + rng.gumbel(size=4)  # argsort of utility + Gumbel noise is a Plackett-Luce draw
            order = [shown[i] for i in np.argsort(-gumbel)]
            ranking = [[c] for c in order[1:]] if ranked else []
            for comparison in set_comparisons(shown, order[0], ranking):
                a, b, choice = as_shown(comparison, shown)
                rows.append((user, int(prompt), a, b, 1.0 if choice == "A" else 0.0))
    user, prompt, a, b, label = (np.array(column) for column in zip(*rows, strict=True))
    data = PalData(population.data.prompt_embeddings, population.data.candidate_embeddings,
                   Judgments.from_arrays(user, prompt, a, b, label), user_ids=population.data.user_ids,
                   user_group=population.true_group, group_names=population.data.group_names,
                   derived=np.ones(len(label), dtype=bool))
    return population, data


@pytest.mark.parametrize(("sets_per_user", "ranked"), [(34, False), (20, True)])
def test_pal_recovers_the_planted_groups_from_set_judgments(sets_per_user, ranked):
    population, data = set_population(sets_per_user=sets_per_user, ranked=ranked)
    assert len(data.judgments) == 90 * sets_per_user * (6 if ranked else 3)
    split = split_pal_data(data, unseen_fraction=0.0, seed=0)
    mixture = fit_pal(data, split.train, split.val, kind="B", k=K_STAR, config=CONFIG)
    homogeneous = fit_pal(data, split.train, split.val, kind="B", k=1, config=CONFIG)
    weights = mixture.model.user_weights().detach().numpy()
    seen = mixture.trained_users
    assert adjusted_rand_index(population.true_group[seen], weights[seen].argmax(1)) >= 0.9
    assert mixture.val_accuracy >= homogeneous.val_accuracy + 0.08
