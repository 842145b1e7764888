"""The tie rule (Study.ties, issue 11) on what researchers read: rates computed by hand with ties half and
with ties left out, the leaderboard, fit counts, the PAL and SPICA datasets, and the pages that say so."""

import pytest
from django.urls import reverse

from alignment.dashboards.group_divergence import divergence_report
from alignment.dashboards.reports import ALL_GROUPS, leaderboard_report
from alignment.dashboards.snapshots import report_snapshot
from alignment.fit_requirements import fit_requirements
from alignment.pal.data import TIE
from alignment.pal_dataset import pal_data_for_study
from alignment.spica_refit import spica_data_for_study
from annotation.counted_judgments import study_ties_set
from annotation.judgment_files import judgments_import
from annotation.models import Study
from annotation.study_files import study_import
from tests.factories import client_for, jsonl_bytes, study_lines

pytestmark = pytest.mark.django_db

# Pair p0c0-p0c1: group D answers A A A B tie tie, group R answers A B B tie (each by its own annotator).
ANSWERS = {"D": ["A", "A", "A", "B", "tie", "tie"], "R": ["A", "B", "B", "tie"]}


@pytest.fixture
def tied(db):
    lines = study_lines(slug="tied", prompts=1, candidates=3)
    for c, candidate in enumerate(lines[1]["candidates"]):
        candidate["source"] = f"model-{c}"  # one competitor per candidate, for the leaderboard
    study = study_import(jsonl_bytes(lines), source="tied.jsonl").study
    judgments_import(study=study, stream=jsonl_bytes([
        {"annotator_id": f"{party}{i}", "attributes": {"party": party}, "prompt_id": "p0", "a": "p0c0",
         "b": "p0c1", "choice": choice}
        for party, choices in ANSWERS.items() for i, choice in enumerate(choices)
    ]))
    return study


def rates(study: Study) -> dict[str, float]:
    rows = divergence_report(study=study).details["group_rates"]()
    return {row["group"]: row["rate_a"] for row in rows}


def test_with_ties_half_each_groups_rate_counts_a_tie_as_half_a_vote(tied):
    assert rates(tied) == {"party=D": round((3 + 1) / 6, 4), "party=R": round((1 + 0.5) / 4, 4)}


def test_with_ties_dropped_each_groups_rate_is_over_its_decided_judgments_only(tied):
    study_ties_set(study=tied, ties="drop")
    assert rates(tied) == {"party=D": round(3 / 4, 4), "party=R": round(1 / 3, 4)}
    assert divergence_report(study=tied).summary["preference_judgments"] == 7


def test_leaderboard_win_rates_follow_the_tie_rule(tied):
    def win_rate(study: Study) -> float:
        scores = leaderboard_report(study=study, draws=20).table("scores")
        return next(row["win_rate"] for row in scores if (row["group"], row["competitor"]) == (ALL_GROUPS, "model-0"))

    assert win_rate(tied) == round((4 + 0.5 * 3) / 10, 4)
    study_ties_set(study=tied, ties="drop")
    assert win_rate(tied) == round(4 / 7, 4)


def test_fit_counts_leave_dropped_ties_out(tied):
    assert fit_requirements(study=tied)["pal"].has == "10 from 10"
    study_ties_set(study=tied, ties="drop")
    requirement = fit_requirements(study=tied)["pal"]
    assert requirement.has == "7 from 7" and "A/B judgments" in requirement.needs


def test_refit_datasets_have_no_tie_when_the_study_drops_them(tied):
    pal = pal_data_for_study(study=tied).data.judgments.label
    spica = spica_data_for_study(study=tied)[0].judgments.label
    assert (pal == TIE).sum() == (spica == TIE).sum() == 3
    study_ties_set(study=tied, ties="drop")
    pal = pal_data_for_study(study=tied).data.judgments.label
    spica = spica_data_for_study(study=tied)[0].judgments.label
    assert len(pal) == len(spica) == 7 and not (pal == TIE).any() and not (spica == TIE).any()


def test_a_dashboard_snapshot_made_under_the_old_rule_is_not_served_after_a_change(tied, settings):
    settings.DASHBOARD_MAX_AGE_SECONDS = 600

    def snapshot_judgments() -> int:
        report = report_snapshot(study=tied, key="divergence", build=lambda: divergence_report(study=tied))
        return report.summary["preference_judgments"]

    assert snapshot_judgments() == 10
    study_ties_set(study=tied, ties="drop")
    assert snapshot_judgments() == 7


@pytest.mark.parametrize("page", ["divergence", "leaderboard", "progress", "pal", "spica"])
def test_every_dashboard_states_the_tie_rule(tied, researcher, page):
    client = client_for(researcher)
    url = reverse(f"dashboards:{page}", args=[tied.slug])
    assert "ties count half" in client.get(url).content.decode()
    study_ties_set(study=tied, ties="drop")
    assert "ties left out (3)" in client.get(url).content.decode()
    assert client.get(url + "?download=json").json()["tie_rule"] == "ties left out (3)"
