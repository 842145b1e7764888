"""PAL on a synthetic population with planted groups: does it find what was planted? (DESIGN.md 5)"""

from dataclasses import replace

import numpy as np
import pytest
import torch

from alignment.pal import (
    TrainConfig,
    adjusted_rand_index,
    assignment_clusters,
    evaluate_pal,
    fit_group_bt,
    fit_kept,
    fit_pal,
    make_population,
    paired_standard_error,
    select_pal,
    small_data_candidate,
    split_pal_data,
)

K_STAR = 3
CONFIG = TrainConfig(threads=1, seed=0)


@pytest.fixture(scope="module")
def population():
    """Three groups of unequal size (3:2:1), 100 judgments each, cosine (PAL-B) truth."""
    return make_population(kind="B", n_groups=K_STAR, n_users=100, n_prompts=40, dim=32, seed=0)


@pytest.fixture(scope="module")
def split(population):
    return split_pal_data(population.data, unseen_fraction=0.2, seed=0)


@pytest.fixture(scope="module")
def fit(population, split):
    return fit_pal(population.data, split.train, split.val, kind="B", k=K_STAR, config=CONFIG)


@pytest.fixture(scope="module")
def report(population, split, fit):
    return evaluate_pal(population.data, split, fit, truth_ceiling=population.ceiling_on)


def test_mixture_argmax_recovers_the_planted_groups(population, fit):
    weights = fit.model.user_weights().detach().numpy()
    seen = fit.trained_users
    assert adjusted_rand_index(population.true_group[seen], weights[seen].argmax(1)) >= 0.9


def test_accuracy_at_the_true_k_beats_the_homogeneous_model_clearly(report):
    assert report.seen_accuracy >= report.seen_accuracy_k1 + 0.08


def test_accuracy_approaches_but_does_not_beat_the_truth_ceiling(report):
    assert report.truth_ceiling["seen"] - 0.05 <= report.seen_accuracy <= report.truth_ceiling["seen"] + 0.02


def test_the_minority_group_gains_most_over_the_homogeneous_model(report):
    minority = "group-2"  # shares 3:2:1, so group-2 is the smallest
    gains = {g: report.group_accuracy[g] - report.group_accuracy_k1[g] for g in report.group_accuracy}
    assert max(gains, key=gains.get) == minority
    assert report.group_accuracy[minority] >= 0.8


def test_pal_is_on_par_with_a_model_fitted_per_group(report):
    # At least as good as one BT model per (known) group, to within 0.5 point of sampling noise.
    assert report.seen_accuracy >= report.seen_accuracy_group_bt - 0.005


def test_unseen_user_accuracy_rises_with_the_number_of_their_judgments(report):
    by_n = report.unseen_accuracy
    assert list(by_n) == [0, 1, 2, 5, 10, 20, 50]
    assert by_n[50] >= by_n[0] + 0.08
    assert by_n[20] > by_n[2] > by_n[0]
    assert by_n[50] > report.unseen_accuracy_k1


def test_each_group_mixture_leans_on_its_own_prototype(report):
    leaders = [int(np.argmax(m)) for m in report.group_mixtures.values()]
    assert sorted(leaders) == [0, 1, 2]


def test_the_report_is_json_ready(report):
    import json

    assert json.loads(json.dumps(report.to_dict()))["unseen_accuracy"]["50"] == report.unseen_accuracy[50]


def test_validation_selects_the_true_k():
    population = make_population(kind="B", n_groups=2, n_users=60, n_prompts=30, dim=16, seed=1)
    split = split_pal_data(population.data, unseen_fraction=0.0, seed=1)
    selection = select_pal(population.data, split.train, split.val, kind="B", ks=(1, 2), config=CONFIG)
    assert selection.best.k == 2
    assert set(selection.fits) == {1, 2}


