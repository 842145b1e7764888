"""One set judgment -> the pairwise comparisons it implies: the one expansion every consumer reads through.

A set judgment (issue 13) holds the members as shown, the best one (required), and optionally a ranking of
the rest: blocks from better to worse, members of one block tied. Expansion:

- the best beats each other member (the judgment's own statement: never marked implied);
- a ranking adds, marked implied: each member of a block beats each member of every later block and each
  unranked member (a partial ranking is a top-k: ranked above unranked, unranked ones not compared among
  themselves); members of one block tie.

Plain Python, no Django: the database writer (annotation/set_judgments.py), the importers, the PAL known-truth
test and any later consumer call the same function, so a set judgment means the same pairs everywhere.
"""

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

Member = Hashable


@dataclass(frozen=True)
class Comparison:
    winner: Member  # for a tie: the one of the two shown first
    loser: Member
    tie: bool = False
    implied: bool = False  # read off the ranking, beyond "best over each other"


def set_judgment_check(shown: Sequence[Member], best: Member, ranking: Sequence[Sequence[Member]] = ()) -> None:
    """ValueError naming the problem when the three do not make a judgment of the shown set."""
    if len(shown) < 2:
        raise ValueError("a set shows at least two members")
    if len(set(shown)) != len(shown):
        raise ValueError("a set shows each member once")
    if best not in shown:
        raise ValueError("the best must be one of the members shown")
    seen = {best}
    for block in ranking:
        if not block:
            raise ValueError("a ranking block must not be empty")
        for member in block:
            if member not in shown:
                raise ValueError(f"ranked member {member!r} was not shown")
            if member in seen:
                raise ValueError(f"member {member!r} is ranked twice (or is the best and ranked again)")
            seen.add(member)


def set_comparisons(shown: Sequence[Member], best: Member,
                    ranking: Sequence[Sequence[Member]] = ()) -> list[Comparison]:
    """The comparisons a set judgment implies, in a fixed order: best over the others in shown order, then
    the ranking's pairs block by block. Raises ValueError (set_judgment_check) on an inconsistent judgment."""
    set_judgment_check(shown, best, ranking)
    position = {member: i for i, member in enumerate(shown)}
    out = [Comparison(best, other) for other in shown if other != best]
    ranked = {member for block in ranking for member in block}
    unranked = [member for member in shown if member != best and member not in ranked]
    for i, block in enumerate(ranking):
        ordered = sorted(block, key=position.__getitem__)
        for j, first in enumerate(ordered):
            out.extend(Comparison(first, second, tie=True, implied=True) for second in ordered[j + 1:])
        below = [member for later in ranking[i + 1:] for member in sorted(later, key=position.__getitem__)]
        for winner in ordered:
            out.extend(Comparison(winner, loser, implied=True) for loser in below + unranked)
    return out


def as_shown(comparison: Comparison, shown: Sequence[Member]) -> tuple[Member, Member, str]:
    """(a, b, choice) as a pairwise judgment states it: a is the one shown first; choice "A", "B" or "tie"."""
    position = {member: i for i, member in enumerate(shown)}
    winner_first = position[comparison.winner] < position[comparison.loser]
    a, b = (comparison.winner, comparison.loser) if winner_first else (comparison.loser, comparison.winner)
    if comparison.tie:
        return a, b, "tie"
    return a, b, "A" if winner_first else "B"

