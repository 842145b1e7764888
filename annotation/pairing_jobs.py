"""An import's pairs, made once its candidate texts are embedded: inline, or on the `embeddings` queue.

Embedding is the slow step of an import (2,250 long responses took 460 s of CPU), so the doors users touch
(`import_study` without --wait, the admin upload, `POST /api/studies/`) store prompts and candidates and
return; a `PairingJob` row carries the rest. A worker embeds the job's texts chunk by chunk (progress and a
heartbeat on the row), then makes every pair of the job in one transaction: a failure leaves no half-made
pairs, and a re-run is cheap (embedded texts stay in the cache) and idempotent (pairs_create skips the pairs a
prompt has). In-process callers (tests, the demo, `import_study --wait`) embed inline. A set study's job makes
candidate sets instead of pairs (annotation/set_making.py), just as idempotently.

Embedding and the broker are alignment's; it registers them here when the app loads (alignment/apps.py), as it
registers the pair selector with annotation/pairing.py, so that annotation never imports it.
"""

import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from annotation.errors import Conflict, Unavailable
from annotation.heartbeats import heartbeat_while_running
from annotation.models import Candidate, PairingJob, Prompt, Study
from annotation.pairing import pairs_create
from annotation.set_making import sets_create, sets_short_note, sets_short_prompts

log = logging.getLogger(__name__)

PAIRING_JOB_TASK = "annotation.tasks.pairing_job_run"  # routed to the `embeddings` queue (CELERY_TASK_ROUTES)
EMBED_CHUNK = 256  # texts embedded between two progress writes


@dataclass(frozen=True)
class TextEmbedder:
    """What alignment lends: which texts the embedding cache lacks, embedding them into it, and a bounded
    publish of a task by name (alignment/broker.py; raises Unavailable when the broker is unreachable)."""

    uncached: Callable[[list[str]], list[str]]
    embed: Callable[[list[str]], None]
    publish: Callable[..., None]


_embedder: list[TextEmbedder] = []


def text_embedder_register(embedder: TextEmbedder) -> None:
    _embedder[:] = [embedder]


def _backend() -> TextEmbedder:
    if not _embedder:
        raise RuntimeError("no text embedder registered: the 'alignment' app must be in INSTALLED_APPS")
    return _embedder[0]


@dataclass(frozen=True)
class Preparation:
    """A study's pairing state: `ready`, `embedding` (a job queued or running) or `failed` (a job failed:
    an admin retries it). Progress counts the distinct texts of the unfinished jobs."""

    state: str
    texts_done: int = 0
    texts_total: int = 0
    error: str = ""
    job_id: int | None = None

    @property
    def ready(self) -> bool:
        return self.state == "ready"

    def as_dict(self) -> dict:
        return {"state": self.state, "texts_done": self.texts_done, "texts_total": self.texts_total,
                "error": self.error or None, "job_id": self.job_id}


READY = Preparation("ready")


def study_preparation(*, study: Study) -> Preparation:
    """One query; callers on the annotation loop ask only once `next` found nothing to hand out."""
    jobs = list(PairingJob.objects.filter(study=study).exclude(status=PairingJob.Status.SUCCEEDED)
                .order_by("-created_at").values("pk", "status", "texts_done", "texts_total", "error"))
    if not jobs:
        return READY
    done, total = sum(j["texts_done"] for j in jobs), sum(j["texts_total"] for j in jobs)
    failed = [j for j in jobs if j["status"] == PairingJob.Status.FAILED]
    if failed:
        return Preparation("failed", done, total, failed[0]["error"], failed[0]["pk"])
    return Preparation("embedding", done, total, "", jobs[0]["pk"])


def study_preparing(*, study_id: int) -> bool:
    """A job of the study has not succeeded: its pairs are not all made (queued, embedding, or failed)."""
    return PairingJob.objects.filter(study=study_id).exclude(status=PairingJob.Status.SUCCEEDED).exists()


# --- at import time ---------------------------------------------------------------------------------------


