"""The dashboards through HTTP: who may see them, and the numbers their downloads carry."""

import csv
import io

import pytest
from django.urls import reverse

from annotation.assignment import pair_next_for_annotator
from annotation.judgment_files import judgments_import
from annotation.models import Pair
from annotation.study_files import study_import
from tests.factories import jsonl_bytes, make_study, study_lines

pytestmark = pytest.mark.django_db

DASHBOARDS = ["divergence", "leaderboard", "strategies", "progress", "bridging"]


def url(study, name, **params):
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return reverse(f"dashboards:{name}", args=[study.slug]) + (f"?{query}" if query else "")


def judgment(annotator, party, a, b, choice, prompt="p0", **attributes):
    return {"annotator_id": annotator, "attributes": {"party": party, **attributes}, "prompt_id": prompt,
            "a": a, "b": b, "choice": choice}


def judge(study, lines):
    judgments_import(study=study, stream=jsonl_bytes(lines))


def pair_of(study, x, y):
    """The pair of two candidates (by external id) and its own order: (pair, its a, its b)."""
    pair = Pair.objects.select_related("candidate_a", "candidate_b").get(
        prompt__study=study, candidate_a__external_id__in=[x, y], candidate_b__external_id__in=[x, y]
    )
    return pair, pair.candidate_a.external_id, pair.candidate_b.external_id


@pytest.fixture
def researcher_client(client, researcher):
    client.force_login(researcher)
    return client


def download(client, study, name, **params):
    response = client.get(url(study, name, download="json", **params))
    assert response.status_code == 200, response.content[:500]
    return response.json()


# --- access ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", DASHBOARDS)
def test_every_dashboard_page_answers_a_researcher_with_its_figures(researcher_client, sourced_study, name):
    judge(sourced_study, [judgment(f"{party}{i}", party, "p0c0", "p0c1", choice)
                          for party, choice in (("D", "A"), ("R", "B")) for i in range(2)])
    response = researcher_client.get(url(sourced_study, name))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'type="application/json"' in html and "vendor/plotly/plotly.min.js" in html
    assert "alignment/dashboards.js" in html
    assert 'id="nothing-to-show"' not in html


@pytest.mark.parametrize("name", ["divergence", "leaderboard", "progress"])
def test_a_dashboard_with_no_judgments_says_so_instead_of_drawing_empty_axes(researcher_client, study, name):
    html = researcher_client.get(url(study, name)).content.decode()
    assert 'id="nothing-to-show"' in html and "Nothing to show yet" in html
    assert 'type="application/json"' not in html  # no figure is handed to plotly.js at all


def test_only_the_figures_without_content_say_nothing_to_show(researcher_client, study):
    # Pairs exist before any judgment: their diversity is real content, the split shares are not yet.
    html = researcher_client.get(url(study, "strategies")).content.decode()
    assert 'id="figure-diversity-data"' in html and 'id="figure-split-share-empty"' in html
    assert 'id="nothing-to-show"' not in html


@pytest.mark.parametrize("name", DASHBOARDS)
def test_annotators_are_refused_every_dashboard(client, study, annotator_d, name):
    client.force_login(annotator_d.user)
    assert client.get(url(study, name)).status_code == 403
    assert client.get(url(study, name, download="json")).status_code == 403


def test_anonymous_visitors_are_sent_to_sign_in(client, study):
    response = client.get(url(study, "divergence"))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_an_unknown_study_is_not_found(researcher_client, study):
    assert researcher_client.get("/studies/nope/dashboards/divergence/").status_code == 404


@pytest.mark.parametrize("params", [{"attribute": "age"}, {"download": "xml"}, {"download": "csv", "table": "nope"}])
def test_bad_parameters_are_refused_with_400(researcher_client, study, params):
    assert researcher_client.get(url(study, "divergence", **params)).status_code == 400


