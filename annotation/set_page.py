"""The set task on the annotate page (issue 13): what the set widget shows, and what its form sends.

The widget (templates/annotation/_set_widget.html) posts `best` (a candidate's external id) and, for each other
response, one `place`: "<place>:<external id>", or "" when not ranked; 2 is the next best, a place given twice is
a tie. The page's door (annotation/views.py) turns that into the body set_judgment_input reads, the API's shape,
so the page and the API go through one validation.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from django.http import QueryDict

from annotation.assignment import ShownCandidate
from annotation.errors import InputError

_PLACE_DIGITS = 2  # a set has at most 6 members


@dataclass(frozen=True)
class SetMember:
    """One response of the set as the widget shows it: numbered from 1 in the order shown."""

    number: int
    candidate: ShownCandidate
    best: bool = False
    place: int | None = None


@dataclass(frozen=True)
class SetKeptAnswer:
    """A refused set answer: filled in again while its set is on screen, else its explanation is offered to copy."""

    best: str
    places: dict[str, int]  # candidate external id -> place among the others
    explanation: str
    same_set: bool


def _place(value: str) -> tuple[int, str] | None:
    place, sep, member = value.partition(":")
    if not (sep and place.isdigit() and len(place) <= _PLACE_DIGITS and member):
        return None
    return int(place), member


def ranking_from_places(values: list[str]) -> list[list[str]]:
    """The `place` fields as ranking blocks of external ids, better first (["3:c2", "", "2:c1", "3:c4"] ->
    [["c1"], ["c2", "c4"]]). Whether the ids are the set's others is the service's check, not this one's."""
    blocks: dict[int, list[str]] = {}
    for value in values:
        if value == "":
            continue
        parsed = _place(value)
        if parsed is None:
            raise InputError("a place is a number, a colon and a response's id", field="ranking")
        blocks.setdefault(parsed[0], []).append(parsed[1])
    return [blocks[place] for place in sorted(blocks)]


def set_kept_answer(post: QueryDict, *, set_on_screen: int) -> SetKeptAnswer:
    places = {member: place for place, member in filter(None, map(_place, post.getlist("place")))}
    return SetKeptAnswer(best=post.get("best", ""), places=places, explanation=post.get("explanation", ""),
                         same_set=post.get("set", "") == str(set_on_screen))


def set_widget_context(shown: Sequence[ShownCandidate], kept: SetKeptAnswer | None = None) -> dict:
    """What _set_widget.html needs: the responses in the order shown (a set task's, or a conversation turn's),
    filled in again from a kept answer of the same set."""
    refill = kept if kept is not None and kept.same_set else None
    members = [
        SetMember(number, candidate, best=bool(refill) and candidate.external_id == refill.best,
                  place=refill.places.get(candidate.external_id) if refill else None)
        for number, candidate in enumerate(shown, start=1)
    ]
    return {
        "set_members": members, "places": range(2, len(members) + 1),
        "kept_explanation": refill.explanation if refill else "",
    }