def pairs_prepare(*, study: Study, prompts: list[tuple[Prompt, list[Candidate]]], on_worker: bool) -> tuple[
        int, PairingJob | None]:
    """Inside the import's transaction: make the prompts' pairs (a set study: sets) now (inline, or every text
    already cached), or queue a job that a worker runs once the import commits. Returns (pairs or sets made now,
    the job or None)."""
    if not prompts:
        return 0, None
    texts = _distinct([c.text for _, candidates in prompts for c in candidates])
    if on_worker:
        missing = _backend().uncached(texts)
        if missing:
            job = PairingJob.objects.create(study=study, prompt_ids=[p.pk for p, _ in prompts],
                                            texts_total=len(texts), texts_done=len(texts) - len(missing))
            transaction.on_commit(lambda: pairing_job_enqueue(job.pk))
            return 0, job
    else:
        _embed_in_chunks(texts)  # one batched pass: far faster than prompt by prompt
    return tasks_create(study=study, prompts=prompts), None


def tasks_create(*, study: Study, prompts: list[tuple[Prompt, list[Candidate]]]) -> int:
    """The prompts' pairs, or in a set study their candidate sets; returns how many were made."""
    if study.task == Study.Task.SET:
        return sum(sets_create(study=study, prompt=p, candidates=c) for p, c in prompts)
    return sum(pairs_create(study=study, prompt=p, candidates=c) for p, c in prompts)


def _distinct(texts: list[str]) -> list[str]:
    return list(dict.fromkeys(texts))


def _embed_in_chunks(texts: list[str], on_chunk: Callable[[int], None] | None = None) -> None:
    backend = _backend()
    missing = backend.uncached(texts)
    for start in range(0, len(missing), EMBED_CHUNK):
        chunk = missing[start:start + EMBED_CHUNK]
        backend.embed(chunk)
        if on_chunk is not None:
            on_chunk(len(chunk))


def pairing_job_enqueue(job_id: int) -> bool:
    """Send the job to the `embeddings` queue. A broker that is down leaves it queued (the import has landed);
    beat's sweep sends it again (pairing_jobs_sweep)."""
    try:
        _backend().publish(PAIRING_JOB_TASK, args=[job_id])
    except Unavailable as exc:
        log.warning("pairing job %s stays queued: %s", job_id, exc.message)
        return False
    PairingJob.objects.filter(pk=job_id).update(enqueued_at=timezone.now())  # a fast worker may have claimed it
    return True


# --- on the worker ----------------------------------------------------------------------------------------


def pairing_job_execute(*, job_id: int, worker: str = "") -> PairingJob | None:
    """Run a queued job to its end: the task's whole body."""
    job = _claim(job_id, worker)
    if job is None:  # finished, running elsewhere, or gone
        return PairingJob.objects.filter(pk=job_id).first()
    running = PairingJob.objects.filter(pk=job.pk, status=PairingJob.Status.RUNNING)
    with heartbeat_while_running(running, every=settings.EMBEDDING_HEARTBEAT_SECONDS, what=f"pairing job {job.pk}"):
        try:
            made = _run(job)
        except Exception as exc:
            log.exception("pairing job %s failed", job.pk)
            detail = "".join(traceback.format_exception(exc, limit=-3))
            _end(job, PairingJob.Status.FAILED, error=f"{type(exc).__name__}: {exc}\n\n{detail}"[:20000])
        else:
            _end(job, PairingJob.Status.SUCCEEDED, made=made)
    job.refresh_from_db()
    return job


def _claim(job_id: int, worker: str) -> PairingJob | None:
    with transaction.atomic():
        job = PairingJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status != PairingJob.Status.QUEUED:
            return None
        now = timezone.now()
        job.status, job.worker, job.started_at, job.heartbeat_at = PairingJob.Status.RUNNING, worker, now, now
        job.attempts += 1
        job.error = ""
        job.save(update_fields=["status", "worker", "started_at", "heartbeat_at", "attempts", "error"])
        return job


def _run(job: PairingJob) -> dict:
    prompts = _job_prompts(job)
    texts = _distinct([c.text for _, candidates in prompts for c in candidates])
    done = len(texts) - len(_backend().uncached(texts))
    _progress(job, done, len(texts))

    def advance(n: int) -> None:
        nonlocal done
        done += n
        _progress(job, done, len(texts))

    _embed_in_chunks(texts, advance)
    # All of the job's pairs or none; the study's row lock queues this behind an import appending to it.
    with transaction.atomic():
        study = Study.objects.select_for_update().get(pk=job.study_id)
        made = tasks_create(study=study, prompts=prompts)
    slot_statistics_refresh()
    if study.task == Study.Task.SET:
        note = sets_short_note(study=study, short=sets_short_prompts(study=study, prompts=prompts))
        if note:
            log.warning("pairing job %s: %s", job.pk, note)
        return {"sets_made": made, "notes": note}
    return {"pairs_made": made}


