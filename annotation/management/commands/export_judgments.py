import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotation.errors import Rejected
from annotation.judgment_export import export_lines
from annotation.selectors import study_get


class Command(BaseCommand):
    help = "Write a study's judgments and ratings (import schema plus texts) to stdout or a file."

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
        parser.add_argument("--output", "-o", type=Path, help="file to write (default: stdout)")
        parser.add_argument("--include-excluded", action="store_true",
                            help="also export the judgments of annotators excluded from the study")

    def handle(self, *args, slug: str, format: str, output: Path | None, include_excluded: bool = False,
               **options) -> None:
        try:
            study = study_get(slug=slug)
        except Rejected as exc:
            raise CommandError(exc.message) from None
        if output is None:
            sys.stdout.writelines(export_lines(study=study, fmt=format, include_excluded=include_excluded))
            return
        tmp = output.with_name(output.name + ".part")
        with tmp.open("w", encoding="utf-8", newline="") as stream:
            stream.writelines(export_lines(study=study, fmt=format, include_excluded=include_excluded))
        tmp.replace(output)  # never leave a half-written export under the real name
