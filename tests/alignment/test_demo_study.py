"""The demo study: on first load it holds simulated judgments of both groups, NC and random pairs and
two sources, enough for every dashboard, a PAL refit and a SPICA refit."""

import pytest

from alignment.dashboards.group_divergence import divergence_report
from alignment.dashboards.reports import leaderboard_report, strategies_report
from alignment.fits import fit_run_execute, fit_run_launch
from annotation.demo import DEMO_SLUG, demo_load
from annotation.models import Candidate, Judgment, Pair, Study

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo():
    demo_load()
    return Study.objects.get(slug=DEMO_SLUG)


def test_the_demo_has_judgments_from_both_groups_on_nc_and_random_pairs_of_two_sources(demo):
    groups = set(Judgment.objects.filter(participant__study=demo).values_list("group_key", flat=True))
    assert groups == {"party=D", "party=R"}
    assert set(Pair.objects.filter(prompt__study=demo).values_list("strategy", flat=True)) == {"nc", "random"}
    assert set(Candidate.objects.filter(prompt__study=demo).values_list("source", flat=True)) == {
        "demo-writer", "demo-model"}


def test_loading_the_demo_again_adds_no_judgments(demo):
    before = Judgment.objects.count()
    demo_load()
    assert Judgment.objects.count() == before


def test_the_demo_groups_really_differ(demo):
    report = divergence_report(study=demo, attribute=None)
    assert report.summary["pairs_compared"] > 30
    # Simulated parties pull opposite ways on most stances: many pairs split the groups.
    assert report.summary["mean_abs_diff"] > 0.3


def test_the_demo_leaderboard_and_strategy_pages_have_content(demo):
    scores = leaderboard_report(study=demo, by="source").tables["scores"]
    assert {row["competitor"] for row in scores} == {"demo-writer", "demo-model"}
    assert all(row["games"] > 0 for row in scores)
    strategies = {row["strategy"]: row for row in strategies_report(study=demo).tables["strategies"]}
    assert strategies["nc"]["pairs_compared"] > 0 and strategies["random"]["pairs_compared"] > 0


def test_a_pal_refit_of_the_demo_succeeds(demo):
    run = fit_run_launch(study=demo, kind="pal", params={"k": 2, "max_epochs": 20}, user=None)
    run = fit_run_execute(run_id=run.pk)
    assert run.status == "succeeded", run.error
    assert run.metrics["seen_accuracy"] > 0.6
    assert set(run.metrics["group_mixtures"]) == {"party=D", "party=R"}


def test_a_spica_refit_of_the_demo_succeeds_and_its_page_has_no_loss_chart(demo, client, django_user_model):
    run = fit_run_execute(run_id=fit_run_launch(study=demo, kind="spica", params={}, user=None).pk)
    assert run.status == "succeeded", run.error
    assert run.metrics["scenarios"] == 12 and run.metrics["group_names"] == ["party=D", "party=R"]
    client.force_login(django_user_model.objects.get(username="researcher"))  # the demo's own researcher
    page = client.get(f"/studies/{demo.slug}/fits/{run.pk}/").content.decode()
    # SPICA has no epochs and no loss: steps, and the metrics table, but no loss curve.
    assert 'id="loss-figure"' not in page and "epochs" not in page
    assert "step 2 of 2: tuned" in page and 'id="fit-metrics"' in page
