from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotation.collective_alignment import collective_alignment_import
from annotation.community_alignment import community_alignment_import
from annotation.errors import InputError, Rejected
from annotation.judgment_files import judgments_import
from annotation.selectors import study_get

FORMATS = ("jsonl", "community-alignment", "collective-alignment")


class Command(BaseCommand):
    help = ("Import judgments into a study (docs/formats.md): pairwise judgments and ratings (jsonl), a Community "
            "Alignment CSV, or collective-alignment JSONL with its annotators file; all or nothing.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug")
        parser.add_argument("file", type=Path)
        parser.add_argument("--format", choices=FORMATS, default="jsonl")
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
        if format == "community-alignment":
            summary = community_alignment_import(study=study, stream=stream, source=str(file))
            return _set_summary(summary)
        if format == "collective-alignment":
            if annotators is None:
                summary = collective_alignment_import(study=study, stream=stream, source=str(file))
            else:
                with annotators.open("rb") as people:
                    summary = collective_alignment_import(study=study, stream=stream, source=str(file),
                                                          annotators=people, annotators_source=str(annotators))
            return _set_summary(summary)
        summary = judgments_import(study=study, stream=stream, source=str(file))
        return (f"{summary.judgments} judgments, {summary.ratings} ratings ({summary.from_ratings} judgments "
                f"derived), {summary.participants} new annotators, {summary.pairs_created} new pairs")


def _set_summary(summary) -> str:
    return (f"{summary.set_judgments} set judgments ({summary.comparisons} pairwise comparisons), {summary.prompts} "
            f"prompts, {summary.candidates} candidates, {summary.conversations} conversations, "
            f"{summary.participants} new annotators")
