"""The one expansion of a set judgment into pairwise comparisons (issue 13), on every shape: best only, a full
ranking, a partial (top-k) ranking, ties, and the judgments it refuses. Plain pytest: the function is pure."""

import ast
from itertools import permutations
from pathlib import Path

import pytest

from annotation.set_expansion import Comparison, as_shown, set_comparisons, set_judgment_check

SHOWN = ["c", "a", "d", "b"]  # order as shown; ids are arbitrary hashables


def as_triples(comparisons):
    return [(c.winner, c.loser, c.tie, c.implied) for c in comparisons]


def test_best_only_beats_each_other_member_in_shown_order_and_nothing_is_implied():
    assert as_triples(set_comparisons(SHOWN, "d")) == [
        ("d", "c", False, False), ("d", "a", False, False), ("d", "b", False, False),
    ]


def test_a_full_ranking_gives_every_pair_once_with_the_ranking_pairs_marked_implied():
    out = set_comparisons(SHOWN, "a", [["b"], ["c"], ["d"]])
    assert as_triples(out) == [
        ("a", "c", False, False), ("a", "d", False, False), ("a", "b", False, False),
        ("b", "c", False, True), ("b", "d", False, True), ("c", "d", False, True),
    ]
    assert len({frozenset((c.winner, c.loser)) for c in out}) == 6  # all 4 choose 2, none twice


@pytest.mark.parametrize("order", list(permutations("abcd")))
def test_every_full_ranking_of_four_agrees_with_its_order(order):
    rank = {m: i for i, m in enumerate(order)}
    out = set_comparisons(SHOWN, order[0], [[m] for m in order[1:]])
    assert len(out) == 6
    assert all(rank[c.winner] < rank[c.loser] for c in out)


def test_a_partial_ranking_puts_ranked_members_above_unranked_ones_and_leaves_those_uncompared():
    shown = ["a", "b", "c", "d", "e", "f"]
    out = as_triples(set_comparisons(shown, "a", [["b"], ["c"]]))
    assert out[:5] == [("a", m, False, False) for m in "bcdef"]
    assert out[5:] == [("b", "c", False, True), ("b", "d", False, True), ("b", "e", False, True),
                       ("b", "f", False, True), ("c", "d", False, True), ("c", "e", False, True),
                       ("c", "f", False, True)]
    assert not any({w, lo} <= {"d", "e", "f"} for w, lo, *_ in out)


def test_members_of_one_block_tie_and_the_tie_is_oriented_as_shown():
    out = set_comparisons(SHOWN, "b", [["d", "c"], ["a"]])
    ties = [c for c in out if c.tie]
    assert ties == [Comparison("c", "d", tie=True, implied=True)]  # c was shown before d
    assert Comparison("c", "a", implied=True) in out and Comparison("d", "a", implied=True) in out


def test_as_shown_names_the_member_shown_first_a():
    assert as_shown(Comparison("d", "c"), SHOWN) == ("c", "d", "B")
    assert as_shown(Comparison("c", "b"), SHOWN) == ("c", "b", "A")
    assert as_shown(Comparison("d", "c", tie=True), SHOWN) == ("c", "d", "tie")


@pytest.mark.parametrize(("shown", "best", "ranking", "message"), [
    (["a"], "a", [], "at least two"),
    (["a", "a", "b"], "a", [], "once"),
    (["a", "b"], "z", [], "best must be one of"),
    (["a", "b", "c"], "a", [["z"]], "was not shown"),
    (["a", "b", "c"], "a", [["a"]], "ranked twice"),
    (["a", "b", "c"], "a", [["b"], ["b"]], "ranked twice"),
    (["a", "b", "c"], "a", [[]], "must not be empty"),
])
def test_inconsistent_judgments_are_refused_with_the_reason(shown, best, ranking, message):
    with pytest.raises(ValueError, match=message):
        set_judgment_check(shown, best, ranking)
    with pytest.raises(ValueError, match=message):
        set_comparisons(shown, best, ranking)


def test_the_expansion_module_imports_no_django():
    tree = ast.parse(Path("annotation/set_expansion.py").read_text())
    names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    names |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not any(name.split(".")[0] in {"django", "annotation", "alignment"} for name in names)
