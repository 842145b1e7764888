from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from annotation.errors import InputError
from annotation.models import Study
from annotation.set_making import sets_short_note
from annotation.study_files import study_import


class Command(BaseCommand):
    help = "Create a study from a study file (docs/formats.md); all or nothing."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--append", action="store_true", help="add the file's prompts to an existing study")
        parser.add_argument("--wait", action="store_true",
                            help="embed the texts and make the pairs in this process before returning "
                                 "(no worker needed); without it a worker on the `embeddings` queue does")

    def handle(self, *args, file: Path, append: bool, wait: bool, **options) -> None:
        if not file.is_file():
            raise CommandError(f"{file}: no such file")
        try:
            with file.open("rb") as stream:
                summary = study_import(stream, source=str(file), append=append, on_worker=not wait)
        except InputError as exc:
            raise CommandError(str(exc)) from None
        sets = summary.study.task == Study.Task.SET
        made = f"{summary.sets} candidate sets" if sets else f"{summary.pairs} pairs"
        self.stdout.write(
            f"study {summary.study.slug}: {summary.prompts} prompts, {summary.candidates} candidates, "
            f"{made}, {summary.gold} gold items"
        )
        if summary.short_prompts:
            self.stdout.write(sets_short_note(study=summary.study, short=summary.short_prompts))
        if summary.job is not None:
            self.stdout.write(
                f"embedding {summary.job.texts_total - summary.job.texts_done} of {summary.job.texts_total} texts "
                f"on the `embeddings` queue (pairing job {summary.job.pk}); the study's {'sets' if sets else 'pairs'} "
                "are made when it is done (see the Django admin or GET /api/studies/<slug>/)"
            )
            summary.job.refresh_from_db()
            if summary.job.enqueued_at is None:
                self.stdout.write("the task broker did not take the job: it stays queued, and beat's sweep sends it "
                                  "once the broker answers")
