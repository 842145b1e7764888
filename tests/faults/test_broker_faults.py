"""A frozen broker (a real redis-server stopped with SIGSTOP) never hangs a launch: every broker call is bounded,
and the launch answers 503 naming the broker. Each test thaws the server after a deadline, so a regression fails
(a late 202) instead of hanging the suite."""

import threading
import time

import pytest
import redis

from alignment.fits import fit_run_launch
from alignment.models import FitRun
from annotation.errors import Unavailable
from tests.factories import client_for, make_study

# Transactional: a launch publishes on commit, which a test wrapped in a rolled-back transaction never reaches.
pytestmark = pytest.mark.django_db(transaction=True)
DEADLINE = 20.0  # seconds; a bounded call answers in a few (settings.BROKER_TIMEOUT_SECONDS)


@pytest.fixture
def broker(own_redis, settings):
    settings.CELERY_BROKER_URL = own_redis.url
    return own_redis


def frozen_call(server, call):
    """(result, seconds) of `call` while the server is frozen; thawed after DEADLINE if the call hangs."""
    server.freeze()
    rescue = threading.Timer(DEADLINE, server.thaw)
    rescue.start()
    start = time.monotonic()
    try:
        result = call()
    finally:
        elapsed = time.monotonic() - start
        rescue.cancel()
        server.thaw()
    print(f"answered in {elapsed:.2f} s")
    return result, elapsed


def test_an_api_launch_answers_503_while_the_broker_is_frozen(broker, admin_user):
    study, client = make_study(), client_for(admin_user)
    response, elapsed = frozen_call(broker, lambda: client.post(
        f"/api/studies/{study.slug}/fits/", {"kind": "pal"}, format="json"))
    assert response.status_code == 503, response.content
    assert response.json()["code"] == "broker_unavailable" and "broker" in response.json()["detail"]
    assert elapsed < DEADLINE
    assert not FitRun.objects.filter(status=FitRun.Status.QUEUED).exists()


def test_a_page_launch_answers_503_while_the_broker_is_frozen(broker, admin_user):
    study, client = make_study(), client_for(admin_user)
    response, elapsed = frozen_call(broker, lambda: client.post(
        f"/studies/{study.slug}/models/launch/", {"kind": "pal", "k": "2"}))
    assert response.status_code == 503
    assert "broker" in response.content.decode()
    assert elapsed < DEADLINE
    assert not FitRun.objects.filter(status=FitRun.Status.QUEUED).exists()


def test_the_refit_command_fails_with_the_reason_while_the_broker_is_frozen(broker):
    from django.core.management import CommandError, call_command

    make_study(slug="cmd")
    with pytest.raises(CommandError, match="broker"):
        frozen_call(broker, lambda: call_command("refit", "cmd", "--kind", "pal"))


def test_a_publish_to_a_frozen_broker_gives_up_and_fails_the_run_with_the_reason(broker):
    from alignment.fits import fit_run_enqueue

    run = FitRun.objects.create(study=make_study(), kind="pal", params={})
    _, elapsed = frozen_call(broker, lambda: fit_run_enqueue(run.pk))
    run.refresh_from_db()
    assert run.status == "failed" and "broker" in run.error and elapsed < DEADLINE


def test_a_launch_on_a_live_redis_broker_queues_the_run(broker):
    run = fit_run_launch(study=make_study(), kind="pal", params={}, user=None)
    assert run.status == "queued"
    assert redis.Redis.from_url(broker.url).llen("fits") == 1


def test_an_unreachable_broker_is_refused_quickly(settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    study = make_study()
    start = time.monotonic()
    with pytest.raises(Unavailable, match="broker is unreachable"):
        fit_run_launch(study=study, kind="pal", params={}, user=None)
    print(f"refused in {time.monotonic() - start:.2f} s")
