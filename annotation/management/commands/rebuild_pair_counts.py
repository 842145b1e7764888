from django.core.management.base import BaseCommand, CommandError

from annotation.allocation import pair_group_counts_rebuild
from annotation.errors import Rejected
from annotation.selectors import study_get


class Command(BaseCommand):
    help = ("Recount a study's per-(pair, group) judgment counts from its judgments and, under adaptive "
            "allocation, re-price its open slots (submit and judgment imports keep them; this repairs).")

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug")

    def handle(self, *args, slug: str, **options) -> None:
        try:
            study = study_get(slug=slug)
        except Rejected as exc:
            raise CommandError(exc.message) from None
        rows = pair_group_counts_rebuild(study=study)
        self.stdout.write(f"{study.slug}: {rows} pair-group counts")
