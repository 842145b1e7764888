from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotation.errors import InputError
from annotation.study_files import study_import


class Command(BaseCommand):
    help = "Create a study from a study file (docs/formats.md); all or nothing."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--append", action="store_true", help="add the file's prompts to an existing study")

    def handle(self, *args, file: Path, append: bool, **options) -> None:
        if not file.is_file():
            raise CommandError(f"{file}: no such file")
        try:
            with file.open("rb") as stream:
                summary = study_import(stream, source=str(file), append=append)
        except InputError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"study {summary.study.slug}: {summary.prompts} prompts, {summary.candidates} candidates, "
            f"{summary.pairs} pairs, {summary.gold} gold items"
        )