def slot_statistics_refresh() -> None:
    """After pairs are made. Until autovacuum gets round to it, PostgreSQL plans `next` against an empty slot
    table and sorts every open slot on each call."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE annotation_slot, annotation_pair, annotation_assignment")


def _job_prompts(job: PairingJob) -> list[tuple[Prompt, list[Candidate]]]:
    prompts = {p.pk: p for p in Prompt.objects.filter(study=job.study_id, pk__in=job.prompt_ids)}
    candidates: dict[int, list[Candidate]] = {pk: [] for pk in prompts}
    # In id order, as the import made them: the same pairs as an inline import of the same file.
    for candidate in Candidate.objects.filter(prompt__in=list(prompts)).order_by("id"):
        candidates[candidate.prompt_id].append(candidate)
    return [(prompts[pk], candidates[pk]) for pk in job.prompt_ids if pk in prompts]


def _progress(job: PairingJob, done: int, total: int) -> None:
    PairingJob.objects.filter(pk=job.pk, status=PairingJob.Status.RUNNING, attempts=job.attempts).update(
        texts_done=done, texts_total=total, heartbeat_at=timezone.now())


def _end(job: PairingJob, status: str, *, error: str = "", made: dict | None = None) -> None:
    # Conditional on this attempt: a worker the sweep gave up on must not overwrite its successor's outcome.
    fields = {"status": status, "error": error, "finished_at": timezone.now()}
    if status == PairingJob.Status.SUCCEEDED:
        fields |= (made or {}) | {"texts_done": F("texts_total")}
    PairingJob.objects.filter(pk=job.pk, status=PairingJob.Status.RUNNING, attempts=job.attempts).update(**fields)


def pairing_jobs_sweep(*, now: datetime | None = None) -> int:
    """Beat, every minute. A running job whose worker stopped beating goes back to the queue (or fails after
    EMBEDDING_MAX_ATTEMPTS starts); a queued job whose message never reached the broker, or reached it
    EMBEDDING_RESEND_SECONDS ago with no worker taking it, is sent again. Returns the jobs sent."""
    now = now or timezone.now()
    stale = PairingJob.objects.filter(
        status=PairingJob.Status.RUNNING,
        heartbeat_at__lt=now - timedelta(seconds=settings.EMBEDDING_STALE_AFTER_SECONDS))
    for job in stale:
        if job.attempts >= settings.EMBEDDING_MAX_ATTEMPTS:
            PairingJob.objects.filter(pk=job.pk, status=PairingJob.Status.RUNNING, attempts=job.attempts).update(
                status=PairingJob.Status.FAILED, finished_at=now,
                error=f"the worker stopped responding (last heartbeat {job.heartbeat_at.isoformat()}) "
                      f"on each of {job.attempts} attempts")
        else:
            PairingJob.objects.filter(pk=job.pk, status=PairingJob.Status.RUNNING, attempts=job.attempts).update(
                status=PairingJob.Status.QUEUED, worker="", enqueued_at=None)
    unsent = Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=now - timedelta(seconds=settings.EMBEDDING_RESEND_SECONDS))
    resend = list(PairingJob.objects.filter(unsent, status=PairingJob.Status.QUEUED).values_list("pk", flat=True))
    return sum(pairing_job_enqueue(pk) for pk in resend)


def pairing_job_retry(*, job: PairingJob) -> PairingJob:
    """Put a failed job back in the queue (admin action, API); it is sent once this commits."""
    with transaction.atomic():
        job = PairingJob.objects.select_for_update().get(pk=job.pk)
        if job.status != PairingJob.Status.FAILED:
            raise Conflict(f"pairing job {job.pk} is {job.status}; only a failed job can be retried",
                           code="job_not_failed")
        job.status, job.error, job.finished_at, job.worker, job.enqueued_at = (
            PairingJob.Status.QUEUED, "", None, "", None)
        job.attempts = 0
        job.save(update_fields=["status", "error", "finished_at", "worker", "enqueued_at", "attempts"])
        transaction.on_commit(lambda: pairing_job_enqueue(job.pk))
    return job
