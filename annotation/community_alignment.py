"""Community Alignment files (Zhang et al., arXiv 2507.09650): the official release's CSV schema in and out.

One row per conversation: `conversation_id`, `annotator_id`, `assigned_lang`, `is_pregenerated_first_prompt`,
the `annotator_*` demographics, and per turn t in first..fourth `{t}_turn_prompt`, `{t}_turn_response_{a,b,c,d}`,
`{t}_turn_preferred_response` (`response_a`..`response_d`) and `{t}_turn_feedback` (docs/formats.md).

Each non-empty turn becomes a prompt (`<conversation_id>:<turn>`) whose turns carry the conversation so far:
earlier user prompts, each followed by the response chosen there as the assistant turn. Its four responses are
candidates (strategy `nc-generated`: the release's responses come from the NC prompt), shown in a..d order as one
set; the preferred one is the set judgment's best and the feedback its explanation. The whole file is one
transaction (annotation/set_bulk.py writes it in batches); a bad row aborts it with file, line and column.
"""

import csv
import io
from collections.abc import Iterable, Iterator
from itertools import groupby
from typing import IO

from django.db import transaction
from django.utils import timezone

from annotation.allocation import pair_group_counts_rebuild
from annotation.counted_judgments import set_judgments_that_count
from annotation.errors import InputError
from annotation.input_rules import clean_text, long_text
from annotation.jsonl import text_lines
from annotation.judgment_export import csv_cell_escape, csv_cell_unescape
from annotation.models import Candidate, Conversation, Participant, SetJudgment, Study
from annotation.set_bulk import (
    ConversationRow,
    ItemJudgment,
    Participants,
    SetImportSummary,
    SetItem,
    SetRows,
)

TURNS = ("first", "second", "third", "fourth")
LETTERS = ("a", "b", "c", "d")
# The release's demographic columns, written back by the export; the import reads every `annotator_*` column.
DEMOGRAPHICS = ("age", "gender", "education_level", "political", "ethnicity", "country")
SOURCE = "community-alignment"
STRATEGY = "nc-generated"
FIELD_LIMIT = 16 * 1024 * 1024  # characters in one cell: csv's default (128 KiB) is below a long response


def turn_columns(turn: str) -> list[str]:
    return [f"{turn}_turn_prompt", *(f"{turn}_turn_response_{x}" for x in LETTERS),
            f"{turn}_turn_preferred_response", f"{turn}_turn_feedback"]


COLUMNS = ["conversation_id", "annotator_id", "assigned_lang", "is_pregenerated_first_prompt",
           *(f"annotator_{d}" for d in DEMOGRAPHICS), *(c for t in TURNS for c in turn_columns(t))]
REQUIRED = ["conversation_id", "annotator_id", *turn_columns("first")[:-1]]


def _rows(stream: IO, source: str) -> Iterator[tuple[int, dict[str, str]]]:
    """(line the row starts on, {column: cell}); cells are unescaped (csv_cell_escape) and checked for NULs."""
    csv.field_size_limit(max(csv.field_size_limit(), FIELD_LIMIT))
    # Decoded line by line (text_lines), so that a bad byte is blamed on its own line, not on the first
    # line of a decoder's read-ahead buffer.
    reader = csv.reader(_without_bom(text_lines(stream, source=source)))
    start = 1
    try:
        header = next(reader, None)
        if header is None:
            raise InputError("the file is empty: give the Community Alignment header row", line=1, source=source)
        header = [name.strip() for name in header]
        missing = [name for name in REQUIRED if name not in header]
        if missing:
            raise InputError(f"missing column(s): {', '.join(missing)}", line=1, source=source)
        start = reader.line_num + 1
        for cells in reader:
            if len(cells) != len(header):
                if not any(cell.strip() for cell in cells):
                    start = reader.line_num + 1
                    continue  # a blank line
                raise InputError(f"the row has {len(cells)} cells, the header {len(header)}", line=start,
                                 source=source)
            yield start, {name: csv_cell_unescape(cell) for name, cell in zip(header, cells, strict=True)}
            start = reader.line_num + 1
    except csv.Error as exc:
        # The line the row starts on, as every other error names it: a quoted cell may span many lines.
        raise InputError(f"not valid CSV: {exc}", line=start, source=source) from None


def _without_bom(lines: Iterable[str]) -> Iterator[str]:
    """The lines, the first without a UTF-8 byte-order mark (spreadsheets write one)."""
    for number, line in enumerate(lines):
        yield line.removeprefix("\ufeff") if number == 0 else line


def _flag(raw: str) -> bool | None:
    value = raw.strip().lower()
    if value in ("", "nan", "none"):
        return None
    if value in ("true", "1", "yes", "t"):
        return True
    if value in ("false", "0", "no", "f"):
        return False
    raise InputError("must be true or false (or empty)", field="is_pregenerated_first_prompt")


