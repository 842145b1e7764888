"""Judgment files (docs/formats.md): importing existing datasets and exporting ours.

A line is either a pairwise judgment ({"annotator_id", "attributes", "prompt_id", "a", "b", "choice",
...}) or a rating ({"annotator_id", "attributes", "prompt_id", "candidate_id", "rating"}). Ratings
become pairwise judgments between candidates the same annotator rated on the same prompt. Files
stream: lines are validated and written in batches inside one transaction, so a bad line anywhere
leaves the database as it was.

Scale (issue 11): 13k ratings of 1,500 items derive ~320k judgments on ~270k new pairs. New pairs wait
in the index and are written in bulk (annotation/bulk_rows.py: COPY on PostgreSQL) just before the
judgments that need them; derived judgments are plain tuples written every FLUSH_ROWS, so memory
stays bounded by the study's pair index, not by the number of judgments. Pairs made here get no
slots: they hold imported judgments, not wanted work, so `next` (which serves slots only) never hands
them out and they count toward no k, like gold pairs.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from itertools import combinations, count, groupby
from typing import IO

from django.db import transaction
from django.utils import timezone

from annotation.allocation import pair_group_counts_rebuild
from annotation.bulk_rows import rows_write, rows_write_with_ids
from annotation.errors import InputError
from annotation.gold import GOLD_STRATEGY
from annotation.groups import group_key, validate_attributes
from annotation.input_rules import long_text, rating, timestamp
from annotation.jsonl import field, iter_jsonl, text_field
from annotation.models import Candidate, Judgment, Pair, Participant, Rating, Study

BATCH = 1000
FLUSH_ROWS = 20_000  # derived judgments held before they are written
PAIR_FIELDS = ("prompt_id", "candidate_a_id", "candidate_b_id", "strategy", "created_at")
DERIVED_FIELDS = ("participant_id", "pair_id", "candidate_a_id", "candidate_b_id", "choice", "strength", "rationale",
                  "rating_a", "rating_b", "group_key", "origin", "client_id", "created_at")
PairKey = tuple[int, int]  # (candidate_a_id, candidate_b_id) in the pair's own order


@dataclass
class JudgmentImportSummary:
    judgments: int = 0
    ratings: int = 0
    from_ratings: int = 0
    participants: int = 0
    pairs_created: int = 0


class _StudyIndex:
    """Ids of the study's prompts, candidates, pairs and participants, filled as lines need them."""

    def __init__(self, study: Study, summary: JudgmentImportSummary):
        self.study = study
        self.summary = summary
        self.candidates: dict[tuple[str, str], tuple[int, int]] = {
            (prompt_ext, cand_ext): (cand_pk, prompt_pk)
            for cand_pk, cand_ext, prompt_pk, prompt_ext in Candidate.objects.filter(prompt__study=study).values_list(
                "pk", "external_id", "prompt_id", "prompt__external_id"
            )
        }
        self.prompts = {prompt_ext for prompt_ext, _ in self.candidates}
        self.pairs: dict[tuple[int, int], int] = {}
        # Gold pairs (attention checks) never take imported judgments; their order stays theirs.
        self.gold_orders: set[tuple[int, int]] = set()
        for pk, a, b, strategy in Pair.objects.filter(prompt__study=study).values_list(
            "pk", "candidate_a_id", "candidate_b_id", "strategy"
        ):
            if strategy == GOLD_STRATEGY:
                self.gold_orders.add((a, b))
            else:
                self.pairs[(a, b)] = pk
        self.pending: dict[PairKey, int] = {}  # new pair -> its prompt, until pairs_write()
        self.participants: dict[str, Participant] = {}

    def candidate(self, prompt_id: str, candidate_id: str, name: str) -> tuple[int, int]:
        if prompt_id not in self.prompts:
            raise InputError(f"unknown prompt {prompt_id!r} in study {self.study.slug!r}", field="prompt_id")
        found = self.candidates.get((prompt_id, candidate_id))
        if found is None:
            raise InputError(f"unknown candidate {candidate_id!r} for prompt {prompt_id!r}", field=name)
        return found

    def pair_key(self, prompt_pk: int, a: int, b: int) -> PairKey:
        """The pair of candidates a and b, in its stored order; a new pair waits until pairs_write()."""
        for key in ((a, b), (b, a)):
            if key in self.pairs or key in self.pending:
                return key
        if (a, b) in self.gold_orders:
            a, b = b, a
        self.pending[(a, b)] = prompt_pk
        return (a, b)

    def pairs_write(self) -> None:
        """Write the waiting pairs in bulk (no slots: see the module's docstring)."""
        if not self.pending:
            return
        now = timezone.now()
        keys = list(self.pending)
        ids = rows_write_with_ids(
            Pair, PAIR_FIELDS, [(self.pending[key], *key, "imported", now) for key in keys]
        )
        self.pairs.update(zip(keys, ids, strict=True))
        self.summary.pairs_created += len(keys)
        self.pending.clear()

    def participant(self, annotator_id: str, attributes: object) -> Participant:
        known = self.participants.get(annotator_id)
        if known is None:
            known = Participant.objects.filter(study=self.study, external_id=annotator_id).first()
        clean = validate_attributes(attributes if attributes is not None else {}, self.study.group_attributes)
        if known is None:
            known = Participant.objects.create(
                study=self.study, external_id=annotator_id, attributes=clean,
                group_key=group_key(clean, self.study.group_attributes),
            )
            self.summary.participants += 1
        elif group_key(clean, self.study.group_attributes) != known.group_key:
            raise InputError(
                f"annotator {annotator_id!r} is already in group {known.group_key!r}", field="attributes"
            )
        self.participants[annotator_id] = known
        return known


