from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from alignment.candidate_generation import candidates_generate, endpoint_from_settings
from annotation.errors import Rejected
from annotation.selectors import study_get


class Command(BaseCommand):
    help = (
        "Generate negatively-correlated candidates: per prompt, one call to the OpenAI-compatible endpoint "
        "(NC_GENERATION_URL, NC_GENERATION_MODEL) asks for N responses that represent diverse values."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--n", type=int, default=4, help="responses per prompt (default 4)")
        parser.add_argument("--prompt", action="append", dest="prompt_ids", help="only these prompt ids")
        parser.add_argument("--regenerate", action="store_true", help="also prompts that already have some")

    def handle(self, *args, slug: str, n: int, prompt_ids: list[str] | None, regenerate: bool, **options) -> None:
        if n < 2:
            raise CommandError("--n must be at least 2")
        try:
            endpoint = endpoint_from_settings()
            study = study_get(slug=slug)
        except (ImproperlyConfigured, Rejected) as exc:
            raise CommandError(str(exc)) from None
        report = candidates_generate(study=study, endpoint=endpoint, n=n, prompt_ids=prompt_ids,
                                     regenerate=regenerate)
        self.stdout.write(f"{report.prompts} prompts: {report.candidates} candidates, {report.pairs} new pairs; "
                          f"{report.skipped} skipped (already generated)")
        for prompt_id, reason in report.failures:
            self.stderr.write(f"prompt {prompt_id}: {reason} (nothing stored for it)")
        if report.failures:
            raise CommandError(f"{len(report.failures)} prompts failed")
