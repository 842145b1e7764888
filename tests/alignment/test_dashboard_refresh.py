"""Beat's dashboard refresh is incremental and bounded: an unchanged study is not recomputed, whatever
changes the numbers (a judgment, an exclusion, a setting) is, one refresh holds a study at a time, a slow
study is not recomputed back to back, and a capped page still leads with the top items and says so."""

import csv
import io
import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from alignment.dashboards import plots
from alignment.dashboards.catalog import BY_NAME, DASHBOARDS
from alignment.dashboards.refresh import dashboards_refresh
from alignment.dashboards.selectors import analytical_reads
from alignment.dashboards.sources import study_marker
from alignment.models import DashboardRefresh, DashboardSnapshot
from annotation.annotator_review import annotator_set_excluded
from annotation.models import Participant
from annotation.study_files import study_import
from tests.alignment.test_dashboards import download, judge, judgment, url
from tests.factories import jsonl_bytes, study_lines

# Beat's refresh recomputes the default view of every snapshotted dashboard of a study.
SNAPSHOTTED = sum(d.snapshot_params is not None for d in DASHBOARDS)

pytestmark = pytest.mark.django_db


@pytest.fixture
def reader(client, researcher):
    client.force_login(researcher)
    return client


def computed_at() -> dict[str, object]:
    return dict(DashboardSnapshot.objects.values_list("key", "computed_at"))


def test_an_unchanged_study_is_not_recomputed(study):
    judge(study, [judgment("d1", "D", "p0c0", "p0c1", "A"), judgment("r1", "R", "p0c0", "p0c1", "B")])
    assert dashboards_refresh() == SNAPSHOTTED
    before = computed_at()
    assert dashboards_refresh() == 0
    assert computed_at() == before
    assert DashboardRefresh.objects.get(study=study).checked_at is not None


def test_a_new_judgment_makes_the_refresh_recompute(study):
    judge(study, [judgment("d1", "D", "p0c0", "p0c1", "A")])
    dashboards_refresh()
    judge(study, [judgment("r1", "R", "p0c0", "p0c1", "B")])
    assert dashboards_refresh() == SNAPSHOTTED
    snapshot = DashboardSnapshot.objects.get(study=study, key="divergence")
    assert snapshot.payload["summary"]["pairs_compared"] == 1
    assert snapshot.source == study_marker(study)


def test_an_exclusion_and_its_lifting_make_the_refresh_recompute(study, admin_user):
    judge(study, [judgment("d1", "D", "p0c0", "p0c1", "A"), judgment("r1", "R", "p0c0", "p0c1", "B")])
    dashboards_refresh()
    annotator = Participant.objects.get(study=study, external_id="r1")
    annotator_set_excluded(participant=annotator, excluded=True, by=admin_user)
    assert dashboards_refresh() == SNAPSHOTTED
    assert DashboardSnapshot.objects.get(key="divergence").payload["summary"]["pairs_compared"] == 0
    assert dashboards_refresh() == 0
    annotator_set_excluded(participant=annotator, excluded=False, by=admin_user)
    assert dashboards_refresh() == SNAPSHOTTED
    assert DashboardSnapshot.objects.get(key="divergence").payload["summary"]["pairs_compared"] == 1


def test_a_settings_change_makes_the_refresh_recompute(study):
    judge(study, [judgment("d1", "D", "p0c0", "p0c1", "A")])
    dashboards_refresh()
    study.overlap = 1  # "pairs complete" on the progress page counts against it
    study.save()
    assert dashboards_refresh() == SNAPSHOTTED
    assert DashboardSnapshot.objects.get(key="progress").payload["summary"]["pairs_complete"] == 1


def test_a_study_held_by_another_refresh_is_skipped_until_its_lease_lapses(study):
    judge(study, [judgment("d1", "D", "p0c0", "p0c1", "A")])
    DashboardRefresh.objects.create(study=study, lease_until=timezone.now() + timedelta(minutes=5), lease_holder="x")
    assert dashboards_refresh() == 0 and not DashboardSnapshot.objects.exists()
    DashboardRefresh.objects.filter(study=study).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert dashboards_refresh() == SNAPSHOTTED
    assert DashboardRefresh.objects.get(study=study).lease_until is None  # released


