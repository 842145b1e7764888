"""Collective-alignment files: JSONL releases in which each record holds a chat-transcript prompt, its candidate
responses and per-annotator rankings with rationales, plus a separate annotators file with demographics (the
shape of OpenAI's Collective Alignment 1). The exact fields accepted are in docs/formats.md.

A record becomes a prompt, its responses candidates (in the record's order, which is the order shown), one set,
and one set judgment per assessment: the ranking's top response is the best, the rest of the ranking is kept
(blocks, ties within a block) and expands into implied comparisons (annotation/set_expansion.py). Ranking text:
response indexes joined by ">" (better first) and "=" (tied), e.g. "B>A=C>D"; responses left out rank below
every listed one, unordered among themselves, so "B" alone is a best-only judgment.
"""

import json
from collections.abc import Iterator
from typing import IO

from django.db import transaction
from django.utils import timezone

from annotation.allocation import pair_group_counts_rebuild
from annotation.counted_judgments import set_judgments_that_count
from annotation.errors import InputError
from annotation.input_rules import clean_text, long_text, timestamp
from annotation.jsonl import field, iter_jsonl, text_field
from annotation.models import Candidate, CandidateSet, Participant, SetJudgment, Study
from annotation.set_bulk import ItemJudgment, Participants, SetImportSummary, SetItem, SetRows

ROLES = {"system", "developer", "user", "assistant"}
SOURCE = "collective-alignment"
MIN_RESPONSES, MAX_RESPONSES = 2, 6


def _messages(obj: dict) -> list[dict]:
    raw = obj.get("prompt")
    if isinstance(raw, dict):
        raw = field(raw, "messages", list, prefix="prompt.")
    if not isinstance(raw, list) or not raw:
        raise InputError("must be a non-empty list of messages, or an object with one", field="prompt")
    turns = []
    for i, message in enumerate(raw):
        where = f"prompt[{i}]"
        if not isinstance(message, dict):
            raise InputError("must be an object with role and content", field=where)
        role = text_field(message, "role", prefix=f"{where}.")
        if role not in ROLES:
            raise InputError(f"must be one of {', '.join(sorted(ROLES))}", field=f"{where}.role")
        content = long_text(text_field(message, "content", prefix=f"{where}."), f"{where}.content")
        turns.append({"role": role, "content": content})
    return turns


def _responses(obj: dict) -> list[tuple[str, str]]:
    raw = field(obj, "responses", list)
    if not MIN_RESPONSES <= len(raw) <= MAX_RESPONSES:
        raise InputError(f"must hold {MIN_RESPONSES} to {MAX_RESPONSES} responses", field="responses")
    out: list[tuple[str, str]] = []
    for i, response in enumerate(raw):
        where = f"responses[{i}]"
        if not isinstance(response, dict):
            raise InputError("must be an object with response_index and content", field=where)
        index = text_field(response, "response_index", prefix=f"{where}.", max_length=16).strip()
        if any(index == known for known, _ in out) or any(c in index for c in "<>=,"):
            raise InputError("must be distinct and contain none of < > = ,", field=f"{where}.response_index")
        out.append((index, long_text(text_field(response, "content", prefix=f"{where}."), f"{where}.content")))
    return out


def parse_ranking(raw: object, indexes: list[str], where: str) -> list[list[int]]:
    """Blocks of response positions, better first: from "B>A=C" or [["B"], ["A", "C"]]."""
    if isinstance(raw, str):
        blocks = [[name.strip() for name in block.split("=")] for block in raw.split(">")]
    elif isinstance(raw, list) and all(isinstance(b, list) and all(isinstance(n, str) for n in b) for b in raw):
        blocks = [[name.strip() for name in block] for block in raw]
    else:
        raise InputError('must be a ranking such as "B>A=C>D", or a list of blocks [["B"], ["A", "C"]]', field=where)
    out: list[list[int]] = []
    seen: set[int] = set()
    for block in blocks:
        positions = []
        for name in block:
            if name not in indexes:
                raise InputError(f"{name!r} is not a response_index of this record", field=where)
            position = indexes.index(name)
            if position in seen:
                raise InputError(f"{name!r} is ranked twice", field=where)
            seen.add(position)
            positions.append(position)
        out.append(positions)
    if not out or len(out[0]) != 1:
        raise InputError("the top of the ranking must be one response (the best), not a tie", field=where)
    return out


