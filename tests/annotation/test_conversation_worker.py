"""A real Celery worker on the `generation` queue writes a live conversation's turn (tests/worker_process.py)."""

import time

import pytest

from annotation.conversation_turns import TURN_GENERATION_TASK
from annotation.conversations import conversation_start
from annotation.models import Candidate, Prompt, TurnGeneration
from tests.factories import make_participant, make_study

pytestmark = pytest.mark.worker


def _wait(generation: TurnGeneration, worker, seconds: float = 120) -> TurnGeneration:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and worker.poll() is None:
        generation.refresh_from_db()
        if generation.status in (TurnGeneration.Status.DONE, TurnGeneration.Status.FAILED):
            break
        time.sleep(0.2)
    assert worker.poll() is None, "the worker process died"
    return generation


def test_a_real_worker_generates_a_turn_on_the_generation_queue_once_even_if_redelivered(
        generation_worker, django_user_model, chat_server):
    from pluralweb.celery import app

    study = make_study(slug="live", prompts=0, task="conversation")
    participant = make_participant(study, django_user_model.objects.create_user("live"))
    conversation = conversation_start(participant=participant, prompt="What matters most in a job?")  # commits
    generation = _wait(conversation.generations.get(), generation_worker)
    assert generation.status == TurnGeneration.Status.DONE, generation.error
    assert Candidate.objects.filter(prompt=generation.prompt, source="worker-model").count() == 4
    assert len(chat_server.requests) == 1

    app.send_task(TURN_GENERATION_TASK, args=[generation.pk])  # a redelivered message: stores nothing twice
    deadline = time.monotonic() + 60
    while "'skipped'" not in generation_worker.log.read_text() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "'skipped'" in generation_worker.log.read_text()
    assert Prompt.objects.filter(study=study).count() == 1 and len(chat_server.requests) == 1
