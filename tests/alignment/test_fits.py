"""The refit service: status transitions, metrics, and the current model swapped only on success."""

from datetime import timedelta

import pytest
from django.utils import timezone

from alignment.fits import (
    FitCancelled,
    FitProgress,
    fit_run_cancel,
    fit_run_execute,
    fit_run_launch,
    fit_runs_fail_stale,
)
from alignment.models import FitRun
from alignment.pal import load_pal
from annotation.errors import InputError, Unavailable
from annotation.models import Judgment
from tests.alignment import fit_data
from tests.alignment.fit_data import disagreeing_study
from tests.factories import client_for, make_study

pytestmark = pytest.mark.django_db
FAST = {"k": 2, "max_epochs": 5, "seed": 1}


@pytest.fixture
def fit_study(db):
    return disagreeing_study()


def launch(study, user=None, **params):
    return fit_run_launch(study=study, kind="pal", params={**FAST, **params}, user=user)


def test_a_launched_run_is_queued_with_a_snapshot_of_the_dataset(fit_study, admin_user):
    run = launch(fit_study, admin_user)
    assert (run.status, run.is_current, run.launched_by) == ("queued", False, admin_user)
    assert run.judgment_count == Judgment.objects.count() == 16 * 8 * 6
    assert run.last_judgment_id == Judgment.objects.order_by("-id").first().pk
    assert run.params == {"model": "pal-b", "k": 2, "max_epochs": 5, "seed": 1, "unseen_fraction": 0.1}


def test_a_successful_refit_stores_metrics_and_an_artifact_and_becomes_current(fit_study):
    run = fit_run_execute(run_id=launch(fit_study).pk, worker="test")
    assert run.status == "succeeded", run.error
    assert run.is_current and run.started_at and run.finished_at and run.worker == "test"
    assert run.progress["epoch"] >= 1 and run.progress["history"][0]["epoch"] == 1
    metrics = run.metrics
    assert metrics["k"] == 2 and metrics["seen_accuracy"] > 0.9
    assert set(metrics["group_mixtures"]) == {"party=D", "party=R"}
    assert set(metrics["unseen_accuracy"]) >= {"1", "5"}
    model = load_pal(run.artifact_path)
    assert model.k == 2 and set(model.group_weights) == {"party=D", "party=R"}


def test_a_new_success_replaces_the_current_model(fit_study):
    first = fit_run_execute(run_id=launch(fit_study).pk)
    second = fit_run_execute(run_id=launch(fit_study, seed=2).pk)
    first.refresh_from_db()
    assert second.is_current and not first.is_current


def test_a_failing_run_ends_failed_with_the_reason_and_keeps_the_current_model(fit_study):
    current = fit_run_execute(run_id=launch(fit_study).pk)
    Judgment.objects.filter(participant__study=fit_study).exclude(participant__external_id__in=["a0", "a1"]).delete()
    failed = fit_run_execute(run_id=launch(fit_study).pk)
    current.refresh_from_db()
    assert failed.status == "failed" and "needs at least 40" in failed.error and not failed.is_current
    assert current.is_current and current.status == "succeeded"


def test_a_queued_run_can_be_cancelled_and_is_then_never_run(fit_study):
    run = fit_run_cancel(run=launch(fit_study))
    assert run.status == "cancelled"
    assert fit_run_execute(run_id=run.pk).status == "cancelled"


def test_progress_reports_stop_a_run_once_it_is_cancelled(fit_study):
    run = launch(fit_study)
    progress = FitProgress(run.pk)
    progress(epoch=1, total=10, loss=0.7)
    FitRun.objects.filter(pk=run.pk).update(cancel_requested=True)
    with pytest.raises(FitCancelled):
        progress(epoch=2, total=10, loss=0.6)
    run.refresh_from_db()
    assert run.progress["epoch"] == 2 and len(run.progress["history"]) == 2


def test_a_run_whose_worker_stopped_beating_ends_failed(fit_study):
    run = launch(fit_study)
    FitRun.objects.filter(pk=run.pk).update(status="running", heartbeat_at=timezone.now() - timedelta(minutes=10))
    assert fit_runs_fail_stale() == 1
    run.refresh_from_db()
    assert run.status == "failed" and "stopped responding" in run.error