def test_pal_a_recovers_groups_and_beats_the_homogeneous_model_on_distance_truth():
    # PAL-A's hard-assignment start needs more judgments per user than PAL-B's (see the report).
    population = make_population(
        kind="A", n_groups=2, n_users=40, n_prompts=30, dim=16, judgments_per_user=150, agreement=0.0, seed=0
    )
    split = split_pal_data(population.data, unseen_fraction=0.0, seed=0)
    mixture = fit_pal(population.data, split.train, split.val, kind="A", k=2, config=CONFIG)
    homogeneous = fit_pal(population.data, split.train, split.val, kind="A", k=1, config=CONFIG)
    weights = mixture.model.user_weights().detach().numpy()
    assert adjusted_rand_index(population.true_group, weights.argmax(1)) >= 0.9
    assert mixture.val_accuracy >= homogeneous.val_accuracy + 0.05


@pytest.fixture(scope="module")
def text_like():
    """Two groups on 384-d embeddings shaped like real sentence embeddings (one shared direction, a
    decaying spectrum), 400 texts and 3,600 judgments: MLPs on such inputs memorise the training
    pairs fast, which kept epoch 1 (or 2) of every PAL-B fit before f and g_k were regularised."""
    population = make_population(kind="B", n_groups=2, n_users=60, n_prompts=100, dim=384,
                                 judgments_per_user=60, text_like=True, seed=0)
    split = split_pal_data(population.data, unseen_fraction=0.1, seed=0)
    fit = fit_pal(population.data, split.train, split.val, kind="B", k=2, config=CONFIG)
    return population, split, fit, evaluate_pal(population.data, split, fit, shots=(5,))


def test_pal_b_on_text_like_embeddings_keeps_a_later_epoch_than_the_second(text_like):
    _, _, fit, _ = text_like
    assert fit.best_epoch >= 3
    val = [row["val_loss"] for row in fit.history]
    assert val[fit.best_epoch - 1] < val[1] < val[0]


def test_pal_b_on_text_like_embeddings_is_near_the_per_group_model_and_beats_one_reward(text_like):
    _, _, _, report = text_like
    assert report.seen_accuracy >= report.seen_accuracy_k1 + 0.01
    # At least as good as one BT model per (known) group, to within 0.5 point of sampling noise.
    assert report.seen_accuracy >= report.seen_accuracy_group_bt - 0.005


def few_per_text_data(seed: int):
    """337 prompts judged about 10 times each by 60 users (3,600 judgments on text-like embeddings, the
    shape of bench/pal_real_text.py's 60 x 60 case, about 40 training judgments per user): weak
    evidence per user, and per text. The population and its split."""
    population = make_population(kind="B", n_groups=2, n_users=60, n_prompts=337, dim=384,
                                 judgments_per_user=60, text_like=True, seed=seed)
    return population, split_pal_data(population.data, unseen_fraction=0.1, seed=0)


@pytest.fixture(scope="module")
def few_per_text():
    """few_per_text_data(0), fitted as configured and as the plain fit alone."""
    population, split = few_per_text_data(0)
    epochs: list[int] = []
    fit = fit_pal(population.data, split.train, split.val, kind="B", k=2, config=CONFIG,
                  on_epoch=lambda row: epochs.append(row["epoch"]))
    plain = fit_pal(population.data, split.train, split.val, kind="B", k=2,
                    config=TrainConfig(threads=1, seed=0, small_data_below=0))
    return population, split, fit, plain, epochs


def test_on_few_judgments_per_text_pal_b_keeps_the_small_data_fit_and_a_later_epoch(few_per_text):
    """The plain K = 2 fit memorises by epoch 2; the small-data candidate generalises longer and wins
    on validation loss, so the fit keeps it."""
    _, _, fit, plain, epochs = few_per_text
    # Both fits report progress, the second counting on from the first (a bar never starts over).
    assert epochs == list(range(1, len(epochs) + 1)) and len(epochs) > len(fit.history)
    assert plain.best_epoch <= 3  # 2 at the time of writing
    assert fit.config != CONFIG
    assert fit.val_loss < plain.val_loss - 0.01
    assert fit.best_epoch >= 4


