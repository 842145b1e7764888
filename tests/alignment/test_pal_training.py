"""Fitting mechanics: determinism, early stopping, ties, splits and the K = 1 baseline."""

import numpy as np
import pytest
import torch

from alignment.pal import TIE, Judgments, PalData, TrainConfig, fit_pal, make_population, split_pal_data
from alignment.pal.evaluate import accuracy

CONFIG = TrainConfig(threads=1, max_epochs=8, seed=3)


@pytest.fixture(scope="module")
def population():
    return make_population(
        kind="B", n_groups=2, n_users=30, n_prompts=20, dim=16, judgments_per_user=40, seed=5
    )


@pytest.fixture(scope="module")
def split(population):
    return split_pal_data(population.data, unseen_fraction=0.2, seed=5)


def weights_of(fit) -> np.ndarray:
    return fit.model.user_weights().detach().numpy()


def test_fitting_twice_with_the_same_seed_gives_identical_models(population, split):
    first = fit_pal(population.data, split.train, split.val, kind="B", k=2, config=CONFIG)
    second = fit_pal(population.data, split.train, split.val, kind="B", k=2, config=CONFIG)
    assert np.array_equal(weights_of(first), weights_of(second))
    for a, b in zip(first.model.state_dict().values(), second.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_a_different_seed_gives_a_different_model(population, split):
    first = fit_pal(population.data, split.train, split.val, kind="B", k=2, config=CONFIG)
    other = fit_pal(
        population.data,
        split.train,
        split.val,
        kind="B",
        k=2,
        config=TrainConfig(threads=1, max_epochs=8, seed=4),
    )
    assert not np.array_equal(weights_of(first), weights_of(other))


def test_fitting_leaves_the_callers_random_state_alone(population, split):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    fit_pal(population.data, split.train, split.val, kind="A", k=2, config=CONFIG)
    assert torch.equal(torch.rand(3), expected)
    assert not torch.are_deterministic_algorithms_enabled()


def test_the_thread_setting_applies_to_the_fit_only(population, split):
    before = torch.get_num_threads()
    fit_pal(
        population.data, split.train, split.val, kind="B", k=1, config=TrainConfig(threads=1, max_epochs=1)
    )
    assert torch.get_num_threads() == before


def test_early_stopping_keeps_the_epoch_with_the_lowest_validation_loss(population, split):
    config = TrainConfig(threads=1, max_epochs=40, patience=2, seed=0)
    fit = fit_pal(population.data, split.train, split.val, kind="B", k=2, config=config)
    val_losses = [h["val_loss"] for h in fit.history]
    # The lowest, where a gain under min_improvement does not count as one: no later epoch beat the
    # kept one by that much, and the kept one is below every earlier epoch.
    best = fit.best_epoch - 1
    assert fit.val_loss == val_losses[best]
    assert all(loss >= fit.val_loss - config.min_improvement for loss in val_losses[best + 1 :])
    assert all(fit.val_loss < loss for loss in val_losses[:best])
    assert len(fit.history) <= fit.best_epoch + config.patience


def test_the_homogeneous_model_gives_every_user_the_same_reward(population, split):
    fit = fit_pal(population.data, split.train, split.val, kind="B", k=1, config=CONFIG)
    assert np.all(weights_of(fit) == 1.0)


def test_split_keeps_unseen_users_out_of_training_and_their_shots_first(population, split):
    seen_users = np.unique(np.concatenate([split.train.user, split.val.user, split.test.user]))
    assert not np.isin(split.unseen_users, seen_users).any()
    for user in split.unseen_users:
        shots = split.unseen_shots.row[split.unseen_shots.user == user]
        rest = split.unseen_test.row[split.unseen_test.user == user]
        assert len(shots) and len(rest) and shots.max() < rest.min()
    total = (
        len(split.train) + len(split.val) + len(split.test) + len(split.unseen_shots) + len(split.unseen_test)
    )
    assert total == len(population.data.judgments)


def test_judgments_accept_only_wins_losses_and_ties():
    with pytest.raises(ValueError, match="labels"):
        Judgments.from_arrays([0], [0], [0], [1], [0.7])


def test_accuracy_leaves_ties_out():
    labels = np.array([1.0, 0.0, TIE, TIE], dtype=np.float32)
    assert accuracy(np.array([2.0, -1.0, 5.0, -5.0]), labels) == 1.0


def test_ties_pull_the_two_rewards_together():
    """Pair (0, 1) is always won by 0; pair (2, 3) is always a tie: after fitting, the tied pair's
    reward gap is far smaller than the decided one's."""
    rng = np.random.default_rng(0)
    n = 400
    pair = rng.integers(0, 2, size=n)
    judgments = Judgments.from_arrays(
        user=rng.integers(0, 4, size=n),
        prompt=np.zeros(n),
        a=2 * pair,
        b=2 * pair + 1,
        label=np.where(pair == 0, 1.0, TIE),
    )
    data = PalData(
        rng.normal(size=(1, 8)).astype(np.float32),
        rng.normal(size=(4, 8)).astype(np.float32),
        judgments,
        user_ids=("a", "b", "c", "d"),
    )
    fit = fit_pal(
        data,
        judgments,
        judgments.take(np.arange(0)),
        kind="B",
        k=1,
        config=TrainConfig(threads=1, max_epochs=30, batch_size=64),
    )
    with torch.no_grad():
        x = torch.as_tensor(data.candidate_embeddings)
        p = torch.as_tensor(data.prompt_embeddings).expand(4, -1)
        r = fit.model.rewards(torch.ones(1, 1), torch.zeros(4, dtype=torch.long), p, x).numpy()
    assert r[0] - r[1] > 3.0
    assert abs(r[2] - r[3]) < 0.5


def test_adjusted_rand_index_ignores_label_names_and_scores_chance_near_zero():
    from alignment.pal import adjusted_rand_index

    truth = np.repeat([0, 1, 2], 20)
    assert adjusted_rand_index(truth, (truth + 1) % 3) == 1.0
    assert adjusted_rand_index(truth, np.where(truth == 2, 1, truth)) < 0.7
    chance = np.random.default_rng(0).integers(0, 3, size=60)
    assert abs(adjusted_rand_index(truth, chance)) < 0.1
