"""Refit faults: a lost queued message, metrics that cannot be stored, a refit on its recorded snapshot."""

from datetime import timedelta

import pytest
import redis
from django.utils import timezone

from alignment.fits import fit_run_execute, fit_run_launch, fit_runs_due, fit_runs_fail_stale
from annotation.models import Rating, Study
from tests.alignment.fit_data import disagreeing_study
from tests.alignment.test_spica_refit import rated_study

FAST = {"k": 2, "max_epochs": 3, "seed": 1}


@pytest.mark.django_db(transaction=True)
def test_a_queued_run_whose_message_was_lost_goes_stale_and_stops_blocking_refit_every(own_redis, settings):
    settings.CELERY_BROKER_URL = own_redis.url
    study = disagreeing_study(prompts=2, annotators=4)
    Study.objects.filter(pk=study.pk).update(refit_every=10)
    lost = fit_run_launch(study=study, kind="pal", params=FAST, user=None)
    redis.Redis.from_url(own_redis.url).flushdb()  # the broker lost the message: no worker will ever see it
    assert fit_runs_due() == []  # while it may still be waiting for a worker, it holds the next launch back

    later = timezone.now() + timedelta(seconds=settings.FIT_QUEUED_STALE_SECONDS + 1)
    assert fit_runs_fail_stale(now=later) == 1
    lost.refresh_from_db()
    assert lost.status == "failed" and "no worker started it" in lost.error
    relaunched = fit_runs_due()
    assert [run.status for run in relaunched] == ["queued"] and relaunched[0].pk != lost.pk


@pytest.mark.django_db
def test_a_run_whose_metrics_are_not_finite_fails_at_once_with_the_reason():
    # A rating of infinity (accepted before ratings were validated) makes the rating RMSE infinite.
    study = rated_study(slug="inf")
    Rating.objects.filter(pk=Rating.objects.order_by("id").first().pk).update(rating=float("inf"))
    run = fit_run_execute(run_id=fit_run_launch(study=study, kind="spica", params={"m": 3}, user=None).pk)
    assert run.status == "failed", run.metrics
    assert "metrics cannot be stored" in run.error and "inf" in run.error
    assert run.finished_at is not None and not run.is_current
