"""A live conversation turn's responses: one call to the NC endpoint for set_size value-diverse responses (the
existing NC prompt, alignment/nc_generation.py), stored by annotation/conversation_turns.py all at once, or the
turn failed with the reason (HTTP error, timeout after NC_GENERATION_TIMEOUT, malformed answer) and nothing else."""

import time

from django.core.exceptions import ImproperlyConfigured

from alignment.candidate_generation import endpoint_from_settings
from alignment.nc_generation import Endpoint, GenerationError, generate_nc_candidates
from annotation.conversation_turns import generation_claim, generation_fail, generation_store


def turn_generation_execute(*, generation_id: int, endpoint: Endpoint | None = None) -> str:
    """Run one generation; returns its outcome ("done", "failed" or "skipped": not queued, or taken over)."""
    claimed = generation_claim(generation_id=generation_id)
    if claimed is None:
        return "skipped"
    context, n, attempt = claimed
    try:
        endpoint = endpoint or endpoint_from_settings()
    except ImproperlyConfigured as exc:
        generation_fail(generation_id=generation_id, attempt=attempt, error=str(exc))
        return "failed"
    started = time.monotonic()
    try:
        texts = generate_nc_candidates(endpoint, context, n)
    except Exception as exc:  # GenerationError, and anything the HTTP client lets through: the turn fails, retryable
        reason = str(exc) if isinstance(exc, GenerationError) else f"{exc.__class__.__name__}: {exc}"
        generation_fail(generation_id=generation_id, attempt=attempt, error=reason, model=endpoint.model,
                        endpoint_seconds=time.monotonic() - started)
        return "failed"
    stored = generation_store(generation_id=generation_id, attempt=attempt, texts=texts, model=endpoint.model,
                              endpoint_seconds=time.monotonic() - started)
    return "done" if stored else "skipped"
