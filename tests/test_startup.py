"""Start-up warm-up: the URLconf and the embedding model are loaded before the first request needs them."""

import gc
import sys

import pytest
from django.urls import get_resolver

from alignment.embeddings import encoder
from pluralweb.startup import warm_up, warm_up_finished, warm_up_in_background


def test_warm_up_loads_the_embedding_model_and_the_urlconf():
    encoder._load_encoder_cached.cache_clear()  # the process-wide cache the first upload would fill
    warm_up()
    assert encoder._load_encoder_cached.cache_info().currsize == 1
    assert "alignment.api" in sys.modules and get_resolver().url_patterns


def test_the_warm_up_thread_is_not_started_when_turned_off(settings):
    settings.PLURALWEB_WARM_UP = False
    assert warm_up_in_background() is None


def test_the_warm_up_thread_runs_to_its_end_when_on(settings):
    settings.PLURALWEB_WARM_UP = True
    thread = warm_up_in_background()
    thread.join(timeout=300)
    assert thread.name == "pluralweb-warm-up" and not thread.is_alive()
    # What it loaded is out of the collector's reach (else every full collection walks it again), and
    # the process now reports itself ready.
    assert gc.get_freeze_count() > 100_000
    assert warm_up_finished()


@pytest.mark.django_db
def test_healthz_reports_readiness(client, settings):
    settings.PLURALWEB_WARM_UP = False  # nothing to wait for
    assert client.get("/healthz").json() == {"ok": True, "warm": True}
