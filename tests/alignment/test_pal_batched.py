"""The fast paths of a PAL refit compute what the plain ones do: margins from K numbers per judgment,
prompt-block batches, the per-group BT as one batched model, few-shot for all shot counts at once."""

import numpy as np
import pytest
import torch

from alignment.pal import (
    TrainConfig,
    fit_group_bt,
    fit_new_users,
    fit_new_users_by_shots,
    fit_pal,
    make_population,
    split_pal_data,
)
from alignment.pal.device_data import DeviceData
from alignment.pal.evaluate import homogeneous_margins
from alignment.pal.model import PalArchitecture, build_model, compact
from alignment.pal.train import epoch_batches


@pytest.mark.parametrize("kind", ["A", "B"])
@pytest.mark.parametrize("k", [1, 3])
def test_pair_margins_equal_the_difference_of_the_rewards_of_each_side(kind, k):
    torch.manual_seed(0)
    model = build_model(PalArchitecture(kind, k, 16, 10)).eval()
    prompt_x = torch.nn.functional.normalize(torch.randn(5, 16), dim=-1)
    candidate_x = torch.nn.functional.normalize(torch.randn(20, 16), dim=-1)
    prompts, a, b = torch.randint(0, 5, (200,)), torch.randint(0, 20, (200,)), torch.randint(0, 20, (200,))
    users = torch.randint(0, 10, (200,))
    weights = model.user_weights()
    margins = model.pair_logits(weights, users, prompts, a, b, prompt_x, candidate_x)
    # rewards() builds each judgment's ideal point explicitly (the reward API's path).
    expected = model.rewards(weights, users, prompt_x[prompts], candidate_x[a]) - model.rewards(
        weights, users, prompt_x[prompts], candidate_x[b])
    assert torch.allclose(margins, expected, atol=1e-5)


def test_compact_numbers_ids_as_unique_does_with_or_without_a_presence_table():
    ids = torch.tensor([7, 3, 3, 9, 0, 7])
    for size in (None, 10, 10**9):  # a small table, read off the ids, and too large a space (a sort)
        distinct, inverse = compact(ids, size)
        expected, expected_inverse = torch.unique(ids, return_inverse=True)
        assert torch.equal(distinct, expected) and torch.equal(inverse, expected_inverse)


def test_with_many_prompts_each_batch_takes_whole_prompts_and_the_epoch_takes_every_judgment_once():
    generator = torch.Generator().manual_seed(0)
    prompts = torch.randint(0, 2000, (40_000,))
    batches = epoch_batches(prompts, 2500, generator, 2000)
    assert len(batches) == 16
    assert torch.equal(torch.sort(torch.cat(batches)).values, torch.arange(40_000))
    batches_of_prompt = {}
    for number, index in enumerate(batches):
        for prompt in prompts[index].unique().tolist():
            batches_of_prompt.setdefault(prompt, set()).add(number)
    # A prompt is cut in two only where a batch boundary falls inside it.
    assert max(len(numbers) for numbers in batches_of_prompt.values()) <= 2
    assert sum(len(numbers) > 1 for numbers in batches_of_prompt.values()) <= 15


def test_with_few_prompts_batches_are_random_samples_of_the_judgments():
    generator = torch.Generator().manual_seed(0)
    prompts = torch.randint(0, 20, (40_000,))
    batches = epoch_batches(prompts, 2500, generator, 20)
    assert all(len(prompts[index].unique()) == 20 for index in batches)


def test_a_small_set_is_batched_at_random_even_over_many_prompts():
    generator = torch.Generator().manual_seed(0)
    prompts = torch.randint(0, 300, (3_000,))
    batches = epoch_batches(prompts, 300, generator, 300)
    # Random batches of 300 over 300 prompts meet about 190 of them each; whole-prompt blocks, 30.
    assert all(len(prompts[index].unique()) > 100 for index in batches)


@pytest.fixture(scope="module")
def grouped():
    population = make_population(kind="B", n_groups=2, n_users=40, n_prompts=30, dim=16,
                                 judgments_per_user=60, seed=3)
    return population, split_pal_data(population.data, unseen_fraction=0.0, seed=3)


@pytest.mark.parametrize("kind", ["A", "B"])
def test_the_batched_per_group_model_takes_exactly_the_steps_of_one_fit_per_group(grouped, kind):
    """With dropout off (its masks are drawn differently), every group's model ends where a fit_pal
    of that group's judgments ends, early stopping included."""
    population, split = grouped
    data = population.data
    config = TrainConfig(threads=1, seed=5, dropout=0.0, max_epochs=6, patience=2)
    batched = fit_group_bt(data, split, kind=kind, config=config)
    tensors = DeviceData(data, torch.device("cpu"))
    for code in (0, 1):
        members = np.flatnonzero(data.user_group == code)
        alone = fit_pal(data, split.train.for_users(members), split.val.for_users(members), kind=kind, k=1,
                        config=config)
        test = split.test.for_users(members)
        expected = homogeneous_margins(alone, test, tensors)
        got = batched.margins(test, batched.model_groups(data.user_group[test.user]), tensors)
        assert batched.best_epoch[code] == alone.best_epoch
        np.testing.assert_allclose(got, expected, atol=2e-4)


def test_the_batched_per_group_model_with_dropout_is_as_accurate_as_separate_fits():
    population = make_population(kind="B", n_groups=3, n_users=100, n_prompts=40, dim=32, seed=0)
    data, split = population.data, split_pal_data(population.data, unseen_fraction=0.2, seed=0)
    config = TrainConfig(threads=1, seed=0)
    tensors = DeviceData(data, torch.device("cpu"))
    test = split.test
    separate = np.zeros(len(test))
    for code in range(3):
        members = np.flatnonzero(data.user_group == code)
        fit = fit_pal(data, split.train.for_users(members), split.val.for_users(members), kind="B", k=1,
                      config=config)
        mine = np.flatnonzero(data.user_group[test.user] == code)
        separate[mine] = homogeneous_margins(fit, test.take(mine), tensors)
    batched = fit_group_bt(data, split, kind="B", config=config)
    together = batched.margins(test, batched.model_groups(data.user_group[test.user]), tensors)
    decided = test.label != 0.5

    def accuracy(margins):
        return ((margins[decided] > 0) == (test.label[decided] > 0.5)).mean()

    assert abs(accuracy(together) - accuracy(separate)) <= 0.02


def test_few_shot_for_all_shot_counts_at_once_equals_one_fit_per_count(grouped):
    population, _ = grouped
    data = population.data
    split = split_pal_data(data, unseen_fraction=0.25, seed=3)
    fit = fit_pal(data, split.train, split.val, kind="B", k=2, config=TrainConfig(threads=1, seed=3, max_epochs=5))
    together = fit_new_users_by_shots(fit.model, data, split.unseen_shots, (0, 1, 5, 20), users=split.unseen_users)
    for n in (0, 1, 5, 20):
        alone = fit_new_users(fit.model, data, split.unseen_shots, n, users=split.unseen_users)
        assert np.array_equal(together[n].users, alone.users)
        np.testing.assert_allclose(together[n].weights, alone.weights, atol=1e-5)