def test_on_few_judgments_per_user_the_known_groups_start_the_assignment(few_per_text):
    """About 40 judgments per user cannot tell a user's group (per-user assignment: adjusted Rand
    under 0.6 here); the small-data candidate assigns each known group's members together, so every
    trained user starts, and stays, with their own group's prototype."""
    population, _, fit, plain, _ = few_per_text
    trained = fit.trained_users
    assert fit.config.assign_by_group
    assigned = fit.model.user_weights().detach().numpy().argmax(1)
    assert adjusted_rand_index(population.true_group[trained], assigned[trained]) == 1.0
    alone = plain.model.user_weights().detach().numpy().argmax(1)
    assert adjusted_rand_index(population.true_group[trained], alone[trained]) < 0.6


def few_per_text_fit(seed: int):
    population, split = few_per_text_data(seed)
    return population, split, fit_pal(population.data, split.train, split.val, kind="B", k=2, config=CONFIG)


def test_on_few_judgments_per_user_pal_b_is_as_good_as_the_per_group_model(few_per_text):
    """Issue 11's target on weak-signal, few-judgments populations: PAL-B K = 2 at least as good as
    one Bradley-Terry model per known group (before the pooled start it kept the g_k-pull candidate:
    0.710 against the per-group model's 0.762 on the first population). One population's seen test
    holds about 650 judgments, so one draw moves either model by a point or two: the target is on the
    mean over five populations (0.742 against 0.729 at the time of writing; seed by seed the lead runs
    from -0.9 to +7.7 points)."""
    populations = [few_per_text[:3]] + [few_per_text_fit(seed) for seed in range(1, 5)]
    reports = [evaluate_pal(population.data, split, fit, config=CONFIG, shots=(5,))
               for population, split, fit in populations]
    pal, group_bt, k1 = np.mean([(r.seen_accuracy, r.seen_accuracy_group_bt, r.seen_accuracy_k1) for r in reports],
                                axis=0)
    assert pal >= group_bt - 0.005
    assert pal >= k1 + 0.05


def test_without_known_groups_the_small_data_candidate_pulls_the_prototypes_together():
    config = TrainConfig()
    grouped = small_data_candidate(config, "B", 2, 3000, 300, grouped=True)
    alone = small_data_candidate(config, "B", 2, 3000, 300, grouped=False)
    assert grouped.assign_by_group and grouped.prototype_pull == 0 and grouped.user_lr < config.user_lr
    assert (grouped.hidden, grouped.weight_decay) == (config.small_data_hidden, config.small_data_weight_decay)
    assert (alone.hidden, alone.weight_decay) == (config.hidden, config.weight_decay)
    assert not alone.assign_by_group and alone.prototype_pull > 0
    assert small_data_candidate(config, "B", 2, 100_000, 300, grouped=True) is None  # large sets: one fit
    assert small_data_candidate(config, "A", 2, 3000, 300, grouped=True) is None
    assert small_data_candidate(config, "B", 1, 3000, 300, grouped=True) is None
    # What a run's metrics call the fit it kept.
    assert (fit_kept(config, config), fit_kept(grouped, config), fit_kept(alone, config)) == (
        "plain", "grouped-start", "prototype-pull")


def test_assignment_clusters_follow_the_known_groups_and_leave_the_ungrouped_alone():
    population = make_population(kind="B", n_groups=2, n_users=6, n_prompts=4, dim=8, judgments_per_user=4, seed=0)
    data = population.data
    groups = np.array([0, 1, -1, 0, -1, 1])
    clusters = assignment_clusters(replace(data, user_group=groups))
    assert clusters[0] == clusters[3] and clusters[1] == clusters[5] and clusters[0] != clusters[1]
    assert len({clusters[2], clusters[4], clusters[0], clusters[1]}) == 4
    assert assignment_clusters(replace(data, user_group=None)) is None
    assert assignment_clusters(replace(data, user_group=np.full(6, -1))) is None


