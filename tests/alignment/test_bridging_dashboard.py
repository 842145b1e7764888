"""The bridging dashboard and API through HTTP, on judgments imported into the database."""

import csv
import io
import math

import pytest
from django.urls import reverse

from annotation.annotator_review import annotator_set_excluded
from annotation.judgment_files import judgments_import
from annotation.models import Participant
from annotation.study_files import study_import
from tests.factories import jsonl_bytes, study_lines

pytestmark = pytest.mark.django_db

# Known truth: on prompt p0, c0 is the majority's (party D) favourite and the minority (party R, a
# quarter of the judges) dislikes it; c1 is liked by both; c2 and c3 are middling. Utilities per party.
UTILITY = {"D": [2.0, 1.0, 0.0, 0.0], "R": [-1.0, 1.0, 0.0, 0.0]}
JUDGES = {"D": 36, "R": 12}


def known_truth_lines() -> list[dict]:
    """Each judge judges every pair of p0 once; of n judges of a party, round(n * P(a beats b)) choose a
    (Bradley-Terry on the party's utilities): the expected counts, no sampling noise."""
    lines = []
    for party, n in JUDGES.items():
        utility = UTILITY[party]
        for a in range(4):
            for b in range(a + 1, 4):
                chose_a = round(n / (1 + math.exp(utility[b] - utility[a])))
                lines += [{"annotator_id": f"{party}{i}", "attributes": {"party": party, "country": "FR"},
                           "prompt_id": "p0", "a": f"p0c{a}", "b": f"p0c{b}", "choice": "A" if i < chose_a else "B"}
                          for i in range(n)]
    return lines


@pytest.fixture
def truth_study(db):
    lines = study_lines(slug="bridge", prompts=1, candidates=4,
                        group_attributes={"party": ["D", "R"], "country": ["FR", "US"]})
    study = study_import(jsonl_bytes(lines), source="bridge.jsonl").study
    judgments_import(study=study, stream=jsonl_bytes(known_truth_lines()))
    return study


@pytest.fixture
def researcher_client(client, researcher):
    client.force_login(researcher)
    return client


def page(study, **params):
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return reverse("dashboards:bridging", args=[study.slug]) + (f"?{query}" if query else "")


def api(study, **params):
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return reverse("alignment-api:api-bridging", args=[study.slug]) + (f"?{query}" if query else "")


def test_bridging_ranks_the_candidate_every_group_likes_first_and_win_rate_the_majoritys_favourite(
        researcher_client, truth_study):
    data = researcher_client.get(page(truth_study, download="json")).json()
    [prompt] = data["tables"]["prompts"]
    assert (prompt["top_bridging"], prompt["top_overall"], prompt["differ"]) == ("p0c1", "p0c0", True)
    assert prompt["overall_top_rejected_by"] == ["country=FR|party=R"]
    assert data["tables"]["top_bridging"][0]["candidate"] == "p0c1"
    assert data["tables"]["top_overall"][0]["candidate"] == "p0c0"
    [differing] = data["tables"]["differing_prompts"]
    assert differing["bridge"]["mark"] == "accepted by every group"
    # The favourite's score is the minority's view of it: well below one half, and below the bridge's.
    assert differing["favourite"]["bridging_high"] < 0.5 < differing["bridge"]["bridging"]
    assert differing["favourite"]["mark"] == "majority's favourite, rejected by a group"
    # n per group: each of the candidate's 3 pairs judged by every judge of the group.
    assert [cell["n"] for cell in differing["bridge"]["groups"]] == [108, 36]


def test_the_page_shows_both_texts_side_by_side_with_marks_intervals_and_n(researcher_client, truth_study):
    html = researcher_client.get(page(truth_study)).content.decode()
    assert "Answer 1 to question 0" in html and "Answer 0 to question 0" in html
    assert "accepted by every group" in html and "rejected by a group: country=FR|party=R" in html
    assert "n=36" in html and 'id="figure-group-win-data"' in html
    assert 'id="nothing-to-show"' not in html


def test_texts_are_escaped_on_the_page(researcher_client, db):
    lines = study_lines(slug="xss", prompts=1, candidates=2)
    lines[1]["candidates"][0]["text"] = "<script>alert(1)</script> bold"
    study = study_import(jsonl_bytes(lines), source="xss.jsonl").study
    judgments_import(study=study, stream=jsonl_bytes([
        {"annotator_id": f"{party}{i}", "attributes": {"party": party}, "prompt_id": "p0", "a": "p0c0", "b": "p0c1",
         "choice": "A" if party == "D" else "B"} for party in "DR" for i in range(3)]))
    html = researcher_client.get(page(study)).content.decode()
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_judgments_of_excluded_annotators_do_not_count(researcher_client, truth_study, admin_user):
    for participant in Participant.objects.filter(study=truth_study, external_id__startswith="R"):
        annotator_set_excluded(participant=participant, excluded=True, by=admin_user)
    data = researcher_client.get(page(truth_study, download="json")).json()
    # Only the majority is left: what it prefers is what every group (of one) prefers.
    [prompt] = data["tables"]["prompts"]
    assert (prompt["top_bridging"], prompt["top_overall"], prompt["differ"]) == ("p0c0", "p0c0", False)
    assert data["groups"] == ["country=FR|party=D"]


def test_slicing_by_one_attribute_uses_its_values_as_groups(researcher_client, truth_study):
    data = researcher_client.get(page(truth_study, download="json", attribute="party")).json()
    assert data["groups"] == ["party=D", "party=R"]
    assert data["tables"]["prompts"][0]["top_bridging"] == "p0c1"
    # Every judge is from FR: by country there is one group, and the majority's favourite wins.
    by_country = researcher_client.get(page(truth_study, download="json", attribute="country")).json()
    assert by_country["tables"]["prompts"][0]["top_bridging"] == "p0c0"


def test_the_csv_download_holds_one_row_per_candidate_and_group(researcher_client, truth_study):
    response = researcher_client.get(page(truth_study, download="csv", table="group_win"))
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 8 and {row["group"] for row in rows} == {"country=FR|party=D", "country=FR|party=R"}
    assert {row["n"] for row in rows if row["group"].endswith("R")} == {"36"}


def test_a_study_without_judgments_has_nothing_to_show(researcher_client, study):
    html = researcher_client.get(page(study)).content.decode()
    assert 'id="nothing-to-show"' in html and 'id="no-difference"' in html


def test_the_api_gives_researchers_every_table(researcher_client, truth_study):
    response = researcher_client.get(api(truth_study, top=1))
    assert response.status_code == 200
    body = response.json()
    assert set(body["tables"]) == {"top_bridging", "top_overall", "differing_prompts", "prompts", "candidates",
                                   "group_win"}
    assert len(body["tables"]["top_bridging"]) == 1 and len(body["tables"]["candidates"]) == 4
    assert body["summary"]["prompts_differing"] == 1


@pytest.mark.parametrize(("params", "field"), [({"attribute": "age"}, "attribute"), ({"top": "0"}, "top"),
                                               ({"top": "²"}, "top"), ({"top": "9" * 5000}, "top")])
def test_the_api_refuses_bad_parameters_naming_them(researcher_client, truth_study, params, field):
    response = researcher_client.get(api(truth_study, **params))
    assert response.status_code == 400 and response.json()["field"] == field


def test_the_api_refuses_annotators_and_unknown_studies(client, researcher, truth_study, annotator_d):
    client.force_login(researcher)
    assert client.get(reverse("alignment-api:api-bridging", args=["nope"])).status_code == 404
    client.force_login(annotator_d.user)
    assert client.get(api(truth_study)).status_code == 403