def test_the_leaderboard_refuses_an_unknown_competitor_field(researcher_client, study):
    assert researcher_client.get(url(study, "leaderboard", by="colour")).status_code == 400


# --- divergence -----------------------------------------------------------------------------------


def test_a_pair_where_all_d_pick_a_and_all_r_pick_b_has_divergence_one(researcher_client, study):
    pair, a, b = pair_of(study, "p0c0", "p0c1")
    judge(study, [
        judgment("d1", "D", a, b, "A"),
        judgment("d2", "D", b, a, "B"),  # shown swapped: B on screen is the pair's a
        judgment("r1", "R", a, b, "B"),
        judgment("r2", "R", b, a, "A"),  # shown swapped: A on screen is the pair's b
    ])
    data = download(researcher_client, study, "divergence")
    [row] = data["tables"]["pairs"]
    assert (row["pair_id"], row["abs_diff"], row["js"], row["splits"]) == (pair.pk, 1.0, 1.0, True)
    rates = {r["group"]: (r["rate_a"], r["n"]) for r in data["tables"]["group_rates"]}
    assert rates == {"party=D": (1.0, 2), "party=R": (0.0, 2)}
    matrix = {(r["group_a"], r["group_b"]): r["mean_abs_diff"] for r in data["tables"]["group_matrix"]}
    assert matrix[("party=D", "party=R")] == 1.0 and matrix[("party=D", "party=D")] == 0.0
    agreement = {(r["group_a"], r["group_b"]): r["agreement"] for r in data["tables"]["agreement"]}
    assert agreement[("party=D", "party=D")] == 1.0 and agreement[("party=D", "party=R")] == 0.0
    assert data["summary"]["pairs_compared"] == 1


def test_ties_count_half_and_both_bad_is_counted_apart(researcher_client, study):
    _pair, a, b = pair_of(study, "p0c0", "p0c1")
    judge(study, [
        judgment("d1", "D", a, b, "A"), judgment("d2", "D", a, b, "tie"), judgment("d3", "D", a, b, "both_bad"),
        judgment("r1", "R", a, b, "tie"),
    ])
    rates = {r["group"]: r for r in download(researcher_client, study, "divergence")["tables"]["group_rates"]}
    assert (rates["party=D"]["rate_a"], rates["party=D"]["n"], rates["party=D"]["both_bad"]) == (0.75, 2, 1)
    assert rates["party=R"]["rate_a"] == 0.5
    assert rates["party=D"]["low"] < 0.75 < rates["party=D"]["high"]


def test_a_pair_judged_by_one_group_only_is_left_out_of_divergence(researcher_client, study):
    _pair, a, b = pair_of(study, "p0c0", "p0c1")
    judge(study, [judgment("d1", "D", a, b, "A"), judgment("d2", "D", a, b, "B")])
    data = download(researcher_client, study, "divergence")
    assert data["tables"]["pairs"] == [] and data["summary"]["pairs_judged"] == 1


def test_prompts_tags_and_strategies_are_ranked_by_mean_divergence(researcher_client, study):
    _pair, a0, b0 = pair_of(study, "p0c0", "p0c1")
    _pair, a1, b1 = pair_of(study, "p1c0", "p1c1")
    judge(study, [
        judgment("d1", "D", a0, b0, "A", prompt="p0"), judgment("r1", "R", a0, b0, "B", prompt="p0"),
        judgment("d1", "D", a1, b1, "A", prompt="p1"), judgment("r1", "R", a1, b1, "A", prompt="p1"),
    ])
    tables = download(researcher_client, study, "divergence")["tables"]
    assert [(r["prompt"], r["mean_abs_diff"]) for r in tables["prompts"]] == [("p0", 1.0), ("p1", 0.0)]
    assert tables["tags"] == [{"tag": "t", "pairs": 2, "mean_abs_diff_low": 0.0, "mean_abs_diff": 0.5,
                               "mean_js": 0.5, "split_share": 0.5}]
    assert [r["strategy"] for r in tables["strategies"]] == ["all"]
    top = tables["divisive_prompts"][0]
    assert top["prompt"] == "p0" and top["prompt_text"] == "Question number 0 about values?"
    assert {top["response_a"], top["response_b"]} == {"Answer 0 to question 0: stance 0.",
                                                      "Answer 1 to question 0: stance 7."}