def _attributes(row: dict[str, str]) -> dict[str, str]:
    """annotator_<name> columns (but annotator_id) as attributes <name>; empty cells are left out."""
    return {column[len("annotator_"):]: value for column, raw in row.items()
            if column.startswith("annotator_") and column != "annotator_id"
            and (value := clean_text(raw.strip(), column, max_length=200))}


def _turns(row: dict[str, str]) -> list[tuple[int, str, list[str], int, str]]:
    """(turn number, prompt, responses a..d, preferred index, feedback) of each non-empty turn, in order."""
    out, gap = [], None
    for number, turn in enumerate(TURNS, start=1):
        prompt = row.get(f"{turn}_turn_prompt", "")
        cells = [row.get(c, "") for c in turn_columns(turn)[1:]]
        if not prompt.strip():
            if any(cell.strip() for cell in cells):
                raise InputError("responses or a choice without a prompt", field=f"{turn}_turn_prompt")
            gap = gap or f"{turn}_turn_prompt"
            continue
        if gap is not None:
            raise InputError(f"turn {number} has a prompt but an earlier turn is empty (a missing middle turn)",
                             field=gap)
        responses = []
        for letter in LETTERS:
            column = f"{turn}_turn_response_{letter}"
            if not row.get(column, "").strip():
                raise InputError("must not be empty in a turn that has a prompt", field=column)
            responses.append(long_text(row[column], column))
        preferred = row.get(f"{turn}_turn_preferred_response", "").strip().lower()
        if preferred not in {f"response_{x}" for x in LETTERS}:
            raise InputError("must be response_a, response_b, response_c or response_d",
                             field=f"{turn}_turn_preferred_response")
        feedback = long_text(row.get(f"{turn}_turn_feedback", ""), f"{turn}_turn_feedback")
        out.append((number, long_text(prompt, f"{turn}_turn_prompt"), responses, LETTERS.index(preferred[-1]),
                    feedback))
    if not out:
        raise InputError("the conversation has no turn", field="first_turn_prompt")
    return out


def _row_items(row: dict[str, str], line: int, participants: Participants) -> list[SetItem]:
    conversation_id = clean_text(row["conversation_id"].strip(), "conversation_id", max_length=120)
    annotator_id = clean_text(row["annotator_id"].strip(), "annotator_id", max_length=128)
    for name, value in (("conversation_id", conversation_id), ("annotator_id", annotator_id)):
        if not value:
            raise InputError("must not be empty", field=name)
    try:
        participant = participants.get(annotator_id, _attributes(row))
    except InputError as exc:
        column = exc.field.replace("attributes.", "annotator_") if exc.field else "annotator_id"
        raise InputError(exc.message, field=column) from None
    language = clean_text(row.get("assigned_lang", "").strip(), "assigned_lang", max_length=16)
    pregenerated = _flag(row.get("is_pregenerated_first_prompt", ""))
    now = timezone.now()
    conversation = ConversationRow(conversation_id, participant, language, pregenerated, now)
    items, context = [], []
    for number, prompt, responses, best, feedback in _turns(row):
        context = [*context, {"role": "user", "content": prompt}]
        tags = [SOURCE, f"turn-{number}"]
        if number == 1 and pregenerated is not None:
            tags.append("pregenerated-first-prompt" if pregenerated else "annotator-written")
        prompt_id = f"{conversation_id}:{number}"
        items.append(SetItem(
            line=line, prompt_id=prompt_id, turns=context, tags=tags, language=language, source=SOURCE,
            candidates=[(f"{prompt_id}:{x}", text, SOURCE, STRATEGY) for x, text in zip(LETTERS, responses,
                                                                                        strict=True)],
            judgments=[ItemJudgment(participant, [0, 1, 2, 3], best, [], feedback, now, conversation, number)],
        ))
        context = [*context, {"role": "assistant", "content": responses[best]}]
    return items


@transaction.atomic
def community_alignment_import(*, study: Study, stream: IO, source: str = "") -> SetImportSummary:
    """Import a Community Alignment CSV into the study (prompts, candidates, participants, set judgments)."""
    summary = SetImportSummary()
    participants = Participants(study, summary)
    known = set(Conversation.objects.filter(study=study).values_list("external_id", flat=True))
    rows = SetRows(study, summary, participants, source=source)
    for line, row in _rows(stream, source):
        try:
            conversation_id = row["conversation_id"].strip()
            if conversation_id in known:
                raise InputError(f"conversation {conversation_id!r} is already in the study (or twice in the file)",
                                 field="conversation_id")
            known.add(conversation_id)
            items = _row_items(row, line, participants)
        except InputError as exc:
            raise exc.at(line=line, source=source) from None
        for item in items:
            rows.add(item)
    rows.flush()
    if not summary.set_judgments:
        raise InputError("the file holds no conversations: nothing was imported", source=source)
    pair_group_counts_rebuild(study=study)  # their pairwise judgments count as imported ones do
    return summary


# --- export ---------------------------------------------------------------------------------------------


def _letter(shown: list[int], candidate_id: int) -> str:
    return f"response_{LETTERS[shown.index(candidate_id)]}"


