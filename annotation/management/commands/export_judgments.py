import sys
from collections.abc import Iterator
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotation.counted_judgments import PROMPT_SCOPES
from annotation.errors import InputError, Rejected
from annotation.judgment_formats import EXPORT_FORMATS, judgment_file_export
from annotation.selectors import study_get


class Command(BaseCommand):
    help = ("Write a study's judgments to stdout or a file: pairwise judgments and ratings (jsonl, csv: the import "
            "schema plus texts) or its set judgments (community-alignment CSV, collective-alignment JSONL).")

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--format", choices=EXPORT_FORMATS, default="jsonl")
        parser.add_argument("--output", "-o", type=Path, help="file to write (default: stdout)")
        parser.add_argument("--annotators-output", type=Path,
                            help="collective-alignment: also write the annotators file here")
        parser.add_argument("--include-excluded", action="store_true",
                            help="also export the judgments of annotators excluded from the study")
        parser.add_argument("--prompts", choices=list(PROMPT_SCOPES), default="all",
                            help="leave out prompts annotators wrote: pregenerated (conversations begun from a "
                                 "pregenerated prompt) or first-turns (only prompts no annotator wrote)")

    def handle(self, *args, slug: str, format: str, output: Path | None, include_excluded: bool = False,
               prompts: str = "all", annotators_output: Path | None = None, **options) -> None:
        if annotators_output is not None and format != "collective-alignment":
            raise CommandError("--annotators-output goes with --format collective-alignment")
        try:
            study = study_get(slug=slug)
            _write(output, judgment_file_export(study=study, fmt=format, include_excluded=include_excluded,
                                                prompts=prompts)[1])
            if annotators_output is not None:
                _write(annotators_output, judgment_file_export(study=study, fmt=format, part="annotators",
                                                               include_excluded=include_excluded, prompts=prompts)[1])
        except (InputError, Rejected) as exc:
            raise CommandError(str(exc)) from None


def _write(output: Path | None, lines: Iterator[str]) -> None:
    if output is None:
        sys.stdout.writelines(lines)
        return
    tmp = output.with_name(output.name + ".part")
    try:
        with tmp.open("w", encoding="utf-8", newline="") as stream:
            stream.writelines(lines)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(output)  # never leave a half-written export under the real name
