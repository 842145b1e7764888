"""The SPICA refit says what it measured: baselines and verdicts, n, retrieved similarity, demonstrations
only from what a group judged, None (not 0) without test data; refits and pages by one attribute."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from alignment.fits import fit_run_execute, fit_run_launch
from alignment.spica import split_scenarios
from alignment.spica_refit import spica_headline
from annotation.judgment_files import judgments_import
from tests.factories import client_for, jsonl_bytes, make_study

pytestmark = pytest.mark.django_db

PROMPTS = 12
ATTRIBUTES = {"party": ["D", "R"], "age": ["young", "old"]}
TEST_PROMPTS = set(split_scenarios(PROMPTS, seed=0).test.tolist())  # rows follow prompt order
# R never judges the test prompts, nor one bank prompt (where it has no evidence at all).
R_SKIPS = TEST_PROMPTS | {min(set(range(PROMPTS)) - TEST_PROMPTS)}


def honest_study(slug: str = "honest"):
    """Party D (4 members) judges every pair of every prompt, preferring earlier candidates. Party R
    (4 members) prefers later ones but judges only candidates 0 and 1, never on a test prompt nor on one
    bank prompt; so the population's favourite loser, candidate 3, is one R never judged."""
    study = make_study(slug=slug, prompts=PROMPTS, candidates=4, strategy="all", group_attributes=ATTRIBUTES)
    lines = []
    for n in range(8):
        party, age = "DR"[n % 2], ("young", "old")[n // 2 % 2]
        for p in range(PROMPTS):
            pairs = [(i, j) for i in range(4) for j in range(i + 1, 4)] if party == "D" else [(0, 1)]
            if party == "R" and p in R_SKIPS:
                continue
            lines += [{"annotator_id": f"a{n}", "attributes": {"party": party, "age": age}, "prompt_id": f"p{p}",
                       "a": f"p{p}c{i}", "b": f"p{p}c{j}", "choice": "A" if party == "D" else "B"} for i, j in pairs]
    judgments_import(study=study, stream=jsonl_bytes(lines))
    return study


def _refit(study, **params):
    run = fit_run_execute(run_id=fit_run_launch(study=study, kind="spica", params=params, user=None).pk)
    assert run.status == "succeeded", run.error
    return run


@pytest.fixture
def party_run(db):
    return _refit(honest_study(), m=3, attribute="party")


def test_a_refit_by_attribute_has_that_attributes_groups(party_run):
    assert party_run.params == {"m": 3, "tau": 2.0, "seed": 0, "attribute": "party"}
    metrics = party_run.metrics
    assert metrics["group_names"] == ["party=D", "party=R"] and metrics["attribute"] == "party"


def test_a_group_without_test_judgments_gets_no_accuracy_and_says_so(party_run):
    metrics = party_run.metrics
    assert metrics["n_judgments"]["party=R"] == 0
    assert metrics["accuracy"]["party=R"] is None and metrics["gain"]["party=R"] is None
    assert metrics["accuracy_constant"]["party=R"] is None
    assert metrics["verdict"]["party=R"] == "no_test_data"
    assert metrics["n_judgments"]["party=D"] > 0 and metrics["accuracy"]["party=D"] is not None


def test_the_refit_reports_constant_baselines_verdicts_and_retrieved_similarity(party_run):
    metrics = party_run.metrics
    d = "party=D"
    assert metrics["verdict_on"][d] == "accuracy"
    assert metrics["verdict"][d] in {"beats_both", "not_better_than_similarity", "not_better_than_constant",
                                     "not_better_than_either"}
    assert 0 <= metrics["accuracy_constant"][d] <= 1
    # D always prefers the earlier candidate: its majority vote over the bank predicts that everywhere.
    assert metrics["accuracy_constant"][d] == 1.0
    assert metrics["verdict"][d] != "beats_both"  # SPICA cannot beat a perfect constant predictor
    assert 0 < metrics["retrieved_similarity"][d] <= metrics["retrieved_similarity_baseline"][d] + 1e-6
    assert metrics["pool"] == 9


def test_demonstrations_come_from_what_the_group_judged(party_run, researcher):
    evidence = party_run.metrics["evidence"]
    assert evidence["party=D"]["with_evidence"] == evidence["party=D"]["cells"]
    client = client_for(researcher)
    url = f"/api/studies/{party_run.study.slug}/examples/"
    answer = client.post(url, {"query": "Question number 3 about values?", "group": {"party": "R"}}, format="json")
    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["group"] == "party=R" and body["attribute"] == "party"
    assert body["verdict"] == "no_test_data" and "No held-out" in body["verdict_text"]
    assert 0 < body["retrieved_similarity"] <= body["similarity_only_similarity"] + 1e-6 and body["pool"] == 9
    for example in body["examples"]:
        if example["evidence"]:
            # R judged only candidate 1 over candidate 0: never a candidate it did not judge.
            assert example["preferred"].startswith("Answer 1") and example["dispreferred"].startswith("Answer 0")
            assert example["support"] == 4
        else:
            assert example["preferred"] is None and example["dispreferred"] is None
            assert example["support"] == 0 and example["prompt_id"] in {f"p{p}" for p in R_SKIPS - TEST_PROMPTS}
    assert any(example["evidence"] for example in body["examples"])


def test_a_no_evidence_example_is_left_out_of_the_prompt_block(party_run, researcher):
    client = client_for(researcher)
    body = client.post(f"/api/studies/{party_run.study.slug}/examples/",
                       {"query": "x", "group": "party=R", "m": 12}, format="json").json()
    assert any(not e["evidence"] for e in body["examples"])
    assert body["prompt_block"].count("### Example") == sum(e["evidence"] for e in body["examples"])


def test_the_dashboard_by_attribute_shows_that_refit_with_verdicts_and_n(client, party_run, researcher):
    _refit(party_run.study, m=3)  # a full-group refit becomes the current one
    client.force_login(researcher)
    url = f"/studies/{party_run.study.slug}/dashboards/spica/"
    by_party = client.get(url + "?attribute=party&download=json").json()
    assert by_party["summary"]["run"] == party_run.pk and by_party["groups"] == ["party=D", "party=R"]
    rows = {row["group"]: row for row in by_party["tables"]["evaluation"]}
    assert rows["party=R"]["spica"] is None and rows["party=R"]["n_judgments"] == 0
    assert rows["party=R"]["verdict"] == "no_test_data" and rows["party=D"]["constant"] == 1.0
    assert rows["party=D"]["retrieved_similarity"] is not None
    evidence = {row["group"]: row for row in by_party["tables"]["evidence"]}
    assert evidence["party=D"]["share"] == 1.0 and evidence["party=R"]["share"] < 1
    page = client.get(url + "?attribute=party").content.decode()
    assert "not the one serving" in page and "No held-out judgments or ratings of this group" in page
    full = client.get(url + "?download=json").json()
    assert len(full["groups"]) == 4 and full["summary"]["run"] != party_run.pk
    assert "No SPICA refit on groups by age" in client.get(url + "?attribute=age").content.decode()


def test_the_command_prints_spicas_own_headline_figures(party_run):
    lines = spica_headline(party_run.metrics)
    assert lines[0].startswith("SPICA by attribute party: 2 groups")
    d = next(line for line in lines if line.strip().startswith("party=D"))
    assert "constant 1.000" in d and "n=" in d and "retrieved similarity" in d and "similarity-only" in d
    r = next(line for line in lines if line.strip().startswith("party=R"))
    assert "accuracy - " in r and "n=0" in r and "No held-out" in r
    assert not any("seen accuracy" in line for line in lines)


def test_an_attribute_the_study_lacks_is_refused_with_the_ones_it_has(db):
    study = honest_study(slug="attr")
    with pytest.raises(CommandError, match="'country' is not a group attribute.*age, party"):
        call_command("refit", study.slug, "--kind", "spica", "--attribute", "country", stdout=io.StringIO())
    run = fit_run_execute(run_id=fit_run_launch(study=study, kind="spica", params={"attribute": "country"},
                                                user=None).pk)
    assert run.status == "failed" and "'country' is not a group attribute" in run.error
