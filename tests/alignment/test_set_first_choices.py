"""Per-group first-choice shares per set on the divergence dashboard (issue 13)."""

import pytest

from alignment.dashboards.group_divergence import divergence_report
from alignment.dashboards.set_choices import SetInfo, first_choice_rows
from annotation.collective_alignment import collective_alignment_import
from tests.factories import jsonl_bytes, make_study


def test_shares_are_per_group_and_the_most_divergent_set_comes_first():
    sets = {1: SetInfo("p1", ["a", "b", "c"]), 2: SetInfo("p2", ["x", "y", "z"]), 3: SetInfo("p3", ["m", "n", "o"])}
    picks = [(1, "D", "a"), (1, "D", "a"), (1, "R", "a"), (1, "R", "b"),  # gap 0.5 on a and on b
             (2, "D", "x"), (2, "R", "y"),  # gap 1
             (3, "D", "m"), (3, "D", "n")]  # one group only: cannot diverge
    rows = first_choice_rows(sets, picks)
    assert [r["set_id"] for r in rows] == [2] * 6 + [1] * 6
    assert {(r["group"], r["candidate"]): (r["picks"], r["n"], r["share"]) for r in rows if r["set_id"] == 1} == {
        ("D", "a"): (2, 2, 1.0), ("D", "b"): (0, 2, 0.0), ("D", "c"): (0, 2, 0.0),
        ("R", "a"): (1, 2, 0.5), ("R", "b"): (1, 2, 0.5), ("R", "c"): (0, 2, 0.0)}
    assert rows[0]["set_gap"] == 1.0 and rows[-1]["set_gap"] == 0.5


@pytest.mark.django_db
def test_the_divergence_dashboard_shows_first_choice_shares_of_imported_sets():
    study = make_study(slug="fc", prompts=1, group_attributes={"country": ["US", "FR"]}, task="set")
    people = [{"annotator_id": f"u{i}", "country": "US" if i < 3 else "FR"} for i in range(6)]
    record = {"prompt_id": "q", "prompt": [{"role": "user", "content": "Should cities ban cars?"}],
              "responses": [{"response_index": x, "content": f"answer {x}"} for x in "ABCD"],
              "assessments": [{"annotator_id": f"u{i}", "ranking": "A" if i < 3 else ("B" if i < 5 else "A")}
                              for i in range(6)]}
    collective_alignment_import(study=study, stream=jsonl_bytes([record]), annotators=jsonl_bytes(people))
    report = divergence_report(study=study)
    shares = {(r["group"], r["candidate"]): r["share"] for r in report.tables["set_first_choices"]}
    assert shares[("country=US", "q:A")] == 1.0 and shares[("country=FR", "q:B")] == pytest.approx(0.6667)
    assert report.summary["sets_compared"] == 1
    # The expanded comparisons feed the pairwise divergence too: A vs B is split between the countries.
    assert report.summary["pairs_compared"] >= 3
    assert report.table("set_first_choices") == report.tables["set_first_choices"]