def _assessments(obj: dict, indexes: list[str], people: dict[str, dict], participants: Participants,
                 now) -> list[ItemJudgment]:
    out, seen = [], set()
    for i, assessment in enumerate(field(obj, "assessments", list)):
        where = f"assessments[{i}]"
        if not isinstance(assessment, dict):
            raise InputError("must be an object", field=where)
        annotator_id = text_field(assessment, "annotator_id", prefix=f"{where}.", max_length=128)
        if annotator_id in seen:
            raise InputError(f"annotator {annotator_id!r} assesses this record twice", field=f"{where}.annotator_id")
        seen.add(annotator_id)
        ranking = parse_ranking(assessment.get("ranking"), indexes, f"{where}.ranking")
        rationale = long_text(text_field(assessment, "rationale", required=False, prefix=f"{where}."),
                              f"{where}.rationale")
        raw_time = field(assessment, "created_at", str, required=False, prefix=f"{where}.")
        created_at = timestamp(raw_time, f"{where}.created_at") if raw_time else now
        if annotator_id in people:
            try:
                participant = participants.get(annotator_id, people[annotator_id])
            except InputError as exc:
                raise InputError(f"annotator {annotator_id!r}: {exc.message}", field=exc.field) from None
        elif annotator_id in participants.known:
            participant = participants.known[annotator_id]
        else:
            raise InputError(f"annotator {annotator_id!r} is not in the annotators file", field=f"{where}.annotator_id")
        out.append(ItemJudgment(participant, list(range(len(indexes))), ranking[0][0], ranking[1:], rationale,
                                created_at))
    return out


def read_annotators(stream: IO | None, source: str = "") -> dict[str, dict]:
    """annotator_id -> demographics (every other field with a string, number or boolean value)."""
    people: dict[str, dict] = {}
    if stream is None:
        return people
    for line, obj in iter_jsonl(stream, source=source):
        try:
            annotator_id = text_field(obj, "annotator_id", max_length=128)
            if annotator_id in people:
                raise InputError(f"annotator {annotator_id!r} appears twice", field="annotator_id")
            people[annotator_id] = {
                clean_text(str(name), "annotators", max_length=64): clean_text(str(value), str(name), max_length=200)
                for name, value in obj.items()
                if name != "annotator_id" and isinstance(value, (str, int, float, bool)) and value != ""
            }
        except InputError as exc:
            raise exc.at(line=line, source=source) from None
    return people


@transaction.atomic
def collective_alignment_import(*, study: Study, stream: IO, source: str = "", annotators: IO | None = None,
                                annotators_source: str = "") -> SetImportSummary:
    """Import comparisons (and their annotators' demographics) into the study; any bad line aborts it all.
    Annotators already in the study need not be in the annotators file."""
    summary = SetImportSummary()
    people = read_annotators(annotators, annotators_source)
    participants = Participants(study, summary)
    rows = SetRows(study, summary, participants, source=source)
    now = timezone.now()
    for line, obj in iter_jsonl(stream, source=source):
        try:
            prompt_id = text_field(obj, "prompt_id", max_length=120)
            turns = _messages(obj)
            responses = _responses(obj)
            indexes = [index for index, _ in responses]
            judgments = _assessments(obj, indexes, people, participants, now)
        except InputError as exc:
            raise exc.at(line=line, source=source) from None
        rows.add(SetItem(
            line=line, prompt_id=prompt_id, turns=turns, tags=[SOURCE], language="", source=SOURCE,
            candidates=[(f"{prompt_id}:{index}", text, SOURCE, "") for index, text in responses],
            judgments=judgments,
        ))
    rows.flush()
    if not summary.prompts:
        raise InputError("the file holds no records: nothing was imported", source=source)
    pair_group_counts_rebuild(study=study)  # their pairwise judgments count as imported ones do
    return summary


