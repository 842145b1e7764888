"""The adaptive allocation rule on known truth (plain pytest, no database)."""

import ast
import math
from pathlib import Path

import pytest

from annotation.allocation_rule import (
    AllocationRule,
    GroupCount,
    divergence_estimate,
    erf,
    folded_variance,
    gain,
    is_precise,
)

RULE = AllocationRule(k_min=2, precision=0.1)


def test_the_rule_imports_nothing_of_django_or_ours():
    tree = ast.parse((Path(__file__).resolve().parents[2] / "annotation" / "allocation_rule.py").read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= {"math", "dataclasses"}


@pytest.mark.parametrize("x", [-3.0, -1.2, -0.3, 0.0, 0.05, 0.7, 2.5])
def test_its_erf_is_within_the_approximations_bound(x):
    assert erf(x) == pytest.approx(math.erf(x), abs=2e-7)


def test_folding_shrinks_the_variance_of_an_agreement_and_keeps_that_of_a_clear_split():
    assert folded_variance(0.0, 0.01) == pytest.approx(0.01 * (1 - 2 / math.pi), rel=1e-5)
    assert folded_variance(0.6, 0.01) == pytest.approx(0.01, rel=1e-4)


def test_a_divisive_uncertain_pair_outranks_an_agreed_precise_one():
    divisive = [GroupCount(3, 3), GroupCount(3, 0), GroupCount(3, 1.5)]  # groups split, few judgments
    agreed = [GroupCount(12, 11), GroupCount(12, 11), GroupCount(12, 12)]  # everyone prefers A, many judgments
    for g in range(3):
        assert gain(divisive, g) > 5 * gain(agreed, g)


def test_with_equal_counts_a_split_pair_is_worth_more_than_an_agreed_one():
    # What "groups may disagree" buys: the same n per group, only the votes differ.
    split = [GroupCount(4, 4), GroupCount(4, 0)]
    agreed = [GroupCount(4, 4), GroupCount(4, 4)]
    assert gain(split, 0) > gain(agreed, 0)


def test_the_group_that_knows_least_about_a_pair_gains_most():
    counts = [GroupCount(10, 5), GroupCount(1, 1), GroupCount(10, 9)]
    assert gain(counts, 1) > max(gain(counts, 0), gain(counts, 2))


def test_every_gain_is_positive_and_falls_as_a_group_judges_more():
    gains = [gain([GroupCount(n, n / 2), GroupCount(4, 2)], 0) for n in range(0, 30, 3)]
    assert all(g > 0 for g in gains)
    assert gains == sorted(gains, reverse=True)


def test_a_unanimous_pair_becomes_precise_before_k_and_a_split_one_does_not():
    unanimous = [GroupCount(6, 6), GroupCount(6, 6), GroupCount(6, 6)]
    assert is_precise(unanimous, RULE)
    split = [GroupCount(6, 6), GroupCount(6, 0), GroupCount(6, 3)]
    assert not is_precise(split, RULE)


def test_no_pair_is_precise_before_every_group_has_k_min_judgments():
    assert not is_precise([GroupCount(1, 1), GroupCount(50, 50)], AllocationRule(k_min=2, precision=0.99))
    assert is_precise([GroupCount(2, 2), GroupCount(50, 50)], AllocationRule(k_min=2, precision=0.99))


def test_a_study_without_groups_reads_the_rate_itself():
    assert gain([GroupCount(0, 0)], 0) > gain([GroupCount(20, 10)], 0) > 0
    assert is_precise([GroupCount(200, 100)], RULE)
    assert not is_precise([GroupCount(5, 2)], RULE)


def test_ties_count_half_and_the_estimate_reads_posterior_means():
    assert divergence_estimate([GroupCount(2, 1), GroupCount(2, 1)]) == 0
    assert divergence_estimate([GroupCount(2, 2), GroupCount(2, 0)]) == pytest.approx(0.75 - 0.25)
