"""PAL's evaluation says only what it measured: a split that does not leak, unseen users from every
group, shots actually used, few-shot per group with n, and untrained weights never called fitted."""

import io
import json
from dataclasses import replace

import numpy as np
import pytest

from alignment.pal import (
    Judgments,
    PalData,
    TrainConfig,
    evaluate_pal,
    fit_pal,
    load_pal,
    make_population,
    pal_reward_model,
    save_pal,
    split_pal_data,
)

CONFIG = TrainConfig(threads=1, seed=0, max_epochs=8)


def with_derived(data: PalData, derived: np.ndarray) -> PalData:
    return PalData(data.prompt_embeddings, data.candidate_embeddings, data.judgments, data.user_ids,
                   data.user_group, data.group_names, derived)


@pytest.fixture(scope="module")
def rated():
    """Every judgment derived from ratings: each user compares the same few candidates many times."""
    population = make_population(kind="B", n_groups=2, n_users=30, n_prompts=6, dim=16,
                                 judgments_per_user=40, seed=3)
    return with_derived(population.data, np.ones(len(population.data.judgments), dtype=bool))


def user_items(judgments) -> set[tuple[int, int]]:
    return {(int(u), int(c)) for u, a, b in zip(judgments.user, judgments.a, judgments.b, strict=True)
            for c in (a, b)}


def test_no_test_judgment_derived_from_ratings_has_both_items_in_that_annotators_training(rated):
    split = split_pal_data(rated, unseen_fraction=0.0, seed=0)
    trained = user_items(split.train)
    for held_out in (split.test, split.val):
        assert len(held_out) > 0.05 * len(rated.judgments)
        for u, a, b in zip(held_out.user, held_out.a, held_out.b, strict=True):
            assert not ((int(u), int(a)) in trained and (int(u), int(b)) in trained)
    assert len(split.train) + len(split.val) + len(split.test) == len(rated.judgments)
    assert "by rated item per annotator" in split.method["seen"]
    assert split.method["derived_judgments"] == len(rated.judgments)


def test_judgments_made_one_by_one_are_still_split_at_random_in_the_asked_shares():
    data = make_population(kind="B", n_groups=2, n_users=30, n_prompts=6, dim=16, seed=3).data
    split = split_pal_data(data, unseen_fraction=0.0, val_fraction=0.1, test_fraction=0.2, seed=0)
    assert len(split.test) == round(0.2 * len(data.judgments))
    assert len(split.val) == round(0.1 * len(data.judgments))


def test_unseen_shot_pool_of_a_rating_annotator_shares_no_item_with_their_test_part(rated):
    split = split_pal_data(rated, unseen_fraction=0.2, seed=0)
    pool = user_items(split.unseen_shots)
    assert len(split.unseen_shots) and len(split.unseen_test)
    for u, a, b in zip(split.unseen_test.user, split.unseen_test.a, split.unseen_test.b, strict=True):
        assert not ((int(u), int(a)) in pool and (int(u), int(b)) in pool)


def test_every_group_of_two_or_more_members_gives_an_unseen_annotator_and_a_lone_member_stays_seen():
    # Shares 20:3:1 of 24 users: groups of 20, 3 and 1; 10% of 3 rounds to none.
    population = make_population(kind="B", n_groups=3, n_users=24, n_prompts=10, dim=16,
                                 group_shares=(20, 3, 1), seed=0)
    data = population.data
    split = split_pal_data(data, unseen_fraction=0.1, seed=0)
    groups = data.user_group[split.unseen_users]
    sizes = np.bincount(data.user_group)
    assert set(groups.tolist()) == {g for g in range(3) if sizes[g] >= 2}
    lone = int(np.flatnonzero(sizes == 1)[0])
    assert lone not in groups


@pytest.fixture(scope="module")
def evaluated():
    """40 judgments per user: the shot pool is capped at 20, whatever the 50 asked for."""
    population = make_population(kind="B", n_groups=2, n_users=40, n_prompts=20, dim=16,
                                 judgments_per_user=40, seed=5)
    split = split_pal_data(population.data, unseen_fraction=0.2, seed=5)
    fit = fit_pal(population.data, split.train, split.val, kind="B", k=2, config=CONFIG)
    return population, split, fit, evaluate_pal(population.data, split, fit, shots=(1, 5, 50))


def test_the_report_gives_the_shots_actually_used_not_those_asked_for(evaluated):
    *_, report = evaluated
    assert report.shots_used[50]["max"] == 20
    assert report.shots_used[5] == {"mean": 5.0, "min": 5, "max": 5}
    assert json.loads(json.dumps(report.to_dict()))["shots_used"]["50"]["max"] == 20


def test_few_shot_accuracy_is_reported_per_group_with_its_users_and_judgments(evaluated):
    population, split, _, report = evaluated
    data = population.data
    for code, name in enumerate(data.group_names):
        row = report.unseen_by_group[name]
        users = split.unseen_users[data.user_group[split.unseen_users] == code]
        mine = np.isin(split.unseen_test.user, users) & (split.unseen_test.label != 0.5)
        assert row["users"] == len(users) and row["n"] == int(mine.sum())
        assert set(row["accuracy"]) == {0, 1, 5, 50}
    assert report.few_shot["helps"] in (True, False)
    assert ("do not beat" in report.few_shot["text"]) == (not report.few_shot["helps"])


def test_group_accuracies_come_with_their_number_of_test_judgments(evaluated):
    population, split, _, report = evaluated
    decided = split.test.label != 0.5
    for code, name in enumerate(population.data.group_names):
        assert report.group_n[name] == int((population.data.user_group[split.test.user[decided]] == code).sum())


def test_an_annotator_whose_judgments_all_fell_in_held_out_is_marked_held_out_not_fitted():
    population = make_population(kind="B", n_groups=2, n_users=20, n_prompts=10, dim=16,
                                 judgments_per_user=30, seed=2)
    data = population.data
    split = split_pal_data(data, unseen_fraction=0.1, seed=2)
    # Move every training judgment of one seen user to test: all their judgments are held out.
    victim = int(np.setdiff1d(np.arange(data.n_users), split.unseen_users)[0])
    moved = split.train.user == victim
    columns = ("user", "prompt", "a", "b", "label", "row")
    test = Judgments(*(np.r_[getattr(split.test, c), getattr(split.train, c)[moved]] for c in columns))
    split = replace(split, train=split.train.take(~moved), test=test)
    fit = fit_pal(data, split.train, split.val, kind="B", k=2, config=CONFIG)
    report = evaluate_pal(data, split, fit, shots=(1,))
    status = report.annotators["status"]
    assert status[victim] == "held_out"
    assert all(status[u] == "unseen" for u in split.unseen_users)
    assert status.count("fitted") == data.n_users - len(split.unseen_users) - 1
    buffer = io.BytesIO()
    save_pal(pal_reward_model(fit, data, user_status=status), buffer)
    buffer.seek(0)
    model = load_pal(buffer)
    assert model.status_of(data.user_ids[victim]) == "held_out"
    assert model.status_of(data.user_ids[int(split.unseen_users[0])]) == "unseen"