def test_most_divisive_ranks_a_well_supported_gap_above_a_full_gap_on_one_judgment_per_group(
    researcher_client, study
):
    _pair, a0, b0 = pair_of(study, "p0c0", "p0c1")  # |Δp| = 1 on one judgment per group
    _pair, a1, b1 = pair_of(study, "p1c0", "p1c1")  # |Δp| = 0.9 on ten judgments per group
    lines = [judgment("d0", "D", a0, b0, "A", prompt="p0"), judgment("r0", "R", a0, b0, "B", prompt="p0")]
    lines += [judgment(f"d{n}", "D", a1, b1, "A" if n < 10 else "B", prompt="p1") for n in range(1, 11)]
    lines += [judgment(f"r{n}", "R", a1, b1, "B", prompt="p1") for n in range(1, 11)]
    judge(study, lines)
    tables = download(researcher_client, study, "divergence")["tables"]
    assert [(r["abs_diff"], r["groups"]) for r in tables["pairs"]] == [(0.9, 2), (1.0, 2)]
    assert tables["pairs"][0]["abs_diff_low"] > 0.4 and tables["pairs"][1]["abs_diff_low"] == 0.0
    assert tables["pairs"][0]["group_n"] == {"party=D": 10, "party=R": 10}
    assert [r["prompt"] for r in tables["divisive_prompts"]] == ["p1", "p0"]
    html = researcher_client.get(url(study, "divergence")).content.decode()
    assert html.index("party=D 0.9 (n=10)") < html.index("party=D 1.0 (n=1)")
    assert 'id="divisive-ranking"' in html


def test_the_divergence_page_shows_the_most_divisive_prompt_with_both_responses(researcher_client, study):
    _pair, a, b = pair_of(study, "p0c0", "p0c1")
    judge(study, [judgment("d1", "D", a, b, "A"), judgment("r1", "R", a, b, "B")])
    html = researcher_client.get(url(study, "divergence")).content.decode()
    assert "Question number 0 about values?" in html
    assert "Answer 0 to question 0: stance 0." in html and "Answer 1 to question 0: stance 7." in html


def test_slicing_by_one_attribute_merges_the_groups_that_share_its_value(researcher_client, db):
    study = make_study(slug="two-attrs", group_attributes={"party": ["D", "R"], "country": ["FR", "US"]})
    _pair, a, b = pair_of(study, "p0c0", "p0c1")
    judge(study, [
        judgment("d-fr", "D", a, b, "A", country="FR"), judgment("d-us", "D", a, b, "A", country="US"),
        judgment("r-fr", "R", a, b, "B", country="FR"), judgment("r-us", "R", a, b, "A", country="US"),
    ])
    full = download(researcher_client, study, "divergence")
    assert full["groups"] == ["country=FR|party=D", "country=FR|party=R", "country=US|party=D", "country=US|party=R"]
    by_party = download(researcher_client, study, "divergence", attribute="party")
    rates = {r["group"]: (r["rate_a"], r["n"]) for r in by_party["tables"]["group_rates"]}
    assert rates == {"party=D": (1.0, 2), "party=R": (0.5, 2)}
    by_country = download(researcher_client, study, "divergence", attribute="country")
    assert by_country["groups"] == ["country=FR", "country=US"]
    assert by_country["tables"]["pairs"][0]["abs_diff"] == 0.5


