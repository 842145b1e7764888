"""Storing NC-generated candidates: one prompt at a time, all of its candidates and pairs or none."""

from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from alignment.nc_generation import Endpoint, GenerationError, generate_nc_candidates
from annotation.models import Candidate, Prompt, Study
from annotation.pairing import pairs_create

NC_GENERATED = "nc-generated"


@dataclass
class GenerationReport:
    prompts: int = 0
    candidates: int = 0
    pairs: int = 0
    skipped: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)


def endpoint_from_settings() -> Endpoint:
    if not settings.NC_GENERATION_URL or not settings.NC_GENERATION_MODEL:
        raise ImproperlyConfigured("set NC_GENERATION_URL and NC_GENERATION_MODEL to generate candidates")
    return Endpoint(url=settings.NC_GENERATION_URL, model=settings.NC_GENERATION_MODEL,
                    api_key=settings.NC_GENERATION_API_KEY, timeout=float(settings.NC_GENERATION_TIMEOUT))


def candidates_generate(
    *, study: Study, endpoint: Endpoint, n: int = 4, prompt_ids: list[str] | None = None, regenerate: bool = False
) -> GenerationReport:
    """Ask the endpoint for n value-diverse responses per prompt and store them as candidates."""
    report = GenerationReport()
    prompts = Prompt.objects.filter(study=study).order_by("id")
    if prompt_ids:
        prompts = prompts.filter(external_id__in=prompt_ids)
    for prompt in prompts:
        if not regenerate and prompt.candidates.filter(strategy=NC_GENERATED).exists():
            report.skipped += 1
            continue
        try:
            texts = generate_nc_candidates(endpoint, prompt.turns, n)
        except GenerationError as exc:
            report.failures.append((prompt.external_id, str(exc)))
            continue
        _store(study, prompt, texts, endpoint.model, report)
    return report


@transaction.atomic
def _store(study: Study, prompt: Prompt, texts: list[str], model: str, report: GenerationReport) -> None:
    start = prompt.candidates.filter(strategy=NC_GENERATED).count()
    names = [f"{prompt.external_id}-nc{start + i}" for i in range(len(texts))]
    Candidate.objects.bulk_create(
        Candidate(prompt=prompt, external_id=name, text=text, source=model, strategy=NC_GENERATED)
        for name, text in zip(names, texts, strict=True)
    )
    report.prompts += 1
    report.candidates += len(texts)
    report.pairs += pairs_create(study=study, prompt=prompt, candidates=list(prompt.candidates.order_by("id")))
