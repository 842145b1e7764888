from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotation.errors import InputError, Rejected
from annotation.judgment_formats import IMPORT_FORMATS, import_summary_text, judgment_file_import
from annotation.selectors import study_get


class Command(BaseCommand):
    help = ("Import judgments into a study (docs/formats.md): pairwise judgments and ratings (jsonl), a Community "
            "Alignment CSV, or collective-alignment JSONL with its annotators file; all or nothing.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug")
        parser.add_argument("file", type=Path)
        parser.add_argument("--format", choices=IMPORT_FORMATS, default="jsonl")
        parser.add_argument("--annotators", type=Path,
                            help="collective-alignment: the annotators JSONL file (demographics)")

    def handle(self, *args, slug: str, file: Path, format: str = "jsonl", annotators: Path | None = None,
               **options) -> None:
        for path in (file, annotators):
            if path is not None and not path.is_file():
                raise CommandError(f"{path}: no such file")
        if annotators is not None and format != "collective-alignment":
            raise CommandError("--annotators goes with --format collective-alignment")
        try:
            study = study_get(slug=slug)
            with file.open("rb") as stream:
                self.stdout.write(self._import(study, format, stream, file, annotators))
        except (InputError, Rejected) as exc:
            raise CommandError(str(exc)) from None

    def _import(self, study, format: str, stream, file: Path, annotators: Path | None) -> str:
        if annotators is None:
            summary = judgment_file_import(study=study, fmt=format, stream=stream, source=str(file))
        else:
            with annotators.open("rb") as people:
                summary = judgment_file_import(study=study, fmt=format, stream=stream, source=str(file),
                                               annotators=people, annotators_source=str(annotators))
        return import_summary_text(summary)
