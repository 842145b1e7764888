"""Writing imported set judgments in bulk: conversations, prompts, candidates, sets, set judgments and their
pairwise judgments, a batch at a time (annotation/bulk_rows.py: COPY on PostgreSQL), inside the caller's
transaction. The Community Alignment and collective-alignment readers parse lines into SetItems; this module
is the one writer both use, and its comparisons come from annotation/set_judgments.derived_rows().

Every prompt, candidate and set an item brings is new (imports refuse a prompt id the study already has), so
the pairs its comparisons need are new too: no lookup of existing pairs, and no (participant, pair) clash with
earlier judgments can arise beyond the same annotator judging one set twice, which the readers refuse.
"""

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from itertools import count

from django.utils import timezone

from annotation.bulk_rows import rows_write, rows_write_with_ids
from annotation.errors import InputError
from annotation.groups import group_key, validate_attributes
from annotation.models import (
    Candidate,
    CandidateSet,
    Conversation,
    Judgment,
    Pair,
    Participant,
    Prompt,
    SetJudgment,
    Study,
)
from annotation.set_judgments import DERIVED_FIELDS, PAIR_FIELDS, SET_PAIR_STRATEGY, comparison_keys, derived_rows

BATCH = 1000  # items written at a time


class ParticipantRef:
    """An annotator of the study as the readers see it: the id is known once the batch holding them is written."""

    __slots__ = ("pk", "group_key")

    def __init__(self, pk: int | None, group_key: str):
        self.pk, self.group_key = pk, group_key


@dataclass
class ConversationRow:
    external_id: str
    participant: ParticipantRef
    language: str
    pregenerated: bool | None
    created_at: datetime
    pk: int | None = None


@dataclass
class ItemJudgment:
    """One annotator's judgment of an item's set; shown, best and ranking index the item's candidates."""

    participant: ParticipantRef
    shown: list[int]
    best: int
    ranking: list[list[int]]
    explanation: str
    created_at: datetime
    conversation: ConversationRow | None = None
    turn: int | None = None


@dataclass
class SetItem:
    """A new prompt, its candidates (in the set's canonical order), their set, and the judgments of it."""

    line: int
    prompt_id: str
    turns: list[dict]
    tags: list[str]
    language: str
    source: str
    candidates: list[tuple[str, str, str, str]]  # external id, text, source, strategy
    judgments: list[ItemJudgment] = field(default_factory=list)


@dataclass
class SetImportSummary:
    prompts: int = 0
    candidates: int = 0
    sets: int = 0
    set_judgments: int = 0
    comparisons: int = 0
    participants: int = 0
    conversations: int = 0


class Participants:
    """The study's participants by external id. New ones (imported annotators have no login) wait until the
    next flush and are written in one COPY: one INSERT each was 3,500 round trips in a Community Alignment file."""

    FIELDS = ("study_id", "external_id", "attributes", "group_key", "crowd_params", "flag_note", "created_at")

    def __init__(self, study: Study, summary: SetImportSummary):
        self.study, self.summary = study, summary
        self.known: dict[str, ParticipantRef] = {
            ext: ParticipantRef(pk, key) for pk, ext, key in
            Participant.objects.filter(study=study).values_list("pk", "external_id", "group_key")
        }
        self.pending: list[tuple[ParticipantRef, str, dict]] = []

    def get(self, annotator_id: str, attributes: dict) -> ParticipantRef:
        """The annotator (new ones are created at the next write_pending); a known annotator keeps their group."""
        clean = validate_attributes(attributes, self.study.group_attributes)
        key = group_key(clean, self.study.group_attributes)
        known = self.known.get(annotator_id)
        if known is None:
            known = self.known[annotator_id] = ParticipantRef(None, key)
            self.pending.append((known, annotator_id, clean))
        elif known.group_key != key:
            raise InputError(f"annotator {annotator_id!r} is already in group {known.group_key!r}, not {key!r}",
                             field="annotator_id")
        return known

    def write_pending(self) -> None:
        now = timezone.now()
        pks = rows_write_with_ids(Participant, self.FIELDS, [
            (self.study.pk, ext, attributes, ref.group_key, {}, "", now) for ref, ext, attributes in self.pending])
        for (ref, _, _), pk in zip(self.pending, pks, strict=True):
            ref.pk = pk
        self.summary.participants += len(self.pending)
        self.pending = []


