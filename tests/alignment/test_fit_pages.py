"""The refit pages: a failed run's readable reason, the launch form's minimum data, metrics as a table,
an ETA that stops once training stopped, and no loss chart for a SPICA run."""

from datetime import timedelta

import pytest
from django.utils import timezone

from alignment.fit_run_display import failure_reason, metrics_rows
from alignment.fits import FitProgress, fit_run_execute, fit_run_launch
from alignment.models import FitRun
from alignment.selectors import fit_eta_seconds
from annotation.judgment_files import judgments_import
from tests.alignment.fit_data import disagreeing_study
from tests.factories import jsonl_bytes, make_study

pytestmark = pytest.mark.django_db
FAST = {"k": 2, "max_epochs": 5, "seed": 1}


def run_page(client, run):
    return client.get(f"/studies/{run.study.slug}/fits/{run.pk}/").content.decode()


@pytest.fixture
def thin_study(db):
    """Ten judgments from two annotators: too little for any fit."""
    study = make_study(slug="thin", prompts=2, candidates=3)
    lines = [{"annotator_id": f"a{n}", "attributes": {"party": "DR"[n]}, "prompt_id": f"p{p}", "a": f"p{p}c{i}",
              "b": f"p{p}c{j}", "choice": "A"} for n in range(2) for p in range(2) for i, j in ((0, 1), (0, 2), (1, 2))]
    judgments_import(study=study, stream=jsonl_bytes(lines))
    return study


def test_a_failed_run_shows_its_reason_without_the_traceback(client, thin_study, admin_user):
    run = fit_run_execute(run_id=fit_run_launch(study=thin_study, kind="pal", params=FAST, user=None).pk)
    assert run.status == "failed" and "Traceback" in run.error  # the admin keeps the whole story
    client.force_login(admin_user)
    page = run_page(client, run)
    assert "a PAL fit needs at least 40 A/B/tie judgments from 4 annotators; the study has 12 from 2" in page
    assert "Traceback" not in page and "ValueError" not in page and "pal_refit.py" not in page
    models = client.get(f"/studies/{thin_study.slug}/models/").content.decode()
    assert "Traceback" not in models and "the study has 12 from 2" in models


def test_an_unexpected_error_names_its_kind_and_where_the_details_are():
    stored = ('RuntimeError: CUDA out of memory\n\nTraceback (most recent call last):\n  File "x.py", line 1\n'
              "RuntimeError: CUDA out of memory")
    assert failure_reason(stored) == (
        "CUDA out of memory (RuntimeError; the details are in the admin and the worker's log)")
    assert failure_reason("MemoryError: \n\nTraceback (most recent call last):\n") == "the worker ran out of memory"
    assert failure_reason("worker stopped responding (no heartbeat for 3 min)") == (
        "worker stopped responding (no heartbeat for 3 min)")


def test_the_launch_form_states_the_minimum_data_and_what_the_study_has(client, thin_study, admin_user):
    client.force_login(admin_user)
    page = client.get(f"/studies/{thin_study.slug}/models/").content.decode()
    assert "A PAL fit needs at least 40 A/B/tie judgments from 4 annotators; this study has 12 from 2." in page
    assert ("A SPICA fit needs at least 10 judged prompts (scenarios) and 2 groups; this study has 2 prompts and "
            "2 groups.") in page


def test_a_succeeded_runs_metrics_are_a_table_not_a_raw_dict(client, admin_user):
    study = disagreeing_study(prompts=6, annotators=8)
    run = fit_run_execute(run_id=fit_run_launch(study=study, kind="pal", params=FAST, user=None).pk)
    assert run.status == "succeeded", run.error
    client.force_login(admin_user)
    page = run_page(client, run)
    assert '<table class="numbers" id="fit-metrics">' in page
    assert '<th scope="row">seen_accuracy</th>' in page and "{&#x27;" not in page
    assert '<th scope="row">participant_ids</th>' not in page


def test_metric_rows_flatten_nested_values_and_shorten_long_lists():
    rows = metrics_rows({"k": 2, "seen_accuracy": 0.83333, "unseen_accuracy": {"1": 0.6, "5": 0.7},
                         "group_mixtures": {"party=D": [0.1, 0.9]}, "history": list(range(20))})
    assert rows == [
        {"metric": "k", "value": "2"}, {"metric": "seen_accuracy", "value": "0.8333"},
        {"metric": "unseen_accuracy", "value": "1: 0.6, 5: 0.7"},
        {"metric": "group_mixtures · party=D", "value": "[0.1, 0.9]"},
        {"metric": "history", "value": "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, … (20 values)]"},
    ]


def _running(study) -> FitRun:
    run = fit_run_launch(study=study, kind="pal", params={**FAST, "max_epochs": 60}, user=None)
    FitRun.objects.filter(pk=run.pk).update(status="running", started_at=timezone.now() - timedelta(seconds=30))
    return FitRun.objects.get(pk=run.pk)


def test_the_eta_extrapolates_from_the_epochs_not_from_the_heartbeat(thin_study):
    run = _running(thin_study)
    progress = FitProgress(run.pk)
    for epoch in (1, 2, 3):
        progress(epoch=epoch, total=60, loss=0.7)
    run.refresh_from_db()
    took = (timezone.datetime.fromisoformat(run.progress["updated_at"]) - run.started_at).total_seconds()
    # The heartbeat keeps beating after an epoch; the ETA must not grow with it.
    FitRun.objects.filter(pk=run.pk).update(heartbeat_at=run.started_at + timedelta(minutes=10))
    run.refresh_from_db()
    assert fit_eta_seconds(run) == pytest.approx(took / 3 * 57)


def test_once_early_stopping_ended_training_the_page_shows_no_eta_but_what_it_does(client, thin_study,
                                                                                  admin_user):
    run = _running(thin_study)
    progress = FitProgress(run.pk)
    for epoch in range(1, 7):
        progress(epoch=epoch, total=60, loss=0.7)
    progress.phase("evaluating", best_epoch=2)
    run.refresh_from_db()
    assert fit_eta_seconds(run) is None
    client.force_login(admin_user)
    page = run_page(client, run)
    assert 'id="fit-eta"' not in page
    assert "Training stopped after epoch 6 (the model of epoch 2 is kept); evaluating it now." in page
