"""Exporting a study's judgments and ratings in the judgment-file schema (docs/formats.md), plus texts."""

import csv
import io
import json
from collections.abc import Iterator

from annotation.counted_judgments import judgments_that_count, ratings_that_count
from annotation.models import Judgment, Study

EXPORT_COLUMNS = [
    "kind", "annotator_id", "attributes", "group", "prompt_id", "a", "b", "choice", "strength", "rationale",
    "created_at", "rating_a", "rating_b", "candidate_id", "rating", "client_id", "time_taken_ms",
    "pair_strategy", "prompt", "a_text", "b_text", "candidate_text", "origin", "implied",
]


def export_records(*, study: Study, include_excluded: bool = False, prompts: str = "all") -> Iterator[dict]:
    """Every judgment that counts (except those derived from ratings) and every rating, in the import schema
    plus texts; excluded annotators' only with include_excluded, gold answers never (annotation/counted_judgments.py).

    Derived judgments are left out because their ratings are exported: re-importing the file
    derives them again, so export -> import reproduces the same judgments. Comparisons expanded from set
    judgments (origin "set", `implied` for ranking-derived ones) are in: this is the pairwise view of the
    data; the sets themselves round-trip through the community-alignment and collective-alignment formats.
    """
    judgments = (
        judgments_that_count(study=study, include_excluded=include_excluded, prompts=prompts, keep_ties=True)
        .exclude(origin=Judgment.Origin.RATINGS)
        .select_related("participant", "pair__prompt", "candidate_a", "candidate_b")
        .order_by("id")
    )
    for j in judgments.iterator(chunk_size=2000):
        yield {
            "kind": "judgment", "annotator_id": j.participant.external_id, "attributes": j.participant.attributes,
            "group": j.group_key, "prompt_id": j.pair.prompt.external_id, "a": j.candidate_a.external_id,
            "b": j.candidate_b.external_id, "choice": j.choice, "strength": j.strength or None,
            "rationale": j.rationale, "created_at": j.created_at.isoformat(), "rating_a": j.rating_a,
            "rating_b": j.rating_b, "client_id": j.client_id, "time_taken_ms": j.time_taken_ms,
            "pair_strategy": j.pair.strategy, "prompt": j.pair.prompt.turns, "a_text": j.candidate_a.text,
            "b_text": j.candidate_b.text, "origin": j.origin, "implied": j.implied,
        }
    ratings = (
        ratings_that_count(study=study, include_excluded=include_excluded)
        .select_related("participant", "candidate__prompt")
        .order_by("id")
    )
    for r in ratings.iterator(chunk_size=2000):
        yield {
            "kind": "rating", "annotator_id": r.participant.external_id, "attributes": r.participant.attributes,
            "group": r.participant.group_key, "prompt_id": r.candidate.prompt.external_id,
            "candidate_id": r.candidate.external_id, "rating": r.rating,
            "created_at": r.created_at.isoformat() if r.created_at else None,
            "prompt": r.candidate.prompt.turns, "candidate_text": r.candidate.text,
        }


# Spreadsheets run a cell that starts with one of these as a formula (OWASP "CSV injection"); a leading
# quote makes it text. Cells already starting with a quote get one too, so that csv_cell_unescape() is exact.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")


def csv_cell_escape(value: object) -> object:
    """A text cell made inert for spreadsheets: prefixed with ' when it starts like a formula."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_cell_unescape(cell: str) -> str:
    """The text csv_cell_escape() was given: what a reader of our CSV does to get the values back."""
    if cell.startswith("'") and cell[1:].startswith(_FORMULA_START):
        return cell[1:]
    return cell


def _csv_cell(value: object) -> object:
    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False)
    return csv_cell_escape(value)


def export_lines(*, study: Study, fmt: str = "jsonl", include_excluded: bool = False,
                 prompts: str = "all") -> Iterator[str]:
    """The export as lines of text, streamed: JSONL, or CSV with nested values as JSON."""
    if fmt == "jsonl":
        for record in export_records(study=study, include_excluded=include_excluded, prompts=prompts):
            yield json.dumps(record, ensure_ascii=False) + "\n"
        return
    if fmt != "csv":
        raise ValueError(f"unknown export format {fmt!r} (jsonl or csv)")
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for record in export_records(study=study, include_excluded=include_excluded, prompts=prompts):
        writer.writerow({k: _csv_cell(v) for k, v in record.items()})
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()