@pytest.mark.parametrize(("params", "field"), [
    ({"k": 0}, "params.k"), ({"k": "two"}, "params.k"), ({"model": "pal-z"}, "params.model"),
    ({"learning_rate": 1}, "params"), ({"unseen_fraction": 0.9}, "params.unseen_fraction"),
])
def test_bad_parameters_are_refused_before_anything_is_queued(db, params, field):
    study = make_study()
    with pytest.raises(InputError) as error:
        fit_run_launch(study=study, kind="pal", params=params, user=None)
    assert error.value.field == field and not FitRun.objects.exists()


def test_launching_while_the_broker_is_down_fails_at_once_and_queues_nothing(db, settings):
    study = make_study()
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    with pytest.raises(Unavailable, match="broker is unreachable"):
        fit_run_launch(study=study, kind="pal", params={}, user=None)
    assert not FitRun.objects.exists()


def test_admins_launch_over_the_api_and_researchers_read(fit_study, admin_user, researcher, annotator_d):
    url = f"/api/studies/{fit_study.slug}/fits/"
    assert client_for(researcher).post(url, {"kind": "pal"}, format="json").status_code == 403
    assert client_for(annotator_d.user).get(url).status_code == 403
    response = client_for(admin_user).post(url, {"kind": "pal", "params": FAST}, format="json")
    assert response.status_code == 202 and response.json()["status"] == "queued"
    run_id = response.json()["id"]
    assert [r["id"] for r in client_for(researcher).get(url).json()] == [run_id]
    assert client_for(researcher).get(f"/api/fits/{run_id}/").json()["kind"] == "pal"
    bad = client_for(admin_user).post(url, {"kind": "pal", "params": {"k": 99}}, format="json")
    assert bad.status_code == 400 and bad.json()["field"] == "params.k"
    cancelled = client_for(admin_user).post(f"/api/fits/{run_id}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert client_for(admin_user).post(f"/api/fits/{run_id}/cancel/").status_code == 409


def test_the_models_page_shows_runs_to_researchers_and_launches_for_admins(client, fit_study, admin_user, researcher,
                                                                       annotator_d):
    client.force_login(annotator_d.user)
    assert client.get(f"/studies/{fit_study.slug}/models/").status_code == 403
    client.force_login(researcher)
    page = client.get(f"/studies/{fit_study.slug}/models/").content.decode()
    assert "Runs" in page and "Launch a refit" not in page
    assert client.post(f"/studies/{fit_study.slug}/models/launch/", {"kind": "pal"}).status_code == 403
    client.force_login(admin_user)
    response = client.post(f"/studies/{fit_study.slug}/models/launch/", {"kind": "pal", "k": "2", "max_epochs": "5"})
    run = FitRun.objects.get()
    assert response["Location"] == f"/studies/{fit_study.slug}/fits/{run.pk}/"
    fit_run_execute(run_id=run.pk)
    progress = client.get(f"/studies/{fit_study.slug}/fits/{run.pk}/progress/")
    assert progress.status_code == 286  # htmx: stop polling, the run has ended
    assert "succeeded" in progress.content.decode() and 'id="loss-figure"' in progress.content.decode()


@pytest.fixture
def fitted(fit_study):
    run = fit_run_execute(run_id=launch(fit_study).pk)
    assert run.status == "succeeded", run.error
    return run


ITEM = {"turns": [{"role": "user", "content": "Question number 0 about values?"}],
        "responses": [fit_data.TEXTS[0] + " (prompt p0)", fit_data.TEXTS[3] + " (prompt p0)"]}


def test_rewards_follow_each_groups_preferences(fit_study, fitted, researcher):
    client = client_for(researcher)
    url = f"/api/studies/{fit_study.slug}/reward/"
    for_d = client.post(url, {"items": [ITEM], "group": {"party": "D"}}, format="json").json()
    for_r = client.post(url, {"items": [ITEM], "group": "party=R"}, format="json").json()
    assert for_d["run"] == fitted.pk and for_d["mixture_source"] == "group"
    # Group D preferred the first candidates, group R the last ones.
    assert for_d["rewards"][0][0] > for_d["rewards"][0][1]
    assert for_r["rewards"][0][0] < for_r["rewards"][0][1]
    a_d_annotator = client.post(url, {"items": [ITEM], "annotator_id": "a0"}, format="json").json()
    assert a_d_annotator["mixture_source"] in {"fitted", "few-shot"}
    assert a_d_annotator["rewards"][0][0] > a_d_annotator["rewards"][0][1]
    weights = client.post(url, {"items": [ITEM], "weights": for_d["weights"]}, format="json").json()
    assert weights["rewards"][0] == pytest.approx(for_d["rewards"][0], abs=1e-4)


@pytest.mark.parametrize(("body", "field"), [
    ({"items": [ITEM]}, "annotator_id"),
    ({"items": [ITEM], "group": "party=Z"}, "group"),
    ({"items": [ITEM], "weights": [0.9, 0.9]}, "weights"),
    ({"items": [{"turns": [], "responses": ["x"]}], "group": "party=D"}, "items[0].turns"),
])
def test_bad_reward_requests_say_what_is_wrong(fit_study, fitted, researcher, body, field):
    response = client_for(researcher).post(f"/api/studies/{fit_study.slug}/reward/", body, format="json")
    assert response.status_code == 400 and response.json()["field"] == field


def test_rewards_need_a_fitted_model_and_a_researcher(fit_study, researcher, annotator_d):
    url = f"/api/studies/{fit_study.slug}/reward/"
    body = {"items": [ITEM], "group": "party=D"}
    assert client_for(researcher).post(url, body, format="json").status_code == 404
    assert client_for(annotator_d.user).post(url, body, format="json").status_code == 403


def test_a_new_annotators_mixture_is_fitted_from_their_first_judgments(fit_study, fitted, researcher):
    from annotation.judgment_files import judgments_import
    from tests.factories import jsonl_bytes

    judgments_import(study=fit_study, stream=jsonl_bytes([
        {"annotator_id": "newcomer", "attributes": {"party": "R"}, "prompt_id": f"p{p}", "a": f"p{p}c0",
         "b": f"p{p}c3", "choice": "B"} for p in range(6)
    ]))
    client = client_for(researcher)
    url = f"/api/studies/{fit_study.slug}/mixture/"
    none = client.post(url, {"annotator_id": "newcomer", "shots": 0}, format="json").json()
    six = client.post(url, {"annotator_id": "newcomer", "shots": 6}, format="json").json()
    assert none["source"] == "group" and six["source"] == "few-shot" and six["judgments_used"] == 6
    r_mixture = fitted.metrics["group_mixtures"]["party=R"]
    d_mixture = fitted.metrics["group_mixtures"]["party=D"]
    distance = lambda w, m: sum((a - b) ** 2 for a, b in zip(w, m, strict=True))  # noqa: E731
    assert distance(six["weights"], r_mixture) < distance(six["weights"], d_mixture)


def test_the_pal_dashboard_shows_the_current_models_mixtures(client, fit_study, fitted, researcher):
    client.force_login(researcher)
    page = client.get(f"/studies/{fit_study.slug}/dashboards/pal/")
    assert page.status_code == 200 and f"run {fitted.pk}" in page.content.decode()
    data = client.get(f"/studies/{fit_study.slug}/dashboards/pal/?download=json").json()
    groups = {row["group"] for row in data["tables"]["mixtures"]}
    assert groups == {"party=D", "party=R"} and data["tables"]["by_model_k"][0]["k"] == 2


def test_a_study_with_refit_every_launches_a_refit_once_enough_new_judgments_arrived(fit_study):
    from alignment.fits import fit_runs_due

    assert fit_runs_due() == []  # no setting, no periodic refit
    fit_study.refit_every = 100
    fit_study.save(update_fields=["refit_every"])
    first = fit_runs_due()
    assert [run.study_id for run in first] == [fit_study.pk]
    assert fit_runs_due() == []  # one is already queued
    fit_run_cancel(run=first[0])
    assert fit_runs_due() == []  # no new judgments since that run's snapshot
    from annotation.judgment_files import judgments_import
    from tests.factories import jsonl_bytes

    judgments_import(study=fit_study, stream=jsonl_bytes([
        {"annotator_id": f"late{n}", "attributes": {"party": "D"}, "prompt_id": f"p{p}", "a": f"p{p}c{i}",
         "b": f"p{p}c{i + 1}", "choice": "A"} for n in range(5) for p in range(8) for i in range(3)
    ]))  # 120 new judgments
    again = fit_runs_due()
    assert len(again) == 1 and again[0].params == first[0].params
