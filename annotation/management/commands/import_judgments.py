from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotation.errors import InputError, Rejected
from annotation.judgment_files import judgments_import
from annotation.selectors import study_get


class Command(BaseCommand):
    help = "Import pairwise judgments and ratings into a study (docs/formats.md); all or nothing."

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug")
        parser.add_argument("file", type=Path)

    def handle(self, *args, slug: str, file: Path, **options) -> None:
        if not file.is_file():
            raise CommandError(f"{file}: no such file")
        try:
            study = study_get(slug=slug)
            with file.open("rb") as stream:
                summary = judgments_import(study=study, stream=stream, source=str(file))
        except (InputError, Rejected) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"{summary.judgments} judgments, {summary.ratings} ratings ({summary.from_ratings} judgments derived), "
            f"{summary.participants} new annotators, {summary.pairs_created} new pairs"
        )