def export_columns(*, study: Study) -> list[str]:
    """COLUMNS, with an `annotator_<name>` column after the release's demographics for every other attribute
    the study's annotators carry (an import reads every annotator_* column; the export gives each one back)."""
    names: set[str] = set()
    for attributes in Participant.objects.filter(study=study).values_list("attributes", flat=True).iterator():
        names.update(attributes or {})
    extra = [f"annotator_{name}" for name in sorted(names - set(DEMOGRAPHICS) - {"id"})]
    at = COLUMNS.index(f"annotator_{DEMOGRAPHICS[-1]}") + 1
    return [*COLUMNS[:at], *extra, *COLUMNS[at:]]


def _export_row(conversation_id: str, participant, language: str, pregenerated: bool | None,
                turns: list[SetJudgment], texts: dict[int, str], columns: list[str]) -> dict[str, str]:
    row = {name: "" for name in columns}
    row.update(conversation_id=conversation_id, annotator_id=participant.external_id, assigned_lang=language,
               is_pregenerated_first_prompt="" if pregenerated is None else str(pregenerated))
    for column in columns:
        if column.startswith("annotator_") and column != "annotator_id":
            row[column] = str(participant.attributes.get(column[len("annotator_"):], ""))
    for turn, judgment in zip(TURNS, turns, strict=False):
        if len(judgment.shown) != len(LETTERS):
            raise InputError(f"set judgment {judgment.pk} shows {len(judgment.shown)} responses: the Community "
                             "Alignment schema holds 4 per turn", field="set_size")
        row[f"{turn}_turn_prompt"] = judgment.candidate_set.prompt.turns[-1]["content"]
        for letter, candidate_id in zip(LETTERS, judgment.shown, strict=True):
            row[f"{turn}_turn_response_{letter}"] = texts[candidate_id]
        row[f"{turn}_turn_preferred_response"] = _letter(judgment.shown, judgment.best_id)
        row[f"{turn}_turn_feedback"] = judgment.explanation
    return row


def _texts(judgments: list[SetJudgment]) -> dict[int, str]:
    ids = {c for j in judgments for c in j.shown}
    return dict(Candidate.objects.filter(pk__in=ids).values_list("pk", "text"))


def community_alignment_rows(*, study: Study, include_excluded: bool = False, prompts: str = "all", chunk: int = 500,
                             columns: list[str] | None = None) -> Iterator[dict[str, str]]:
    """The study's set judgments as CA rows: one per conversation (turns in order), then each set judgment
    outside any conversation as a one-turn conversation `set-<id>`. Rankings beyond the best have no CA column;
    excluded annotators' rows only with include_excluded (annotation/counted_judgments.py)."""
    columns = columns or export_columns(study=study)
    judgments = set_judgments_that_count(
        study=study, include_excluded=include_excluded, prompts=prompts,
    ).select_related("participant", "candidate_set__prompt", "conversation")
    conversation_ids = list(Conversation.objects.filter(study=study).order_by("id").values_list("id", flat=True))
    for start in range(0, len(conversation_ids), chunk):
        batch = list(judgments.filter(conversation_id__in=conversation_ids[start:start + chunk])
                     .order_by("conversation_id", "turn"))
        texts = _texts(batch)
        for _, turns in groupby(batch, key=lambda j: j.conversation_id):
            turns = list(turns)
            c = turns[0].conversation
            yield _export_row(c.external_id, turns[0].participant, c.language, c.first_prompt_pregenerated, turns,
                              texts, columns)
    loose = list(judgments.filter(conversation__isnull=True).order_by("id").values_list("id", flat=True))
    for start in range(0, len(loose), chunk):
        batch = list(judgments.filter(id__in=loose[start:start + chunk]).order_by("id"))
        texts = _texts(batch)
        for j in batch:
            yield _export_row(f"set-{j.pk}", j.participant, j.candidate_set.prompt.language, None, [j], texts,
                              columns)


def community_alignment_exportable(*, study: Study, include_excluded: bool = False, prompts: str = "all") -> None:
    """Refuse up front what community_alignment_rows would refuse mid-way: a set of other than 4 responses.
    A streamed download cannot turn into a 400 once its first line has gone out."""
    odd = (set_judgments_that_count(study=study, include_excluded=include_excluded, prompts=prompts)
           .exclude(candidate_set__size=len(LETTERS)).values_list("pk", "candidate_set__size").first())
    if odd is not None:
        raise InputError(f"set judgment {odd[0]} shows {odd[1]} responses: the Community Alignment schema holds 4 "
                         "per turn", field="set_size")


def community_alignment_lines(*, study: Study, include_excluded: bool = False, prompts: str = "all") -> Iterator[str]:
    buffer = io.StringIO()
    columns = export_columns(study=study)
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    rows = community_alignment_rows(study=study, include_excluded=include_excluded, prompts=prompts, columns=columns)
    for row in rows:
        writer.writerow({name: csv_cell_escape(value) for name, value in row.items()})
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()