def test_the_csv_download_holds_the_table_behind_the_figure(researcher_client, study):
    _pair, a, b = pair_of(study, "p0c0", "p0c1")
    judge(study, [judgment("d1", "D", a, b, "A"), judgment("r1", "R", a, b, "B")])
    response = researcher_client.get(url(study, "divergence", download="csv", table="group_rates"))
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="s1-divergence-group_rates.csv"' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["group"], r["rate_a"], r["n"]) for r in rows] == [("party=D", "1.0", "1"), ("party=R", "0.0", "1")]


@pytest.mark.parametrize("name", DASHBOARDS)
def test_every_dashboard_offers_json_and_csv_downloads_without_nan(researcher_client, study, name):
    _pair, a, b = pair_of(study, "p0c0", "p0c1")
    _pair, c, d = pair_of(study, "p1c0", "p1c1")
    # One pair judged by both groups, one by D alone (its R rate and the pair's divergence are undefined).
    judge(study, [judgment("d1", "D", a, b, "A"), judgment("r1", "R", a, b, "both_bad"),
                  judgment("d1", "D", c, d, "tie", prompt="p1")])
    response = researcher_client.get(url(study, name, download="json"))
    assert b"NaN" not in response.content and b"Infinity" not in response.content
    data = response.json()
    assert data["dashboard"] == name and data["tables"]
    for table in data["tables"]:
        response = researcher_client.get(url(study, name, download="csv", table=table))
        assert response.status_code == 200 and response.content.decode().count("\n") >= 1


# --- leaderboard ----------------------------------------------------------------------------------


@pytest.fixture
def sourced_study(db):
    """Like the shared study, but each candidate comes from its own model: c0 from m0, c1 from m1, ..."""
    lines = study_lines(slug="sourced")
    for line in lines[1:]:
        for c, candidate in enumerate(line["candidates"]):
            candidate["source"] = f"m{c}"
    return study_import(jsonl_bytes(lines), source="sourced.jsonl").study


def test_the_leaderboard_ranks_sources_per_group_side_by_side(researcher_client, sourced_study):
    lines = []
    for p in range(3):
        for i in range(4):
            lines += [judgment(f"d{i}", "D", f"p{p}c0", f"p{p}c1", "A", prompt=f"p{p}"),  # D: m0 beats m1
                      judgment(f"r{i}", "R", f"p{p}c1", f"p{p}c0", "A", prompt=f"p{p}")]  # R: m1 beats m0
    judge(sourced_study, lines)
    data = download(researcher_client, sourced_study, "leaderboard")
    scores = {(r["group"], r["competitor"]): r for r in data["tables"]["scores"]}
    assert scores[("party=D", "m0")]["score"] > 0 > scores[("party=D", "m1")]["score"]
    assert scores[("party=R", "m1")]["score"] > 0 > scores[("party=R", "m0")]["score"]
    assert scores[("all groups", "m0")]["score"] == pytest.approx(0, abs=1e-6)
    d_m0 = scores[("party=D", "m0")]
    assert d_m0["low"] <= d_m0["score"] <= d_m0["high"] and d_m0["games"] == 12 and d_m0["win_rate"] == 1.0
    assert scores[("party=D", "m2")]["score"] is None  # m2 never played
    assert {(r["group"], r["a_won"], r["b_won"]) for r in data["tables"]["comparisons"]} == {
        ("all groups", 12, 12), ("party=D", 12, 0), ("party=R", 0, 12)}


def test_the_leaderboard_leaves_out_both_bad_and_same_source_pairs(researcher_client, study):
    # Every candidate of the shared study has source "test": nothing to rank.
    _pair, a, b = pair_of(study, "p0c0", "p0c1")
    judge(study, [judgment("d1", "D", a, b, "A")])
    data = download(researcher_client, study, "leaderboard")
    assert data["tables"]["comparisons"] == [] and data["summary"]["judgments"] == 0


