"""Serving gold items at the study's gold_rate, and screening out participants who fail them.

Gold stays outside the slot machinery and leaves the server-side functions of migration 0008 alone:
`next` rolls the die in Python (most calls pay nothing more), and on a hit leases a gold pair through a
slot that is born done (never claimable, never reopened): on PostgreSQL in one round trip with
`pluralweb_gold_next` (migration 0011), on SQLite statement by statement here (`gold_lease`). The
submit is the ordinary one, so a gold answer is a Judgment of the gold pair: it counts toward the
participant's quota (the progress bar moves as for any pair, so it does not give gold away) and never
toward any pair's k.

Screening rule (docs/formats.md): once a participant has answered at least `screen_min_gold` gold
items, they are screened out if fewer than `screen_min_accuracy` of their gold answers were right.
A screened-out participant gets no further pairs, and the done page shows `screened_out_code`.

Set studies (issue 13) serve gold sets the same way (annotation/set_assignment.py, `_gold_set_next`): the die is
rolled in Python, a hit leases a gold set through a slot born done, with a shown order drawn for the lease. Gold
is rare, so that lease runs statement by statement on both databases, under the participant's lock (below). A
gold set answer is a SetJudgment: it counts toward the quota, and the rule reads best == expected.
"""

import random
import threading
import time
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import F, Q

from annotation.models import Assignment, GoldItem, Slot
from annotation.plain_sql import db_time, statements

# Same key as pluralweb_pair_next's lock (migration 0008): a participant's gold lease and ordinary
# lease queue up behind each other, so two tabs never get two leases.
LOCK_SQL = "SELECT pg_advisory_xact_lock(1886155381, mod(%s, 2147483647)::integer)"

_GOLD_STATE_SQL = """
SELECT pa.study_id, st.quota, st.is_open, st.lease_minutes,
  (SELECT count(*) FROM annotation_judgment WHERE participant_id = pa.id),
  (SELECT count(*) FROM annotation_assignment
    WHERE participant_id = pa.id AND status = 'active' AND expires_at > %s),
  (SELECT g.pair_id FROM annotation_golditem g
    WHERE g.study_id = pa.study_id AND g.pair_id NOT IN (
      SELECT pair_id FROM annotation_assignment WHERE participant_id = pa.id AND status <> 'expired')
    ORDER BY random() LIMIT 1)
FROM annotation_participant pa JOIN annotation_study st ON st.id = pa.study_id WHERE pa.id = %s"""


def gold_due(gold_rate: float) -> bool:
    """Whether this `next` should try a gold item: each newly served pair is gold with probability gold_rate."""
    return gold_rate > 0 and random.random() < gold_rate


def gold_lease(*, participant_id: int, now: datetime) -> tuple[int, int, int] | None:
    """(assignment id, judgments done, quota) of a newly leased gold pair; None when the participant holds
    a live lease, is at quota, the study is closed, or no gold item is left for them (the ordinary `next`
    then answers). The rules of pluralweb_gold_next, statement by statement (SQLite)."""
    with transaction.atomic(), statements() as sql:
        if connection.vendor == "postgresql":
            sql.run(LOCK_SQL, [participant_id])
        row = sql.one(_GOLD_STATE_SQL, [db_time(now), participant_id])
        if row is None:
            return None
        study_id, quota, is_open, lease_minutes, done, live, pair_id = row
        if live or done >= quota or not is_open or pair_id is None:
            return None
        slot = Slot.objects.create(pair_id=pair_id, study_id=study_id, status=Slot.Status.DONE)
        assignment = Assignment.objects.create(
            slot=slot, pair_id=pair_id, participant_id=participant_id, swapped=random.random() < 0.5,
            created_at=now, expires_at=now + timedelta(minutes=lease_minutes),
        )
    return assignment.pk, done, quota


# Every gold pair id, per process, for a cheap "was that submit a gold answer?" after each submit.
# Gold items are added by imports (which clear this process's copy); other processes see them within
# _GOLD_PAIRS_SECONDS. A miss only delays screening to the participant's next gold answer. (A gold set's submit
# reads whether it is gold with its lease: annotation/set_submit.py.)
_GOLD_PAIRS_SECONDS = 30
_gold_pairs: tuple[float, frozenset[int]] = (0.0, frozenset())
_gold_pairs_lock = threading.Lock()


def gold_pairs_forget() -> None:
    global _gold_pairs
    with _gold_pairs_lock:
        _gold_pairs = (0.0, frozenset())


def is_gold_pair(pair_id: int) -> bool:
    global _gold_pairs
    expiry, pairs = _gold_pairs
    if expiry < time.monotonic():
        pairs = frozenset(GoldItem.objects.filter(pair_id__isnull=False).values_list("pair_id", flat=True))
        with _gold_pairs_lock:
            _gold_pairs = (time.monotonic() + _GOLD_PAIRS_SECONDS, pairs)
    return pair_id in pairs


# A gold answer is right when the chosen candidate, as shown, is the expected one.
GOLD_RIGHT = Q(choice="A", candidate_a_id=F("pair__gold__expected_id")) | Q(
    choice="B", candidate_b_id=F("pair__gold__expected_id")
)


# The screening rule over the participant's gold answers, applied in one statement after each of them.
_SCREEN_SQL = """
UPDATE annotation_participant SET screened_out_at = %s
WHERE id = %s AND screened_out_at IS NULL AND (
  SELECT count(*) >= st.screen_min_gold
     AND sum(CASE WHEN (j.choice = 'A' AND j.candidate_a_id = g.expected_id)
                    OR (j.choice = 'B' AND j.candidate_b_id = g.expected_id) THEN 1 ELSE 0 END)
         < st.screen_min_accuracy * count(*)
  FROM annotation_judgment j
  JOIN annotation_golditem g ON g.pair_id = j.pair_id
  JOIN annotation_study st ON st.id = g.study_id
  WHERE j.participant_id = %s
  GROUP BY st.screen_min_gold, st.screen_min_accuracy)
RETURNING id"""


# The same rule over gold set answers (set studies): right when the best is the expected one.
_SCREEN_SETS_SQL = """
UPDATE annotation_participant SET screened_out_at = %s
WHERE id = %s AND screened_out_at IS NULL AND (
  SELECT count(*) >= st.screen_min_gold
     AND sum(CASE WHEN j.best_id = g.expected_id THEN 1 ELSE 0 END) < st.screen_min_accuracy * count(*)
  FROM annotation_setjudgment j
  JOIN annotation_golditem g ON g.candidate_set_id = j.candidate_set_id
  JOIN annotation_study st ON st.id = g.study_id
  WHERE j.participant_id = %s
  GROUP BY st.screen_min_gold, st.screen_min_accuracy)
RETURNING id"""


def participant_screen(*, participant_id: int, now: datetime, sets: bool = False) -> bool:
    """Apply the screening rule after a gold answer (to a gold set with sets); True when this answer screened
    the participant out."""
    with statements() as sql:
        return sql.one(_SCREEN_SETS_SQL if sets else _SCREEN_SQL, [db_time(now), participant_id,
                                                                   participant_id]) is not None