def _created_at(obj: dict) -> datetime:
    raw = field(obj, "created_at", str, required=False)
    return timestamp(raw, "created_at") if raw else timezone.now()


def _number(obj: dict, name: str, *, required: bool) -> float | None:
    value = field(obj, name, (int, float), required=required)
    return None if value is None else rating(value, name)


def _judgment(obj: dict, index: _StudyIndex) -> tuple[Judgment, tuple[int, PairKey]]:
    participant = index.participant(text_field(obj, "annotator_id", max_length=128), obj.get("attributes"))
    prompt_id = text_field(obj, "prompt_id")
    a, prompt_pk = index.candidate(prompt_id, text_field(obj, "a"), "a")
    b, _ = index.candidate(prompt_id, text_field(obj, "b"), "b")
    if a == b:
        raise InputError("a and b must be different candidates", field="b")
    choice = text_field(obj, "choice")
    if choice not in Judgment.Choice.values:
        raise InputError(f"must be one of {', '.join(Judgment.Choice.values)}", field="choice")
    strength = text_field(obj, "strength", required=False)
    if strength and strength not in Judgment.Strength.values:
        raise InputError(f"must be empty or one of {', '.join(Judgment.Strength.values)}", field="strength")
    pair_key = index.pair_key(prompt_pk, a, b)
    judgment = Judgment(  # pair_id is set when its pair is written (_JudgmentBatch)
        participant=participant, candidate_a_id=a, candidate_b_id=b, choice=choice,
        strength=strength, rationale=long_text(text_field(obj, "rationale", required=False), "rationale"),
        rating_a=_number(obj, "rating_a", required=False), rating_b=_number(obj, "rating_b", required=False),
        group_key=participant.group_key, origin=Judgment.Origin.IMPORT, created_at=_created_at(obj),
        # Client ids are the submitting client's idempotency keys, not data: imports make their own.
        client_id=f"imp-{uuid.uuid4().hex}",
    )
    return judgment, (participant.pk, pair_key)


def _rating(obj: dict, index: _StudyIndex) -> tuple[Rating, tuple[int, int]]:
    participant = index.participant(text_field(obj, "annotator_id", max_length=128), obj.get("attributes"))
    candidate_pk, _ = index.candidate(text_field(obj, "prompt_id"), text_field(obj, "candidate_id"), "candidate_id")
    rating = Rating(
        participant=participant, candidate_id=candidate_pk, rating=_number(obj, "rating", required=True),
        created_at=_created_at(obj),
    )
    return rating, (participant.pk, candidate_pk)


class _Batch:
    """Rows waiting to be written, with the line each came from so a clash can be reported there."""

    def __init__(self, model, key_fields: tuple[str, str], what: str, source: str):
        self.model, self.key_fields, self.what, self.source = model, key_fields, what, source
        self.rows: list = []
        self.keys: dict[tuple[int, int], int] = {}

    def add(self, row, key: tuple[int, int], line: int) -> None:
        if key in self.keys:
            raise InputError(f"duplicate {self.what} (same annotator, also on line {self.keys[key]})", line=line,
                             source=self.source)
        self.keys[key] = line
        self.rows.append(row)

    def flush(self) -> int:
        if not self.rows:
            return 0
        self._check_existing()
        self.model.objects.bulk_create(self.rows, batch_size=BATCH)
        written = len(self.rows)
        self.rows, self.keys = [], {}
        return written

    def _check_existing(self) -> None:
        first, second = self.key_fields
        existing = self.model.objects.filter(
            **{f"{first}__in": {k[0] for k in self.keys}, f"{second}__in": {k[1] for k in self.keys}}
        ).values_list(first, second)
        for key in existing:
            if key in self.keys:
                raise InputError(f"this annotator already has this {self.what} in the study",
                                 line=self.keys[key], source=self.source)