def test_the_leaderboard_ranks_generation_strategies_too(researcher_client, study):
    _pair, a, b = pair_of(study, "p0c0", "p0c1")
    judge(study, [judgment("d1", "D", a, b, "A")])
    data = download(researcher_client, study, "leaderboard", by="strategy")
    assert data["summary"]["by"] == "strategy"


# --- NC vs random -------------------------------------------------------------------------------


def test_strategies_show_diversity_and_the_share_of_pairs_that_split_groups(researcher_client, study):
    pairs = list(Pair.objects.filter(prompt__study=study).order_by("id"))
    Pair.objects.filter(pk__in=[p.pk for p in pairs[:4]]).update(strategy="nc", diversity=0.8)
    Pair.objects.filter(pk__in=[p.pk for p in pairs[4:]]).update(strategy="random", diversity=0.1)
    nc, rnd = pairs[0], pairs[4]
    ids = {p.pk: (p.prompt.external_id, p.candidate_a.external_id, p.candidate_b.external_id) for p in (nc, rnd)}
    lines = []
    for pk, choice_r in ((nc.pk, "B"), (rnd.pk, "A")):
        prompt, a, b = ids[pk]
        lines += [judgment("d1", "D", a, b, "A", prompt=prompt), judgment("r1", "R", a, b, choice_r, prompt=prompt)]
    judge(study, lines)
    data = download(researcher_client, study, "strategies")
    rows = {r["strategy"]: r for r in data["tables"]["strategies"]}
    assert (rows["nc"]["pairs"], rows["nc"]["pairs_compared"], rows["nc"]["split_share"]) == (4, 1, 1.0)
    assert (rows["random"]["pairs"], rows["random"]["pairs_split"], rows["random"]["split_share"]) == (5, 0, 0.0)
    assert rows["nc"]["median_diversity"] == 0.8 and rows["random"]["mean_diversity"] == 0.1
    bins = {(r["strategy"], r["low"]): r["pairs"] for r in data["tables"]["diversity_bins"] if r["pairs"]}
    assert bins == {("nc", 0.8): 4, ("random", 0.1): 5}


# --- progress -----------------------------------------------------------------------------------------


def test_progress_counts_judgments_over_time_per_group_and_annotator_and_leases(
    researcher_client, study, annotator_d
):
    _pair, a, b = pair_of(study, "p0c0", "p0c1")
    judge(study, [
        {**judgment("d1", "D", a, b, "A"), "created_at": "2025-03-01T10:15:00Z"},
        {**judgment("d2", "D", a, b, "both_bad"), "created_at": "2025-03-01T12:00:00Z"},
        {**judgment("r1", "R", a, b, "B"), "created_at": "2025-03-01T10:45:00Z"},
    ])
    pair_next_for_annotator(participant=annotator_d)  # one active lease
    data = download(researcher_client, study, "progress")
    assert data["summary"] | {"bucket": "hour"} == {
        "bucket": "hour", "judgments": 3, "annotators": 3, "leases_active": 1, "leases_judged": 0,
        "leases_expired": 0, "overlap": 3, "pairs": 9, "pairs_started": 1, "pairs_complete": 1}
    over_time = [(r["bucket"][:13], r["group"], r["judgments"], r["cumulative"]) for r in data["tables"]["over_time"]]
    assert over_time == [("2025-03-01T10", "party=D", 1, 1), ("2025-03-01T10", "party=R", 1, 1),
                         ("2025-03-01T12", "party=D", 1, 2)]
    assert {(r["annotator"], r["group"], r["both_bad"]) for r in data["tables"]["annotators"]} == {
        ("d1", "party=D", 0), ("d2", "party=D", 1), ("r1", "party=R", 0)}
    assert data["tables"]["assignments"] == [{"group": "party=D", "status": "active", "assignments": 1}]


