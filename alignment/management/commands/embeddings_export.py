from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from alignment.embedding_files import embeddings_export
from annotation.errors import InputError


class Command(BaseCommand):
    help = ("Write the embedding cache of one model to FILE (docs/formats.md; gzip when FILE ends in .gz), "
            "to pre-seed another database with embeddings_import.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--model", default=None, help="embedding model name (default: EMBEDDING_MODEL)")

    def handle(self, *args, file: Path, model: str | None, **options) -> None:
        if not file.parent.is_dir():
            raise CommandError(f"{file.parent}: no such directory")
        try:
            count = embeddings_export(file, model_name=model)
        except InputError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"{file}: {count} vectors")