def test_the_assignment_rounds_leave_no_prototype_unused_while_a_prototype_holds_two_clusters():
    """Both clusters chose prototype 0 (prototype 1 fitted on less data explains neither better):
    the one cheapest to move takes prototype 1, as k-means refills an empty cluster."""
    from alignment.pal.warmup import _fill_empty

    losses = torch.tensor([[10.0, 12.0], [20.0, 21.0], [0.0, 0.0]])  # summed losses; cluster 2 has no judgments
    counts = torch.tensor([10, 10, 0])
    assert _fill_empty(losses, torch.tensor([0, 0, 0]), counts).tolist() == [0, 1, 0]
    assert _fill_empty(losses, torch.tensor([0, 1, 0]), counts).tolist() == [0, 1, 0]  # nothing empty
    # One cluster with judgments cannot fill two prototypes.
    assert _fill_empty(losses[:1], torch.tensor([0]), counts[:1]).tolist() == [0]


def test_when_the_groups_are_not_the_preference_clusters_validation_keeps_the_free_fit(population):
    """The study's attribute is unrelated to preference (a shuffle of the planted groups): the grouped
    start ties users to the wrong groups, the free fit finds the planted ones, and validation keeps it."""
    shuffled = np.random.default_rng(7).permutation(population.true_group)
    data = replace(population.data, user_group=shuffled)
    split = split_pal_data(data, unseen_fraction=0.2, seed=0)
    grouped = small_data_candidate(CONFIG, "B", K_STAR, len(split.train), len(split.val), grouped=True)
    fit = fit_pal(data, split.train, split.val, kind="B", k=K_STAR, config=CONFIG)
    candidate = fit_pal(data, split.train, split.val, kind="B", k=K_STAR, config=replace(grouped, small_data_below=0))
    assert fit_kept(fit.config, CONFIG) == "plain"
    assert fit.val_loss < candidate.val_loss - 0.02
    # Ahead by more than the one standard error the candidate is allowed (about 4 of them here).
    assert fit.val_loss < candidate.val_loss - 2 * paired_standard_error(fit, candidate, data, split.val)
    report = evaluate_pal(data, split, fit, config=CONFIG, shots=(5,))
    assert report.seen_accuracy >= report.seen_accuracy_group_bt + 0.05  # the per-group model is told the wrong groups


def test_a_plain_fit_ahead_on_validation_by_less_than_a_standard_error_does_not_replace_the_grouped_start():
    """200 users x 100 judgments on text-like embeddings (the shape of bench/pal_real_text.py's larger
    case): the plain fit's validation loss is below the grouped-start candidate's by 0.002, a third of
    the standard error of their paired difference. That is no evidence against the more regularised
    candidate, which is kept and is at least as good on seen test as the plain fit and the per-group
    model (0.835 against 0.834 and 0.834 at the time of writing). The candidate is the narrower one
    of before (hidden 64, decay 1.0): the wider default candidate wins validation outright here."""
    population = make_population(kind="B", n_groups=2, n_users=200, n_prompts=337, dim=384,
                                 judgments_per_user=100, text_like=True, seed=9)
    data = population.data
    split = split_pal_data(data, unseen_fraction=0.1, seed=0)
    config = replace(CONFIG, device="cpu",  # a margin this close is this exact fit's (CUDA's would differ)
                     small_data_hidden=64, small_data_weight_decay=1.0)
    fit = fit_pal(data, split.train, split.val, kind="B", k=2, config=config)
    plain = fit_pal(data, split.train, split.val, kind="B", k=2, config=replace(config, small_data_below=0))
    assert fit_kept(fit.config, config) == "grouped-start"
    assert plain.val_loss < fit.val_loss < plain.val_loss + paired_standard_error(plain, fit, data, split.val)
    baselines = {"k1": fit_pal(data, split.train, split.val, kind="B", k=1, config=config),
                 "group_bt": fit_group_bt(data, split, kind="B", config=config)}
    report = evaluate_pal(data, split, fit, config=config, shots=(5,), **baselines)
    plain_report = evaluate_pal(data, split, plain, config=config, shots=(5,), **baselines)
    assert report.seen_accuracy >= plain_report.seen_accuracy
    assert report.seen_accuracy >= report.seen_accuracy_group_bt - 0.005
