"""PAL artifacts round-trip, and the reward API reads users, groups and explicit weights."""

import io

import numpy as np
import pytest

from alignment.pal import (
    TrainConfig,
    fit_pal,
    load_pal,
    make_population,
    pal_reward_model,
    read_pal_header,
    save_pal,
    split_pal_data,
)


@pytest.fixture(scope="module", params=["A", "B"])
def trained(request):
    kind = request.param
    population = make_population(
        kind=kind, n_groups=2, n_users=24, n_prompts=12, dim=16, judgments_per_user=30, seed=11
    )
    split = split_pal_data(population.data, unseen_fraction=0.0, seed=11)
    fit = fit_pal(
        population.data,
        split.train,
        split.val,
        kind=kind,
        k=2,
        config=TrainConfig(threads=1, max_epochs=5, seed=11),
    )
    return population, pal_reward_model(fit, population.data, embedding_model="all-MiniLM-L6-v2")


def rows(population, n=6):
    data = population.data
    return data.prompt_embeddings[np.arange(n) % len(data.prompt_embeddings)], data.candidate_embeddings[:n]


def test_saved_and_loaded_model_gives_exactly_the_same_rewards(trained, tmp_path):
    population, model = trained
    save_pal(model, tmp_path / "pal.pt")
    loaded = load_pal(tmp_path / "pal.pt")
    prompts, responses = rows(population)
    for who in ["user-0", "user-7", "group-1", np.array([0.3, 0.7])]:
        assert np.array_equal(loaded.reward(who, prompts, responses), model.reward(who, prompts, responses))
    assert np.array_equal(loaded.user_weights(), model.user_weights())


def test_an_artifact_round_trips_through_a_file_object(trained):
    population, model = trained
    buffer = io.BytesIO()
    save_pal(model, buffer)
    buffer.seek(0)
    prompts, responses = rows(population)
    assert np.array_equal(
        load_pal(buffer).reward("user-3", prompts, responses), model("user-3", prompts, responses)
    )


def test_the_header_names_the_model_its_users_and_settings(trained, tmp_path):
    population, model = trained
    save_pal(model, tmp_path / "pal.pt")
    header = read_pal_header(tmp_path / "pal.pt")
    assert header["architecture"]["k"] == 2
    assert header["architecture"]["dim"] == 16
    assert header["architecture"]["kind"] == model.model.arch.kind
    assert header["embedding_model"] == "all-MiniLM-L6-v2"
    assert header["user_ids"] == list(population.data.user_ids)
    assert header["hyperparameters"]["max_epochs"] == 5
    assert set(header["group_weights"]) == {"group-0", "group-1"}


def test_a_group_reward_uses_the_mean_mixture_of_its_members(trained):
    population, model = trained
    members = population.data.user_group == 1
    assert np.allclose(model.weights_for("group-1"), model.user_weights()[members].mean(0), atol=1e-6)
    prompts, responses = rows(population)
    assert np.array_equal(
        model.reward("group-1", prompts, responses),
        model.reward(model.weights_for("group-1"), prompts, responses),
    )


def test_one_prompt_row_is_shared_by_every_response(trained):
    population, model = trained
    prompts, responses = rows(population)
    shared = model.reward("user-1", prompts[0], responses)
    assert shared.shape == (len(responses),)
    assert np.allclose(shared, model.reward("user-1", np.repeat(prompts[:1], len(responses), 0), responses))


def test_unknown_users_and_malformed_weights_are_refused(trained):
    population, model = trained
    prompts, responses = rows(population)
    with pytest.raises(KeyError):
        model.reward("nobody", prompts, responses)
    with pytest.raises(ValueError, match="mixture"):
        model.reward([0.5, 0.6], prompts, responses)


def test_prototypes_come_out_per_kind(trained):
    population, model = trained
    if model.model.arch.kind == "A":
        assert model.prototypes().shape == (2, 16)
    else:
        assert model.prototypes(population.data.prompt_embeddings[:3]).shape == (3, 2, model.model.arch.out)
