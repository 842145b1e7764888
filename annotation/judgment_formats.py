"""Which judgment file format goes to which import and export function: the one dispatch that the command, the
REST API and the admin upload share (docs/formats.md), so a format added here reaches every door at once."""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from annotation.collective_alignment import (
    collective_alignment_annotator_lines,
    collective_alignment_import,
    collective_alignment_lines,
)
from annotation.community_alignment import (
    community_alignment_exportable,
    community_alignment_import,
    community_alignment_lines,
)
from annotation.counted_judgments import prompt_scope_check
from annotation.errors import InputError
from annotation.judgment_export import export_lines
from annotation.judgment_files import JudgmentImportSummary, judgments_import
from annotation.models import Study
from annotation.set_bulk import SetImportSummary

COMMUNITY = "community-alignment"
COLLECTIVE = "collective-alignment"
IMPORT_FORMATS = ("jsonl", COMMUNITY, COLLECTIVE)
EXPORT_FORMATS = ("jsonl", "csv", COMMUNITY, COLLECTIVE)
EXPORT_PARTS = ("judgments", "annotators")


def _one_of(values: tuple[str, ...]) -> str:
    return f"must be {', '.join(values[:-1])} or {values[-1]}"


def judgment_file_import(*, study: Study, fmt: str, stream: IO, source: str = "", annotators: IO | None = None,
                         annotators_source: str = "") -> JudgmentImportSummary | SetImportSummary:
    """Import one judgment file of format `fmt` (all or nothing); `annotators` only with collective-alignment."""
    if fmt not in IMPORT_FORMATS:
        raise InputError(_one_of(IMPORT_FORMATS), field="format")
    if annotators is not None and fmt != COLLECTIVE:
        raise InputError(f"an annotators file goes with format {COLLECTIVE}", field="annotators")
    if fmt == COMMUNITY:
        return community_alignment_import(study=study, stream=stream, source=source)
    if fmt == COLLECTIVE:
        return collective_alignment_import(study=study, stream=stream, source=source, annotators=annotators,
                                           annotators_source=annotators_source)
    return judgments_import(study=study, stream=stream, source=source)


@dataclass(frozen=True)
class ExportFile:
    """What an export door needs besides the lines: a media type and a file name."""

    content_type: str
    filename: str


def judgment_file_export(*, study: Study, fmt: str, part: str = "judgments", include_excluded: bool = False,
                         prompts: str = "all") -> tuple[ExportFile, Iterator[str]]:
    """The export's description and its lines. Anything refused is raised here, before the first line, so that a
    streamed answer never breaks off half-way (a Community Alignment export of sets of 5 is refused up front)."""
    if fmt not in EXPORT_FORMATS:
        raise InputError(_one_of(EXPORT_FORMATS), field="format")
    if part not in EXPORT_PARTS:
        raise InputError(_one_of(EXPORT_PARTS), field="part")
    if part == "annotators" and fmt != COLLECTIVE:
        raise InputError(f"part=annotators goes with format {COLLECTIVE}", field="part")
    prompt_scope_check(prompts)
    if fmt == COMMUNITY:
        community_alignment_exportable(study=study, include_excluded=include_excluded, prompts=prompts)
        lines = community_alignment_lines(study=study, include_excluded=include_excluded, prompts=prompts)
        return ExportFile("text/csv", f"{study.slug}-{COMMUNITY}.csv"), lines
    if fmt == COLLECTIVE and part == "annotators":
        lines = collective_alignment_annotator_lines(study=study, include_excluded=include_excluded,
                                                     prompts=prompts)
        return ExportFile("application/x-ndjson", f"{study.slug}-{COLLECTIVE}-annotators.jsonl"), lines
    if fmt == COLLECTIVE:
        lines = collective_alignment_lines(study=study, include_excluded=include_excluded, prompts=prompts)
        return ExportFile("application/x-ndjson", f"{study.slug}-{COLLECTIVE}.jsonl"), lines
    content_type = "application/x-ndjson" if fmt == "jsonl" else "text/csv"
    lines = export_lines(study=study, fmt=fmt, include_excluded=include_excluded, prompts=prompts)
    return ExportFile(content_type, f"{study.slug}-judgments.{fmt}"), lines


def import_summary_text(summary: JudgmentImportSummary | SetImportSummary) -> str:
    """The counts, in the words the command and the admin page report them."""
    if isinstance(summary, SetImportSummary):
        return (f"{summary.set_judgments} set judgments ({summary.comparisons} pairwise comparisons), "
                f"{summary.prompts} prompts, {summary.candidates} candidates, {summary.conversations} conversations, "
                f"{summary.participants} new annotators")
    return (f"{summary.judgments} judgments, {summary.ratings} ratings ({summary.from_ratings} judgments "
            f"derived), {summary.participants} new annotators, {summary.pairs_created} new pairs")
