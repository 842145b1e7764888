"""A live conversation turn's generation (TurnGeneration rows): requested, sent to the `generation` queue, claimed
by a worker, then stored all at once or failed with its error.

The endpoint call itself is alignment's (alignment/turn_generation.py: claim here, call, then store or fail here),
and so is the broker: alignment registers its bounded publish when the app loads (alignment/apps.py), so that
annotation never imports it.

A turn is stored as the Community Alignment import stores one (annotation/community_alignment.py): a prompt
`<conversation>:<turn>` whose turns are the whole conversation so far (earlier user prompts, each followed by the
response chosen there as the assistant turn, then this turn's user prompt), its responses as candidates
(strategy `nc-generated`, the model name as source) and one candidate set of them; the first turn's prompt is
tagged `annotator-written` or `pregenerated-first-prompt`, as the import tags it.
"""

import random
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from annotation.errors import Unavailable
from annotation.models import Candidate, Conversation, Prompt, TurnGeneration
from annotation.set_judgments import candidate_set_create

TURN_GENERATION_TASK = "alignment.tasks.turn_generation_run"  # routed to the `generation` queue (CELERY_TASK_ROUTES)
LIVE_SOURCE = "live-conversation"
NC_GENERATED = "nc-generated"
WRITTEN_TAG, PREGENERATED_TAG = "annotator-written", "pregenerated-first-prompt"
# A running generation whose worker went silent this long past the endpoint's timeout may be claimed again.
STALE_GRACE_SECONDS = 60

_publisher: list[Callable[..., None]] = []


def generation_publisher_register(publish: Callable[..., None]) -> None:
    _publisher[:] = [publish]


def generation_request(*, conversation: Conversation, turn: int, context: list[dict],
                       client_id: str = "") -> TurnGeneration:
    """Inside the caller's transaction: a queued generation of the turn, sent to the queue once it commits."""
    generation = TurnGeneration.objects.create(conversation=conversation, turn=turn, context=context,
                                               client_id=client_id, queued_at=timezone.now())
    transaction.on_commit(lambda: generation_enqueue(generation.pk))
    return generation


def generation_enqueue(generation_id: int) -> None:
    """Send the generation to the `generation` queue. A broker that is down fails it at once with the reason,
    so that the annotator sees a retry button rather than a progress bar that never moves."""
    try:
        if not _publisher:
            raise Unavailable("no task publisher registered: the 'alignment' app must be in INSTALLED_APPS",
                              code="broker_unavailable")
        _publisher[0](TURN_GENERATION_TASK, args=[generation_id])
    except Unavailable as exc:
        TurnGeneration.objects.filter(pk=generation_id, status=TurnGeneration.Status.QUEUED).update(
            status=TurnGeneration.Status.FAILED, error=exc.message, finished_at=timezone.now())


def generation_stale_before() -> timedelta:
    return timedelta(seconds=float(settings.NC_GENERATION_TIMEOUT) + STALE_GRACE_SECONDS)


@transaction.atomic
def generation_claim(*, generation_id: int) -> tuple[list[dict], int, int] | None:
    """(context, responses wanted, attempt number) for the worker about to call the endpoint, or None when the
    generation is not queued: done, failed, gone, or running elsewhere (a redelivered message) and not stale."""
    generation = (TurnGeneration.objects.select_for_update().select_related("conversation__study")
                  .filter(pk=generation_id).first())
    if generation is None:
        return None
    now = timezone.now()
    stale = (generation.status == TurnGeneration.Status.RUNNING and generation.started_at is not None
             and generation.started_at < now - generation_stale_before())
    if generation.status != TurnGeneration.Status.QUEUED and not stale:
        return None
    generation.status, generation.started_at, generation.error = TurnGeneration.Status.RUNNING, now, ""
    generation.attempts += 1
    generation.save(update_fields=["status", "started_at", "error", "attempts"])
    return generation.context, generation.conversation.study.set_size, generation.attempts


def _claimed(generation_id: int, attempt: int) -> TurnGeneration | None:
    """The locked row if this attempt still holds it (a stale re-claim or a retry may have taken it over)."""
    generation = (TurnGeneration.objects.select_for_update().select_related("conversation")
                  .filter(pk=generation_id).first())
    if generation is None or generation.status != TurnGeneration.Status.RUNNING or generation.attempts != attempt:
        return None
    return generation


@transaction.atomic
def generation_store(*, generation_id: int, attempt: int, texts: list[str], model: str,
                     endpoint_seconds: float) -> bool:
    """Store the turn's prompt, candidates and set, and the order shown, in one transaction; False (nothing
    stored) when this attempt no longer holds the generation."""
    generation = _claimed(generation_id, attempt)
    if generation is None:
        return False
    conversation = generation.conversation
    tags = [LIVE_SOURCE, f"turn-{generation.turn}"]
    if generation.turn == 1 and conversation.first_prompt_pregenerated is not None:
        tags.append(PREGENERATED_TAG if conversation.first_prompt_pregenerated else WRITTEN_TAG)
    external_id = f"{conversation.external_id}:{generation.turn}"
    prompt = Prompt.objects.create(study_id=conversation.study_id, external_id=external_id, turns=generation.context,
                                   tags=tags, language=conversation.language, source=LIVE_SOURCE)
    candidates = Candidate.objects.bulk_create(
        Candidate(prompt=prompt, external_id=f"{external_id}:nc{i}", text=text, source=model[:200],
                  strategy=NC_GENERATED) for i, text in enumerate(texts))
    ids = [c.pk for c in candidates]
    # Diversity stays empty: embedding the texts here would add the embedding model's seconds to every turn.
    candidate_set = candidate_set_create(prompt_id=prompt.pk, candidate_ids=ids, strategy=NC_GENERATED)
    generation.status, generation.finished_at = TurnGeneration.Status.DONE, timezone.now()
    generation.prompt, generation.candidate_set, generation.model = prompt, candidate_set, model[:200]
    generation.shown, generation.endpoint_seconds = random.sample(ids, len(ids)), endpoint_seconds
    generation.save(update_fields=["status", "finished_at", "prompt", "candidate_set", "model", "shown",
                                   "endpoint_seconds"])
    return True


@transaction.atomic
def generation_fail(*, generation_id: int, attempt: int, error: str, model: str = "",
                    endpoint_seconds: float | None = None) -> bool:
    generation = _claimed(generation_id, attempt)
    if generation is None:
        return False
    generation.status, generation.finished_at = TurnGeneration.Status.FAILED, timezone.now()
    generation.error, generation.model, generation.endpoint_seconds = error[:2000], model[:200], endpoint_seconds
    generation.save(update_fields=["status", "finished_at", "error", "model", "endpoint_seconds"])
    return True