def test_a_slow_study_is_not_recomputed_back_to_back(study, settings, reader):
    settings.DASHBOARD_REFRESH_SPACING = 5
    judge(study, [judgment("d1", "D", "p0c0", "p0c1", "A"), judgment("r1", "R", "p0c0", "p0c1", "B")])
    dashboards_refresh()
    # As if that refresh had taken 100 s: the next one waits 500 s, however much changed meanwhile.
    DashboardRefresh.objects.filter(study=study).update(last_seconds=100.0)
    DashboardSnapshot.objects.update(seconds=25.0)
    judge(study, [judgment("d2", "D", "p0c0", "p0c2", "A"), judgment("r2", "R", "p0c0", "p0c2", "B")])
    assert dashboards_refresh() == 0
    # The page does not recompute either: it serves the snapshot and says newer numbers are coming.
    html = reader.get(url(study, "divergence")).content.decode()
    assert 'id="stale"' in html
    assert DashboardSnapshot.objects.get(key="divergence").payload["summary"]["pairs_compared"] == 1
    DashboardRefresh.objects.filter(study=study).update(last_started_at=timezone.now() - timedelta(seconds=501))
    assert dashboards_refresh() == SNAPSHOTTED


def test_the_page_serves_an_unchanged_snapshot_whatever_its_age(study, settings, reader):
    settings.DASHBOARD_MAX_AGE_SECONDS = 0
    judge(study, [judgment("d1", "D", "p0c0", "p0c1", "A"), judgment("r1", "R", "p0c0", "p0c1", "B")])
    dashboards_refresh()
    DashboardSnapshot.objects.update(computed_at=timezone.now() - timedelta(hours=3))
    before = computed_at()
    assert reader.get(url(study, "divergence")).status_code == 200
    assert computed_at() == before  # nothing changed: the numbers are current, not recomputed
    judge(study, [judgment("d2", "D", "p0c0", "p0c2", "A")])
    reader.get(url(study, "divergence"))
    assert computed_at()["divergence"] > before["divergence"]


@pytest.mark.parametrize("name", ["divergence", "leaderboard", "strategies", "progress"])
def test_a_snapshot_equals_the_live_computation(study, name):
    judge(study, [judgment("d1", "D", "p0c0", "p0c1", "A"), judgment("r1", "R", "p0c0", "p0c1", "B"),
                  judgment("d2", "D", "p1c0", "p1c2", "tie", prompt="p1"),
                  judgment("r2", "R", "p1c0", "p1c2", "both_bad", prompt="p1"),
                  judgment("r3", "R", "p1c0", "p1c2", "A", prompt="p1")])
    dashboards_refresh()
    dashboard = BY_NAME[name]
    key = next(key for key in computed_at() if key.split("|")[0] == name)
    with analytical_reads():
        live = dashboard.report(study=study, attribute=None, **dashboard.snapshot_params)
    stored = DashboardSnapshot.objects.get(key=key).payload
    assert stored["tables"] == json.loads(json.dumps(live.tables, default=str))
    assert stored["summary"] == json.loads(json.dumps(live.summary, default=str))


# --- capped figures, complete downloads ---------------------------------------------------------------


@pytest.fixture
def many_sources(db):
    """One prompt whose 8 candidates each come from their own model m0..m7; m7 beats everyone, m0 loses."""
    lines = study_lines(slug="many-sources", prompts=1, candidates=8)
    for c, candidate in enumerate(lines[1]["candidates"]):
        candidate["source"] = f"m{c}"
    study = study_import(jsonl_bytes(lines), source="many.jsonl").study
    rows = []
    for i in range(8):
        for j in range(i + 1, 8):
            for party in ("D", "R"):
                rows.append(judgment(f"{party}{i}{j}", party, f"p0c{j}", f"p0c{i}", "A"))  # the higher index wins
    judge(study, rows)
    return study


