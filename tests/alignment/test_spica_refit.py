"""The SPICA refit kind and the examples API, on a study where two groups disagree."""

import numpy as np
import pytest

from alignment.fits import fit_run_execute, fit_run_launch
from alignment.spica import METRICS
from annotation.errors import InputError
from annotation.judgment_files import judgments_import
from tests.alignment import fit_data
from tests.alignment.fit_data import disagreeing_study
from tests.factories import client_for, jsonl_bytes, make_study

pytestmark = pytest.mark.django_db


RATINGS_D = (5, 4, 2, 1)  # group D's rating of candidates 0..3 of every prompt; group R's is the reverse


def rated_study(*, slug: str, prompts: int = 12, annotators: int = 8):
    """Every annotator rates every candidate (the import derives pairwise judgments from the ratings)."""
    study = make_study(slug=slug, prompts=prompts, candidates=4, strategy="all")
    lines = [{"annotator_id": f"r{n}", "attributes": {"party": "DR"[n % 2]}, "prompt_id": f"p{p}",
              "candidate_id": f"p{p}c{i}", "rating": RATINGS_D[i] if n % 2 == 0 else RATINGS_D[3 - i]}
             for n in range(annotators) for p in range(prompts) for i in range(4)]
    judgments_import(study=study, stream=jsonl_bytes(lines))
    return study


def _refit(study, **params):
    run = fit_run_execute(run_id=fit_run_launch(study=study, kind="spica", params=params, user=None).pk)
    assert run.status == "succeeded", run.error
    return run


@pytest.fixture
def spica_run(db):
    return _refit(disagreeing_study(slug="norms", prompts=12, annotators=8), m=3)


@pytest.fixture
def rated_run(db):
    return _refit(rated_study(slug="rated"), m=3)


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


def test_support_in_the_refit_counts_members_not_their_judgments(spica_run):
    # Every prompt: 4 members per party, each judging all 6 pairs (24 judgments per party).
    with np.load(spica_run.artifact_path) as bank:
        support = np.expm1(bank["metrics"][:, :, METRICS.index("support")])
    np.testing.assert_allclose(support, 4, rtol=1e-5)


def test_a_member_who_rated_and_so_judged_a_scenario_counts_once_in_support(rated_run):
    # Ratings become derived judgments on import: 4 raters per party and prompt, 4 ratings and 6 derived
    # judgments each, are still 4 members.
    with np.load(rated_run.artifact_path) as bank:
        support = np.expm1(bank["metrics"][:, :, METRICS.index("support")])
    np.testing.assert_allclose(support, 4, rtol=1e-5)


def test_a_spica_refit_on_rated_scenarios_stores_rating_rmse_for_spica_and_similarity_only(rated_run):
    metrics = rated_run.metrics
    groups = {"party=D", "party=R"}
    assert set(metrics["rmse"]) == set(metrics["rmse_similarity"]) == set(metrics["rmse_gain"]) == groups
    for g in groups:
        assert 0 <= metrics["rmse"][g] <= 4 and 0 <= metrics["rmse_similarity"][g] <= 4
        assert metrics["rmse_gain"][g] == pytest.approx(metrics["rmse_similarity"][g] - metrics["rmse"][g])
    assert metrics["rating_scale"] == [1.0, 5.0] and metrics["sizes"]["test_ratings"] > 0


def test_a_spica_refit_without_ratings_stores_no_rmse(spica_run):
    metrics = spica_run.metrics
    assert metrics["rmse"] == {"party=D": None, "party=R": None} == metrics["rmse_similarity"]
    assert metrics["rating_scale"] is None


def test_the_spica_dashboard_shows_rmse_beside_accuracy_when_the_refit_has_it(client, rated_run, researcher):
    client.force_login(researcher)
    url = f"/studies/{rated_run.study.slug}/dashboards/spica/"
    rows = client.get(url + "?download=json").json()["tables"]["evaluation"]
    assert {row["group"]: row["rmse_spica"] for row in rows} == {
        g: round(v, 4) for g, v in rated_run.metrics["rmse"].items()}
    page = client.get(url).content.decode()
    assert "rating RMSE (test split, lower is better)" in page and "rating RMSE, SPICA" in page


def test_the_spica_dashboard_leaves_rmse_out_when_the_refit_has_no_ratings(client, spica_run, researcher):
    client.force_login(researcher)
    url = f"/studies/{spica_run.study.slug}/dashboards/spica/"
    rows = client.get(url + "?download=json").json()["tables"]["evaluation"]
    assert rows and all(row["rmse_spica"] is None for row in rows)
    page = client.get(url).content.decode()
    assert "rating RMSE" not in page and "pair accuracy, SPICA" in page