class _JudgmentBatch(_Batch):
    """Judgment lines keyed by (participant, pair key) until flush writes their new pairs in bulk."""

    def __init__(self, index: _StudyIndex, source: str):
        super().__init__(Judgment, ("participant_id", "pair_id"), "judgment of this pair", source)
        self.index = index

    def flush(self) -> int:
        if self.rows:
            self.index.pairs_write()
            # One key per row, in the rows' order (add() refuses a repeated key).
            for row, (_, pair_key) in zip(self.rows, self.keys, strict=True):
                row.pair_id = self.index.pairs[pair_key]
            self.keys = {(who, self.index.pairs[pair_key]): line for (who, pair_key), line in self.keys.items()}
        return super().flush()


@transaction.atomic
def judgments_import(*, study: Study, stream: IO, source: str = "") -> JudgmentImportSummary:
    """Import a judgment file into a study; any bad line aborts the whole import."""
    summary = JudgmentImportSummary()
    index = _StudyIndex(study, summary)
    judgments = _JudgmentBatch(index, source)
    ratings = _Batch(Rating, ("participant_id", "candidate_id"), "rating of this candidate", source)
    rated_by: set[int] = set()
    for line_no, obj in iter_jsonl(stream, source=source):
        try:
            if obj.get("kind") == "rating" or "rating" in obj:
                row, key = _rating(obj, index)
                ratings.add(row, key, line_no)
                rated_by.add(row.participant_id)
            else:
                row, key = _judgment(obj, index)
                judgments.add(row, key, line_no)
        except InputError as exc:
            raise exc.at(line=line_no, source=source) from None
        if len(judgments.rows) >= BATCH:
            summary.judgments += judgments.flush()
        if len(ratings.rows) >= BATCH:
            summary.ratings += ratings.flush()
    summary.judgments += judgments.flush()
    summary.ratings += ratings.flush()
    if not summary.judgments and not summary.ratings:
        # An empty upload is almost always the wrong file; a 201 with zero counts would hide that.
        raise InputError("the file holds no judgments or ratings: nothing was imported", source=source)
    summary.from_ratings = _judgments_from_ratings(index, rated_by)
    pair_group_counts_rebuild(study=study)  # imported judgments count toward allocation and dashboards too
    return summary


def _judgments_from_ratings(index: _StudyIndex, participant_ids: set[int]) -> int:
    """Pairwise judgments between candidates one annotator rated on one prompt (ratings kept on them).

    Rows are tuples (pair key in place of pair_id) written every FLUSH_ROWS, after their new pairs."""
    now = timezone.now()
    # Client ids with one prefix per import and a counter: unique, and they land side by side in the
    # unique index (random uuids scattered 300k inserts over all of its pages).
    client_ids = (f"rat-{uuid.uuid4().hex}-{n}" for n in count())
    pending: list[tuple] = []
    created = 0
    ordered = sorted(participant_ids)
    for start in range(0, len(ordered), 200):
        chunk = ordered[start : start + 200]
        judged = set(Judgment.objects.filter(participant_id__in=chunk).values_list("participant_id", "pair_id"))
        # A list, not a server-side cursor: the writes below run on the same connection meanwhile.
        rows = list(
            Rating.objects.filter(participant_id__in=chunk)
            .order_by("participant_id", "candidate__prompt_id", "candidate_id")
            .values_list("participant_id", "participant__group_key", "candidate__prompt_id", "candidate_id",
                         "rating", "created_at")
        )
        for (participant_id, group, prompt_pk), group_rows in groupby(rows, key=lambda r: r[:3]):
            for left, right in combinations(list(group_rows), 2):
                pair_key = index.pair_key(prompt_pk, left[3], right[3])
                if (participant_id, index.pairs.get(pair_key)) in judged:
                    continue  # an explicit judgment of the same pair wins over the derived one
                pending.append(_from_ratings(participant_id, group, pair_key, left, right, now, next(client_ids)))
            if len(pending) >= FLUSH_ROWS:
                created += _derived_write(index, pending)
                pending = []
    return created + _derived_write(index, pending)


def _from_ratings(participant_id: int, group: str, pair_key: PairKey, left: tuple, right: tuple,
                  now: datetime, client_id: str) -> tuple:
    """A derived judgment as a DERIVED_FIELDS row, with its pair key where pair_id goes."""
    rating_a, rating_b = left[4], right[4]
    choice = "A" if rating_a > rating_b else "B" if rating_b > rating_a else "tie"
    stamps = [stamp for stamp in (left[5], right[5]) if stamp is not None]
    return (participant_id, pair_key, left[3], right[3], choice, "", "", rating_a, rating_b, group,
            Judgment.Origin.RATINGS.value, client_id, max(stamps) if stamps else now)


def _derived_write(index: _StudyIndex, rows: list[tuple]) -> int:
    index.pairs_write()
    pairs = index.pairs
    return rows_write(Judgment, DERIVED_FIELDS, ((row[0], pairs[row[1]], *row[2:]) for row in rows))