class SetRows:
    """Items waiting to be written; flush() writes them all, in table order, and counts them."""

    def __init__(self, study: Study, summary: SetImportSummary, participants: Participants, *, source: str = ""):
        self.study, self.summary, self.participants, self.source = study, summary, participants, source
        self.items: list[SetItem] = []
        self.prompt_ids: set[str] = set()
        self.client_ids = (f"imp-set-{uuid.uuid4().hex[:16]}-{n}" for n in count())

    def add(self, item: SetItem) -> None:
        if item.prompt_id in self.prompt_ids:
            raise InputError(f"prompt {item.prompt_id!r} appears twice in the file", line=item.line,
                             source=self.source)
        self.prompt_ids.add(item.prompt_id)
        self.items.append(item)
        if len(self.items) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if not self.items:
            return
        items, self.items = self.items, []
        self._refuse_known_prompts(items)
        now = timezone.now()
        self.participants.write_pending()
        self._conversations_write(items)
        prompt_pks = rows_write_with_ids(Prompt, ("study_id", "external_id", "turns", "tags", "language", "source"), [
            (self.study.pk, it.prompt_id, it.turns, it.tags, it.language, it.source) for it in items])
        candidate_pks = rows_write_with_ids(
            Candidate, ("prompt_id", "external_id", "text", "source", "strategy"),
            [(prompt_pk, *candidate) for it, prompt_pk in zip(items, prompt_pks, strict=True)
             for candidate in it.candidates])
        ids_by_item, start = [], 0
        for it in items:
            ids_by_item.append(candidate_pks[start:start + len(it.candidates)])
            start += len(it.candidates)
        set_pks = rows_write_with_ids(
            CandidateSet, ("prompt_id", "members", "strategy", "diversity", "size", "created_at"),
            [(prompt_pk, ids, "imported", None, len(ids), now)
             for prompt_pk, ids in zip(prompt_pks, ids_by_item, strict=True)])
        self._judgments_write(items, prompt_pks, set_pks, ids_by_item)
        self.summary.prompts += len(items)
        self.summary.candidates += len(candidate_pks)
        self.summary.sets += len(set_pks)

    def _refuse_known_prompts(self, items: list[SetItem]) -> None:
        ids = [it.prompt_id for it in items]
        known = set(Prompt.objects.filter(study=self.study, external_id__in=ids).values_list("external_id", flat=True))
        for it in items:
            if it.prompt_id in known:
                raise InputError(f"the study already has prompt {it.prompt_id!r} (already imported?)",
                                 line=it.line, source=self.source)

    def _conversations_write(self, items: list[SetItem]) -> None:
        new = {id(j.conversation): j.conversation for it in items for j in it.judgments
               if j.conversation is not None and j.conversation.pk is None}
        rows = list(new.values())
        pks = rows_write_with_ids(Conversation, (
            "study_id", "participant_id", "external_id", "language", "first_prompt_pregenerated", "created_at"), [
            (self.study.pk, c.participant.pk, c.external_id, c.language, c.pregenerated, c.created_at) for c in rows])
        for row, pk in zip(rows, pks, strict=True):
            row.pk = pk
        self.summary.conversations += len(rows)

    def _judgments_write(self, items, prompt_pks, set_pks, ids_by_item) -> None:
        records, pair_rows, pair_keys, seen = [], [], [], set()
        now = timezone.now()
        for it, prompt_pk, set_pk, ids in zip(items, prompt_pks, set_pks, ids_by_item, strict=True):
            for j in it.judgments:
                shown = [ids[i] for i in j.shown]
                ranking = [[ids[i] for i in block] for block in j.ranking]
                records.append((j, set_pk, shown, ids[j.best], ranking))
                for key in comparison_keys(shown, ids[j.best], ranking):
                    if frozenset(key) not in seen:  # several annotators of one set share its pairs
                        seen.add(frozenset(key))
                        pair_keys.append(key)
                        pair_rows.append((prompt_pk, *key, SET_PAIR_STRATEGY, now))
        pair_pks = rows_write_with_ids(Pair, PAIR_FIELDS, pair_rows)
        pairs = {frozenset(key): pk for key, pk in zip(pair_keys, pair_pks, strict=True)}
        judgment_pks = rows_write_with_ids(SetJudgment, (
            "participant_id", "candidate_set_id", "shown", "best_id", "ranking", "explanation", "group_key",
            "conversation_id", "turn", "time_taken_ms", "origin", "client_id", "created_at"), [
            (j.participant.pk, set_pk, shown, best, ranking, j.explanation, j.participant.group_key,
             j.conversation.pk if j.conversation else None, j.turn, None, SetJudgment.Origin.IMPORT.value,
             next(self.client_ids), j.created_at) for j, set_pk, shown, best, ranking in records])
        derived = (row for (j, _, shown, best, ranking), pk in zip(records, judgment_pks, strict=True)
                   for row in derived_rows(set_judgment_id=pk, participant_id=j.participant.pk,
                                           group_key=j.participant.group_key, shown=shown, best=best, ranking=ranking,
                                           created_at=j.created_at, pair_of=lambda a, b: pairs[frozenset((a, b))]))
        self.summary.comparisons += rows_write(Judgment, DERIVED_FIELDS, derived)
        self.summary.set_judgments += len(judgment_pks)
