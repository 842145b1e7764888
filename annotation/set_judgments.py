"""Set judgments and the pairwise judgments they imply (issue 13).

A set judgment is stored once (SetJudgment: shown order, best, ranking, explanation). Its comparisons are
written as Judgment rows with origin "set", a link back to it and `implied` for ranking-derived ones, by
derived_rows() below from annotation/set_expansion.py and nowhere else: dashboards, leaderboards, PAL, SPICA and
the pairwise exports read Judgment rows through annotation/counted_judgments.py, so they take set judgments with no
change of their own.

Judgment keeps one judgment per (participant, pair). Two sets that share a candidate pair, judged by one
annotator, would state that pair twice: the second set judgment is refused (Conflict here, a line error in
imports), and so is a set whose pair the annotator already judged as a pair task. Community Alignment shows one
set per prompt and turn, so its files never meet this; the set-task loop (annotation/set_assignment.py) does not
serve an annotator a set sharing a pair with one they hold or judged.

Pairs made for comparisons have strategy "set" and no slots: like pairs made for imported judgments they hold
judgments, not wanted work, so `next` never serves them.
"""

from collections.abc import Callable, Sequence
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from annotation.allocation import pair_win
from annotation.bulk_rows import rows_write
from annotation.errors import Conflict, InputError
from annotation.models import CandidateSet, Judgment, Pair, Participant, SetJudgment
from annotation.plain_sql import db_time, statements
from annotation.set_expansion import as_shown, set_comparisons, set_judgment_check

SET_PAIR_STRATEGY = "set"
PAIR_FIELDS = ("prompt_id", "candidate_a_id", "candidate_b_id", "strategy", "created_at")
DERIVED_FIELDS = ("participant_id", "pair_id", "candidate_a_id", "candidate_b_id", "choice", "strength", "rationale",
                  "group_key", "origin", "set_judgment_id", "implied", "client_id", "created_at")
Ranking = Sequence[Sequence[int]]


def comparison_keys(shown: Sequence[int], best: int, ranking: Ranking) -> list[tuple[int, int]]:
    """(a, b) candidate ids of each comparison, a shown first: the pairs a set judgment needs."""
    return [as_shown(c, shown)[:2] for c in set_comparisons(shown, best, ranking)]


def derived_rows(*, set_judgment_id: int, participant_id: int, group_key: str, shown: Sequence[int], best: int,
                 ranking: Ranking, created_at: datetime, pair_of: Callable[[int, int], int]) -> list[tuple]:
    """The set judgment's comparisons as DERIVED_FIELDS rows (Judgment, origin "set"); pair_of(a, b) gives the
    id of the pair of candidates a and b. The explanation stays on the set judgment, not copied per pair."""
    rows = []
    for n, comparison in enumerate(set_comparisons(shown, best, ranking)):
        a, b, choice = as_shown(comparison, shown)
        rows.append((participant_id, pair_of(a, b), a, b, choice, "", "", group_key, Judgment.Origin.SET.value,
                     set_judgment_id, comparison.implied, f"set-{set_judgment_id}-{n}", created_at))
    return rows


def candidate_set_create(*, prompt_id: int, candidate_ids: Sequence[int], strategy: str,
                         diversity: float | None = None) -> CandidateSet:
    """A set of the prompt's candidates, members in the given (canonical) order."""
    return CandidateSet.objects.create(prompt_id=prompt_id, members=list(candidate_ids), strategy=strategy,
                                       diversity=diversity, size=len(candidate_ids), created_at=timezone.now())


def _pairs_found(keys: list[tuple[int, int]]) -> dict[frozenset, tuple[int, int]]:
    wanted = {frozenset(key) for key in keys}
    ids = {b for key in keys for b in key}
    return {frozenset((a, b)): (pk, a) for pk, a, b in Pair.objects.filter(
        candidate_a_id__in=ids, candidate_b_id__in=ids).values_list("pk", "candidate_a_id", "candidate_b_id")
        if frozenset((a, b)) in wanted}


# Two annotators judging one set at once may both find a pair missing: the loser of the insert does nothing
# (on PostgreSQL it waits for the winner's commit) and reads the winner's pair.
_PAIRS_INSERT_SQL = """
INSERT INTO annotation_pair (prompt_id, candidate_a_id, candidate_b_id, strategy, created_at) VALUES {values}
ON CONFLICT (candidate_a_id, candidate_b_id) DO NOTHING"""