# --- export ---------------------------------------------------------------------------------------------


def _ranking_text(judgment: SetJudgment, names: dict[int, str]) -> str:
    blocks = [[judgment.best_id], *judgment.ranking]
    return ">".join("=".join(names[c] for c in block) for block in blocks)


def collective_alignment_records(*, study: Study, include_excluded: bool = False, prompts: str = "all", chunk: int = 500
                                 ) -> Iterator[dict]:
    """One record per judged set: its prompt, responses in canonical order, and every counted assessment.
    Response indexes are the imported ones (the candidate id's last part) or A, B, C... by position."""
    judgments = set_judgments_that_count(study=study, include_excluded=include_excluded, prompts=prompts)
    set_ids = list(judgments.order_by("candidate_set_id").values_list("candidate_set_id", flat=True).distinct())
    for start in range(0, len(set_ids), chunk):
        ids = set_ids[start:start + chunk]
        sets = {pk: rest for pk, *rest in CandidateSet.objects.filter(pk__in=ids).values_list(
            "pk", "members", "prompt__external_id", "prompt__turns")}
        wanted = [c for member_ids, *_ in sets.values() for c in member_ids]
        texts = {pk: (ext, text) for pk, ext, text in
                 Candidate.objects.filter(pk__in=wanted).values_list("pk", "external_id", "text")}
        members = {set_id: [(pk, *texts[pk], prompt_ext, turns) for pk in member_ids]
                   for set_id, (member_ids, prompt_ext, turns) in sets.items()}
        by_set: dict[int, list[SetJudgment]] = {}
        for j in judgments.filter(candidate_set_id__in=ids).select_related("participant").order_by("id"):
            by_set.setdefault(j.candidate_set_id, []).append(j)
        for set_id in ids:
            yield _record(members[set_id], by_set[set_id])


def _index_name(prompt_ext: str, ext: str, position: int) -> str:
    prefix = f"{prompt_ext}:"
    return ext[len(prefix):] if ext.startswith(prefix) else chr(ord("A") + position)


def _record(members: list[tuple], judgments: list[SetJudgment]) -> dict:
    prompt_ext, turns = members[0][3], members[0][4]
    names = {pk: _index_name(prompt_ext, ext, i) for i, (pk, ext, *_rest) in enumerate(members)}
    return {
        "prompt_id": prompt_ext,
        "prompt": turns,
        "responses": [{"response_index": names[pk], "content": text} for pk, _ext, text, *_rest in members],
        "assessments": [{"annotator_id": j.participant.external_id, "ranking": _ranking_text(j, names),
                         "rationale": j.explanation, "created_at": j.created_at.isoformat()} for j in judgments],
    }


def collective_alignment_lines(*, study: Study, include_excluded: bool = False, prompts: str = "all") -> Iterator[str]:
    for record in collective_alignment_records(study=study, include_excluded=include_excluded, prompts=prompts):
        yield json.dumps(record, ensure_ascii=False) + "\n"


def collective_alignment_annotator_lines(*, study: Study, include_excluded: bool = False,
                                         prompts: str = "all") -> Iterator[str]:
    """The annotators file: one line per annotator with a set judgment, their attributes as fields."""
    ids = (set_judgments_that_count(study=study, include_excluded=include_excluded, prompts=prompts)
           .values("participant_id"))
    for external_id, attributes in (Participant.objects.filter(pk__in=ids).order_by("id")
                                    .values_list("external_id", "attributes")):
        yield json.dumps({"annotator_id": external_id, **attributes}, ensure_ascii=False) + "\n"