def test_the_capped_leaderboard_shows_the_strongest_and_says_it_is_capped(many_sources, reader, monkeypatch):
    monkeypatch.setattr("alignment.dashboards.reports.LEADERBOARD_SHOWN", 3)

    html = reader.get(url(many_sources, "leaderboard")).content.decode()
    figure = json.loads(re.search(r'id="figure-leaderboard-data" type="application/json">(.*?)</script>', html,
                                  re.S).group(1))
    drawn = {name for trace in figure["data"] for name in trace["y"]}
    assert drawn == {"m5", "m6", "m7"}
    assert "strongest 3 of 8" in figure["layout"]["title"]["text"]
    assert 'id="capped"' in html and "3 of 8" in html
    # Downloads are complete: every competitor's score, every comparison.
    data = download(reader, many_sources, "leaderboard")
    assert {row["competitor"] for row in data["tables"]["scores"]} == {f"m{c}" for c in range(8)}
    assert len([row for row in data["tables"]["comparisons"] if row["group"] == "all groups"]) == 28
    response = reader.get(url(many_sources, "leaderboard", download="csv", table="scores"))
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert {row["competitor"] for row in rows} == {f"m{c}" for c in range(8)} and len(rows) == 3 * 8


def test_a_leaderboard_figure_given_every_competitor_draws_only_the_cap():
    rows = [{"group": "all groups", "competitor": f"m{c}", "score": float(c), "low": c - 1.0, "high": c + 1.0,
             "games": 4, "win_rate": 0.5} for c in range(50)]
    figure = plots.leaderboard_figure(rows, [], limit=10)
    assert figure["data"][0]["y"] == [f"m{c}" for c in range(40, 50)]
    assert "strongest 10 of 50" in figure["layout"]["title"]["text"]
    assert "strongest" not in plots.leaderboard_figure(rows[:5], [], limit=10)["layout"]["title"]["text"]


def test_a_leaderboard_too_large_to_resample_takes_normal_intervals_and_says_so(many_sources, monkeypatch, reader):
    # 28 pairs of sources played, pooled and in each of two groups: 84 edges; 200 draws need 16,800 edge-draws.
    bootstrapped = download(reader, many_sources, "leaderboard")
    assert bootstrapped["summary"]["intervals"] == "bootstrap" and bootstrapped["summary"]["draws"] == 200
    monkeypatch.setattr("alignment.dashboards.reports.LEADERBOARD_EDGE_DRAWS", 16_799)
    data = download(reader, many_sources, "leaderboard")
    assert data["summary"]["intervals"] == "normal" and data["summary"]["draws"] == 0
    assert data["summary"]["edges"] == 84
    # Same fit, other intervals: every score equal, every interval around it.
    before = {(row["group"], row["competitor"]): row for row in bootstrapped["tables"]["scores"]}
    for row in data["tables"]["scores"]:
        if row["games"]:
            assert row["score"] == pytest.approx(before[row["group"], row["competitor"]]["score"], abs=1e-3)
            assert row["low"] < row["score"] < row["high"]
    assert 'id="normal-intervals"' in reader.get(url(many_sources, "leaderboard")).content.decode()


def test_the_group_matrix_one_group_at_a_time_equals_the_all_at_once_formula():
    import numpy as np

    from alignment.dashboards.stats import divergence_matrix

    rng = np.random.default_rng(3)
    rates = rng.random((200, 6))
    rates[rng.random((200, 6)) < 0.4] = np.nan
    present, filled = ~np.isnan(rates), np.nan_to_num(rates)
    both = present[:, :, None] & present[:, None, :]
    expected = (np.abs(filled[:, :, None] - filled[:, None, :]) * both).sum(axis=0) / both.sum(axis=0)
    matrix, shared = divergence_matrix(rates)
    assert np.allclose(matrix, expected) and (shared == both.sum(axis=0)).all()