def _pairs_for(prompt_id: int, keys: list[tuple[int, int]]) -> dict[tuple[int, int], tuple[int, int]]:
    """(pair id, the pair's own candidate a) of each (a, b), in either stored order; missing pairs are made
    (strategy "set", no slots), as (lower id, higher id) so that concurrent submits make each pair once."""
    found = _pairs_found(keys)
    missing = sorted({tuple(sorted(key)) for key in keys if frozenset(key) not in found})
    if missing:
        now = db_time(timezone.now())
        with statements() as sql:
            sql.run(_PAIRS_INSERT_SQL.format(values=", ".join(["(%s, %s, %s, %s, %s)"] * len(missing))),
                    [value for a, b in missing for value in (prompt_id, a, b, SET_PAIR_STRATEGY, now)])
        found = _pairs_found(keys)
    return {key: found[frozenset(key)] for key in keys}


@transaction.atomic
def set_judgment_create(*, participant: Participant, candidate_set: CandidateSet, shown: Sequence[int], best: int,
                        ranking: Ranking = (), explanation: str = "", client_id: str,
                        origin: str = SetJudgment.Origin.WEB, time_taken_ms: int | None = None,
                        created_at: datetime | None = None) -> SetJudgment:
    """Store one set judgment and write its comparisons (see the module's docstring for refusals)."""
    if candidate_set.prompt.study_id != participant.study_id:
        raise InputError("the set belongs to another study", field="candidate_set")
    if sorted(shown) != sorted(candidate_set.members):
        raise InputError("shown must hold each member of the set once", field="shown")
    try:
        set_judgment_check(shown, best, ranking)
    except ValueError as exc:
        raise InputError(str(exc), field="ranking") from None
    if SetJudgment.objects.filter(participant=participant, candidate_set=candidate_set).exists():
        raise Conflict("this annotator already judged this set", code="set_already_judged")
    judgment, _ = set_judgment_write(
        participant_id=participant.pk, group_key=participant.group_key, candidate_set_id=candidate_set.pk,
        prompt_id=candidate_set.prompt_id, shown=shown, best=best, ranking=ranking, explanation=explanation,
        client_id=client_id, origin=origin, time_taken_ms=time_taken_ms, created_at=created_at or timezone.now(),
    )
    return judgment


def set_judgment_write(*, participant_id: int, group_key: str, candidate_set_id: int, prompt_id: int,
                       shown: Sequence[int], best: int, ranking: Ranking, explanation: str, client_id: str, origin: str,
                       time_taken_ms: int | None, created_at: datetime, assignment_id: int | None = None,
                       ) -> tuple[SetJudgment, list[tuple[int, float]]]:
    """Write a checked set judgment and its comparisons, inside the caller's transaction. Returns it with each
    comparison's (pair id, win for the pair's own candidate a, a tie half): what PairGroupCount adds."""
    keys = comparison_keys(shown, best, ranking)
    pairs = _pairs_for(prompt_id, keys)
    if Judgment.objects.filter(participant_id=participant_id, pair_id__in=[pk for pk, _ in pairs.values()]).exists():
        raise Conflict("this annotator already judged a pair of this set", code="pair_already_judged")
    judgment = SetJudgment.objects.create(
        participant_id=participant_id, candidate_set_id=candidate_set_id, assignment_id=assignment_id,
        shown=list(shown), best_id=best, ranking=[list(block) for block in ranking], explanation=explanation,
        group_key=group_key, origin=origin, client_id=client_id, time_taken_ms=time_taken_ms, created_at=created_at,
    )
    rows = derived_rows(
        set_judgment_id=judgment.pk, participant_id=participant_id, group_key=group_key, shown=shown,
        best=best, ranking=ranking, created_at=created_at, pair_of=lambda a, b: pairs[(a, b)][0],
    )
    rows_write(Judgment, DERIVED_FIELDS, rows)
    wins = []
    for (a, b), row in zip(keys, rows, strict=True):
        pair_id, pair_a = pairs[(a, b)]
        wins.append((pair_id, pair_win(row[4], a, pair_a)))
    return judgment, wins
