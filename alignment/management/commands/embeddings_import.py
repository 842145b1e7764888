from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from alignment.embedding_files import embeddings_import
from annotation.errors import InputError


class Command(BaseCommand):
    help = ("Add an embedding cache file (from embeddings_export; docs/formats.md, plain or gzip) to this "
            "database's cache; all or nothing, vectors already cached are kept.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--model", default=None,
                            help="the model the file must hold (default: EMBEDDING_MODEL, the one imports use)")

    def handle(self, *args, file: Path, model: str | None, **options) -> None:
        if not file.is_file():
            raise CommandError(f"{file}: no such file")
        try:
            with file.open("rb") as stream:
                summary = embeddings_import(stream, source=str(file), model_name=model)
        except InputError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"{file}: {summary.vectors} vectors of {summary.model} (dim {summary.dim}), "
                          f"{summary.added} new to this database")
