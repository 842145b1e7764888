"""Few-shot weights for unseen users: only theta_new moves."""

import numpy as np
import pytest
import torch

from alignment.pal import TrainConfig, fit_new_users, fit_pal, make_population, split_pal_data


@pytest.fixture(scope="module")
def setting():
    population = make_population(
        kind="B", n_groups=2, n_users=40, n_prompts=20, dim=16, judgments_per_user=60, seed=8
    )
    split = split_pal_data(population.data, unseen_fraction=0.25, seed=8)
    fit = fit_pal(
        population.data, split.train, split.val, kind="B", k=2, config=TrainConfig(threads=1, seed=8)
    )
    return population, split, fit


def test_few_shot_fitting_leaves_the_trained_model_untouched(setting):
    population, split, fit = setting
    before = {name: t.clone() for name, t in fit.model.state_dict().items()}
    flags = [p.requires_grad for p in fit.model.parameters()]
    fit_new_users(fit.model, population.data, split.unseen_shots, 10)
    assert all(torch.equal(before[name], t) for name, t in fit.model.state_dict().items())
    assert flags == [p.requires_grad for p in fit.model.parameters()]


def test_zero_shots_give_every_new_user_the_prior(setting):
    population, split, fit = setting
    prior = np.array([0.25, 0.75])
    new = fit_new_users(fit.model, population.data, split.unseen_shots, 0, prior=prior)
    assert np.allclose(new.weights, prior, atol=1e-5)
    assert np.array_equal(new.users, split.unseen_users)


def test_more_shots_move_new_users_toward_their_own_group(setting):
    population, split, fit = setting
    seen = fit.trained_users
    weights = fit.model.user_weights().detach().numpy()
    # The prototype each planted group leans on, read off the seen users.
    vertex = {
        g: np.bincount(weights[seen & (population.true_group == g)].argmax(1), minlength=2).argmax()
        for g in (0, 1)
    }

    def share_on_own_vertex(n):
        new = fit_new_users(fit.model, population.data, split.unseen_shots, n)
        own = np.array([vertex[g] for g in population.true_group[new.users]])
        return new.weights[np.arange(len(own)), own].mean()

    assert share_on_own_vertex(20) > share_on_own_vertex(2) > share_on_own_vertex(0)
