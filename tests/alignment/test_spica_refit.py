"""The SPICA refit kind and the examples API, on a study where two groups disagree."""

import numpy as np
import pytest

from alignment.fits import fit_run_execute, fit_run_launch
from annotation.errors import InputError
from tests.alignment import fit_data
from tests.alignment.fit_data import disagreeing_study
from tests.factories import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def spica_run(db):
    study = disagreeing_study(slug="norms", prompts=12, annotators=8)
    run = fit_run_execute(run_id=fit_run_launch(study=study, kind="spica", params={"m": 3}, user=None).pk)
    assert run.status == "succeeded", run.error
    return run


def test_a_spica_refit_stores_per_group_evaluation_and_a_retrieval_bank(spica_run):
    metrics = spica_run.metrics
    assert set(metrics["accuracy"]) == {"party=D", "party=R"} == set(metrics["alphas"])
    assert metrics["scenarios"] == 12 and metrics["bank"] >= 8
    with np.load(spica_run.artifact_path) as bank:
        assert bank["z"].shape[0] == 2 and len(bank["prompt_ids"]) == metrics["bank"]


def test_examples_give_each_group_its_own_preferred_answer(spica_run, researcher):
    client = client_for(researcher)
    url = f"/api/studies/{spica_run.study.slug}/examples/"
    for_d = client.post(url, {"query": "Question number 3 about values?", "group": {"party": "D"}}, format="json")
    for_r = client.post(url, {"query": "Question number 3 about values?", "group": "party=R"}, format="json")
    assert for_d.status_code == 200 and for_r.status_code == 200
    d, r = for_d.json(), for_r.json()
    assert len(d["examples"]) == 3 and d["run"] == spica_run.pk
    # D preferred the first candidate text of every prompt, R the last.
    assert all(e["preferred"].startswith(fit_data.TEXTS[0]) for e in d["examples"])
    assert all(e["preferred"].startswith(fit_data.TEXTS[3]) for e in r["examples"])
    assert all(e["dispreferred"].startswith(fit_data.TEXTS[3]) for e in d["examples"])
    assert set(d["examples"][0]["metrics"]) == {"consensus", "intensity", "distinctiveness", "support"}
    assert "Preferred answer: " + d["examples"][0]["preferred"] in d["prompt_block"]
    scores = [e["score"] for e in d["examples"]]
    assert scores == sorted(scores, reverse=True)


def test_examples_refuse_an_unknown_group_and_need_a_refit(spica_run, researcher, admin_user):
    client = client_for(researcher)
    bad = client.post(f"/api/studies/{spica_run.study.slug}/examples/", {"query": "x", "group": "party=Z"},
                      format="json")
    assert bad.status_code == 400 and bad.json()["field"] == "group"
    other = disagreeing_study(slug="fresh", prompts=2, annotators=2)
    missing = client.post(f"/api/studies/{other.slug}/examples/", {"query": "x", "group": "party=D"}, format="json")
    assert missing.status_code == 404


def test_spica_parameters_are_checked(db):
    study = disagreeing_study(slug="p", prompts=2, annotators=2)
    with pytest.raises(InputError) as error:
        fit_run_launch(study=study, kind="spica", params={"m": 0}, user=None)
    assert error.value.field == "params.m"


def test_a_spica_refit_on_too_little_data_fails_with_the_reason(db):
    study = disagreeing_study(slug="small", prompts=3, annotators=4)
    run = fit_run_execute(run_id=fit_run_launch(study=study, kind="spica", params={}, user=None).pk)
    assert run.status == "failed" and "at least 10 judged scenarios" in run.error


def test_the_spica_dashboard_shows_evaluation_norms_and_distributions(client, spica_run, researcher, annotator_d):
    client.force_login(researcher)
    url = f"/studies/{spica_run.study.slug}/dashboards/spica/"
    page = client.get(url)
    assert page.status_code == 200 and "illustrate each group" in page.content.decode()
    data = client.get(url + "?download=json").json()
    assert {row["group"] for row in data["tables"]["evaluation"]} == {"party=D", "party=R"}
    norms_d = [row for row in data["tables"]["norms"] if row["group"] == "party=D"]
    assert norms_d and all(row["preferred"].startswith(fit_data.TEXTS[0]) for row in norms_d)
    assert len(data["tables"]["distributions"]) == 2 * 4
    client.force_login(annotator_d.user)
    assert client.get(url).status_code == 403


def test_admins_launch_a_spica_refit_from_the_models_page(client, admin_user):
    from alignment.models import FitRun

    study = disagreeing_study(slug="page", prompts=2, annotators=2)
    client.force_login(admin_user)
    assert "Launch SPICA refit" in client.get(f"/studies/{study.slug}/models/").content.decode()
    response = client.post(f"/studies/{study.slug}/models/launch/", {"kind": "spica", "m": "4", "tau": "1.5"})
    run = FitRun.objects.get()
    assert response.status_code == 302 and (run.kind, run.params) == ("spica", {"m": 4, "tau": 1.5, "seed": 0})
    bad = client.post(f"/studies/{study.slug}/models/launch/", {"kind": "spica", "m": "0"})
    assert bad.status_code == 400 and "between 1 and 50" in bad.content.decode()


def test_the_refit_command_queues_a_spica_run_and_refuses_pal_options_for_it(db):
    import io

    from django.core.management import call_command
    from django.core.management.base import CommandError

    from alignment.models import FitRun

    study = disagreeing_study(slug="cli", prompts=2, annotators=2)
    with pytest.raises(CommandError, match="takes no k"):
        call_command("refit", study.slug, "--kind", "spica", "--k", "3")
    out = io.StringIO()
    call_command("refit", study.slug, "--kind", "spica", "--m", "4", stdout=out)
    assert FitRun.objects.get().params == {"m": 4, "tau": 2.0, "seed": 0} and "queued" in out.getvalue()
