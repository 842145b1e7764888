"""A PAL refit's figures as the API and the PAL dashboard show them: who was fitted, every (model, K),
per-annotator weights, groups by one attribute, and each phase's time."""

import os

import pytest

from alignment.fits import fit_run_execute, fit_run_launch
from alignment.models import FitRun
from annotation.models import Participant
from tests.alignment.fit_data import disagreeing_study
from tests.factories import client_for

pytestmark = pytest.mark.django_db
FAST = {"k": 2, "max_epochs": 5, "seed": 1}


@pytest.fixture
def fit_study(db):
    return disagreeing_study(slug="palpages")


def refit(study, **params) -> FitRun:
    run = fit_run_execute(run_id=fit_run_launch(study=study, kind="pal", params={**FAST, **params}, user=None).pk)
    assert run.status == "succeeded", run.error
    return run


def test_an_annotator_kept_out_of_training_is_never_called_fitted(fit_study, researcher):
    run = refit(fit_study)
    status = dict(zip(run.metrics["participant_ids"], run.metrics["annotators"]["status"], strict=True))
    people = dict(Participant.objects.filter(study=fit_study).values_list("pk", "external_id"))
    unseen = [people[pk] for pk, s in status.items() if s == "unseen"]
    fitted = [people[pk] for pk, s in status.items() if s == "fitted"]
    assert unseen and fitted  # 10% of each group of 8 rounds to one unseen annotator per group
    client = client_for(researcher)
    url = f"/api/studies/{fit_study.slug}/mixture/"
    kept_out = client.post(url, {"annotator_id": unseen[0]}, format="json").json()
    assert kept_out["source"] == "few-shot" and kept_out["status"] == "unseen" and kept_out["judgments_used"] > 0
    trained = client.post(url, {"annotator_id": fitted[0]}, format="json").json()
    assert trained["source"] == "fitted" and trained["status"] == "fitted"
    item = {"turns": [{"role": "user", "content": "Question number 0 about values?"}], "responses": ["a", "b"]}
    reward = client.post(f"/api/studies/{fit_study.slug}/reward/", {"items": [item], "annotator_id": unseen[0]},
                         format="json").json()
    assert reward["mixture_source"] == "few-shot" and reward["status"] == "unseen"


def test_the_refit_records_each_phase_time_and_the_epoch_kept(fit_study):
    metrics = refit(fit_study).metrics
    assert {"load", "fit", "k1_fit", "group_bt_fit", "seen_scoring", "few_shot", "save"} <= set(metrics["seconds"])
    assert metrics["total_seconds"] >= sum(metrics["seconds"].values()) - 0.01
    assert 1 <= metrics["best_epoch"] <= metrics["epochs_run"] <= 5
    assert isinstance(metrics["small_data_fit"], bool)  # which of the two fits was kept
    assert metrics["fit_kept"] in ({"grouped-start", "prototype-pull"} if metrics["small_data_fit"] else {"plain"})
    assert "by rated item per annotator" in metrics["split"]["seen"]


def test_the_two_fits_threshold_is_the_operators(fit_study, settings):
    """This study is small: by default it is fitted twice and records which fit it kept; with the
    threshold at 0 it is fitted once, as configured."""
    twice = refit(fit_study)
    assert twice.progress["total"] == 2 * FAST["max_epochs"]  # progress counts on across both fits
    assert twice.metrics["fit_kept"] in {"plain", "grouped-start"}  # the study has groups
    settings.PLURALWEB_PAL_TWO_FITS_BELOW = 0
    once = refit(fit_study)
    assert (once.metrics["small_data_fit"], once.metrics["fit_kept"]) == (False, "plain")
    assert once.progress["total"] == FAST["max_epochs"]  # one fit's epochs: progress counted for one


def test_the_two_fits_setting_defaults_to_train_configs_threshold():
    """The threshold is written twice (settings cannot import torch's modules): they must agree."""
    from django.conf import settings as django_settings

    from alignment.pal import TrainConfig

    if "PLURALWEB_PAL_TWO_FITS_BELOW" in os.environ:
        pytest.skip("PLURALWEB_PAL_TWO_FITS_BELOW is set in this environment")
    assert django_settings.PLURALWEB_PAL_TWO_FITS_BELOW == TrainConfig.small_data_below


def test_the_pal_dashboard_lists_runs_by_model_and_k_not_only_the_latest_per_k(client, fit_study, researcher):
    pal_b = refit(fit_study)
    pal_a = refit(fit_study, model="pal-a")
    client.force_login(researcher)
    data = client.get(f"/studies/{fit_study.slug}/dashboards/pal/?download=json").json()
    rows = {(row["model"], row["k"]): row["run"] for row in data["tables"]["by_model_k"]}
    assert rows == {("PAL-A", 2): pal_a.pk, ("PAL-B", 2): pal_b.pk}
    page = client.get(f"/studies/{fit_study.slug}/dashboards/pal/").content.decode()
    assert "Epoch kept by early stopping" in page and 'id="figure-annotator-weights"' in page


def test_per_annotator_weights_download_with_their_status_and_group_accuracies_with_n(client, fit_study,
                                                                                       researcher):
    run = refit(fit_study)
    client.force_login(researcher)
    csv = client.get(f"/studies/{fit_study.slug}/dashboards/pal/?download=csv&table=annotators").content.decode()
    lines = csv.strip().splitlines()
    assert lines[0].split(",")[:3] == ["annotator", "group", "status"] and "w1" in lines[0] and "w2" in lines[0]
    assert len(lines) == 1 + Participant.objects.filter(study=fit_study).count()
    data = client.get(f"/studies/{fit_study.slug}/dashboards/pal/?download=json").json()
    n = {row["group"]: row["n"] for row in data["tables"]["group_accuracy"]}
    assert sum(n.values()) == run.metrics["sizes"]["test"]  # no ties in this study
    unseen = data["tables"]["unseen_by_group"]
    assert {row["group"] for row in unseen} == {"party=D", "party=R"} and all(row["n"] > 0 for row in unseen)


def test_a_refit_on_one_attribute_is_what_the_page_shows_for_that_attribute(client, fit_study, researcher):
    by_party = refit(fit_study, attribute="party")
    full = refit(fit_study)  # the latest success: the current model
    assert by_party.metrics["attribute"] == "party" and by_party.params["attribute"] == "party"
    client.force_login(researcher)
    sliced = client.get(f"/studies/{fit_study.slug}/dashboards/pal/?attribute=party&download=json").json()
    assert sliced["summary"]["run"] == by_party.pk and not sliced["summary"]["regrouped"]
    current = client.get(f"/studies/{fit_study.slug}/dashboards/pal/?download=json").json()
    assert current["summary"]["run"] == full.pk


def test_a_refit_on_an_attribute_the_study_lacks_fails_saying_so(fit_study):
    run = fit_run_execute(run_id=fit_run_launch(study=fit_study, kind="pal", params={**FAST, "attribute": "age"},
                                                user=None).pk)
    assert run.status == "failed" and "'age' is not a group attribute" in run.error