def test_progress_uses_daily_buckets_for_a_long_study(researcher_client, study):
    _pair, a, b = pair_of(study, "p0c0", "p0c1")
    judge(study, [{**judgment("d1", "D", a, b, "A"), "created_at": "2025-03-01T10:15:00Z"},
                  {**judgment("r1", "R", a, b, "B"), "created_at": "2025-03-09T10:45:00Z"}])
    data = download(researcher_client, study, "progress")
    assert data["summary"]["bucket"] == "day"
    assert [r["bucket"][:10] for r in data["tables"]["over_time"]] == ["2025-03-01", "2025-03-09"]


def test_progress_reports_pairs_that_reached_k_judgments(researcher_client, study):
    _pair, a, b = pair_of(study, "p0c0", "p0c1")
    _pair, c, d = pair_of(study, "p1c0", "p1c2")
    judge(study, [judgment("d1", "D", a, b, "A"), judgment("d2", "D", a, b, "both_bad"),
                  judgment("r1", "R", a, b, "B"), judgment("r1", "R", c, d, "B", prompt="p1")])
    html = researcher_client.get(url(study, "progress")).content.decode()
    # k = 3: both_bad counts toward k (the pair was judged); the second pair has 1 of 3.
    assert "1 of 9 pairs complete (k = 3 judgments reached)" in html
    assert "2 have at least one judgment" in html


def test_the_progress_time_axis_spans_more_than_one_bucket_with_readable_ticks(researcher_client, study):
    import json
    import re

    _pair, a, b = pair_of(study, "p0c0", "p0c1")
    judge(study, [{**judgment("d1", "D", a, b, "A"), "created_at": "2025-03-01T10:15:00Z"}])
    html = researcher_client.get(url(study, "progress")).content.decode()
    figure = json.loads(re.search(r'id="figure-over-time-data" type="application/json">(.*?)</script>', html,
                                  re.S).group(1))
    axis = figure["layout"]["xaxis"]
    # One hourly bucket: the axis spans the hour before and after, not a millisecond around one point.
    assert axis["range"] == ["2025-03-01T09:00:00+00:00", "2025-03-01T11:00:00+00:00"]
    assert {stop["value"] for stop in axis["tickformatstops"]} == {"%b %-d %H:%M", "%b %-d", "%b %Y"}


# --- snapshots ---------------------------------------------------------------------------------------


def test_pages_serve_a_recent_snapshot_while_downloads_compute_live(researcher_client, study, settings):
    import re

    def stamp_and_figures(html: str) -> tuple[str, str]:
        stamp = re.search(r'id="computed-at">([^<]*)<', html).group(1)
        return stamp, "".join(re.findall(r'<script id="figure-[^"]*" type="application/json">(.*?)</script>', html))

    settings.DASHBOARD_MAX_AGE_SECONDS = 600
    judge(study, [judgment("d1", "D", "p0c0", "p0c1", "A"), judgment("r1", "R", "p0c0", "p0c1", "B")])
    first = stamp_and_figures(researcher_client.get(url(study, "divergence")).content.decode())
    judge(study, [judgment("d2", "D", "p0c0", "p0c2", "A"), judgment("r2", "R", "p0c0", "p0c2", "B")])
    assert stamp_and_figures(researcher_client.get(url(study, "divergence")).content.decode()) == first
    live = download(researcher_client, study, "divergence")
    assert live["summary"]["pairs_compared"] == 2
    settings.DASHBOARD_MAX_AGE_SECONDS = 0
    fresh = stamp_and_figures(researcher_client.get(url(study, "divergence")).content.decode())
    assert fresh[1] != first[1]  # recomputed: the second pair is in the figures now


def test_the_beat_refresh_recomputes_every_default_dashboard(study):
    from alignment.dashboards.refresh import dashboards_refresh
    from alignment.models import DashboardSnapshot

    judge(study, [judgment("d1", "D", "p0c0", "p0c1", "A")])
    assert dashboards_refresh() == 5
    assert set(DashboardSnapshot.objects.values_list("key", flat=True)) == {
        "divergence", "leaderboard|by=source", "strategies", "progress", "bridging"}
