"""Prompt scope (issue 13): a researcher can leave out the prompts annotators wrote, on the judgment dashboards,
in the exports and in a refit's dataset, and every door refuses a scope it does not know."""

import csv
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from alignment.fit_params import fit_params_clean
from alignment.pal_dataset import pal_data_for_study
from annotation.community_alignment import community_alignment_import
from annotation.counted_judgments import judgments_that_count, set_judgments_that_count
from annotation.errors import InputError
from annotation.models import Judgment
from tests.annotation.test_community_alignment import COUNTRIES, conversation, csv_bytes
from tests.factories import client_for, make_study

pytestmark = pytest.mark.django_db

# c1 and c3 began from a pregenerated prompt, c2 from one its annotator wrote; two turns each, best of 4.
EXPECTED = {  # scope -> (set judgments, pairwise comparisons, conversations in a CA export)
    "all": (6, 18, {"c1", "c2", "c3"}),
    "pregenerated": (4, 12, {"c1", "c3"}),
    "first-turns": (2, 6, {"c1", "c3"}),
}


@pytest.fixture
def written():
    study = make_study(slug="scoped", prompts=1, group_attributes=COUNTRIES, task="set")
    community_alignment_import(study=study, stream=csv_bytes([
        conversation("c1", "w1", country="US"), conversation("c2", "w2", country="FR", pregenerated="False"),
        conversation("c3", "w3", country="IN")]))
    return study


@pytest.mark.parametrize("scope", list(EXPECTED))
def test_the_scope_leaves_out_written_conversations_or_every_written_turn(written, scope):
    set_judgments, comparisons, _ = EXPECTED[scope]
    assert set_judgments_that_count(study=written, prompts=scope).count() == set_judgments
    assert judgments_that_count(study=written, prompts=scope).count() == comparisons
    turns = set(set_judgments_that_count(study=written, prompts=scope).values_list(
        "conversation__external_id", "turn"))
    if scope == "first-turns":
        assert turns == {("c1", 1), ("c3", 1)}
    elif scope == "pregenerated":
        assert turns == {("c1", 1), ("c1", 2), ("c3", 1), ("c3", 2)}


def test_judgments_outside_conversations_are_in_every_scope(study):
    from annotation.judgment_files import judgments_import
    from tests.factories import jsonl_bytes

    judgments_import(study=study, stream=jsonl_bytes([
        {"annotator_id": "d1", "attributes": {"party": "D"}, "prompt_id": "p0", "a": "p0c0", "b": "p0c1",
         "choice": "A"}]))
    counts = {scope: judgments_that_count(study=study, prompts=scope).count() for scope in EXPECTED}
    assert counts == {"all": 1, "pregenerated": 1, "first-turns": 1}


def test_an_unknown_scope_is_refused_by_the_selector(written):
    with pytest.raises(ValueError, match="prompts must be one of all, pregenerated, first-turns"):
        judgments_that_count(study=written, prompts="mine")


@pytest.mark.parametrize("scope", list(EXPECTED))
def test_the_progress_dashboard_counts_within_the_scope_and_says_so(written, researcher, scope):
    client = client_for(researcher)
    url = reverse("dashboards:progress", args=[written.slug])
    data = client.get(url, {"prompts": scope, "download": "json"}).json()
    assert data["prompts"] == scope
    assert data["summary"]["judgments"] == EXPECTED[scope][1]
    page = client.get(url, {"prompts": scope}).content.decode()
    assert 'name="prompts"' in page  # the select, since the study has conversations
    assert ('id="prompt-rule"' in page) == (scope != "all")
    # The divergence page's first-choice shares read set judgments through the same scope.
    divergence = client.get(reverse("dashboards:divergence", args=[written.slug]),
                            {"prompts": scope, "download": "json"}).json()
    assert divergence["prompts"] == scope


def test_a_dashboard_refuses_an_unknown_scope_and_a_pair_study_shows_no_select(written, study, researcher):
    client = client_for(researcher)
    refused = client.get(reverse("dashboards:divergence", args=[written.slug]), {"prompts": "x" * 5000})
    assert refused.status_code == 400 and b"prompts must be one of" in refused.content
    bridging = client.get(f"/api/studies/{written.slug}/bridging/", {"prompts": "first-turns"})
    assert bridging.status_code == 200 and bridging.json()["prompts"] == "first-turns"
    assert client.get(f"/api/studies/{written.slug}/bridging/", {"prompts": "mine"}).json()["field"] == "prompts"
    assert 'name="prompts"' not in client.get(reverse("dashboards:progress", args=[study.slug])).content.decode()


def _ca_conversations(text: str) -> set[str]:
    return {row["conversation_id"] for row in csv.DictReader(io.StringIO(text))}


@pytest.mark.parametrize("scope", list(EXPECTED))
def test_the_export_api_and_command_take_the_scope(written, researcher, tmp_path, scope):
    client = client_for(researcher)
    answer = client.get(f"/api/studies/{written.slug}/export/", {"format": "community-alignment", "prompts": scope})
    assert answer.status_code == 200
    assert _ca_conversations(b"".join(answer.streaming_content).decode()) == EXPECTED[scope][2]
    pairwise = client.get(f"/api/studies/{written.slug}/export/", {"format": "jsonl", "prompts": scope})
    assert len(b"".join(pairwise.streaming_content).decode().splitlines()) == EXPECTED[scope][1]
    out = tmp_path / "out.csv"
    call_command("export_judgments", written.slug, "--format", "community-alignment", "--prompts", scope,
                 "--output", str(out))
    assert _ca_conversations(out.read_text()) == EXPECTED[scope][2]


def test_the_export_doors_refuse_an_unknown_scope(written, researcher):
    answer = client_for(researcher).get(f"/api/studies/{written.slug}/export/", {"prompts": "written\x00"})
    assert answer.status_code == 400 and answer.json()["field"] == "prompts"
    with pytest.raises(CommandError):
        call_command("export_judgments", written.slug, "--prompts", "written")


def test_a_refit_reads_its_scope_and_refuses_an_unknown_one(written):
    for scope, (_, comparisons, _) in EXPECTED.items():
        data = pal_data_for_study(study=written, prompts=scope).data
        assert len(data.judgments.user) == comparisons
    assert fit_params_clean("pal", {"prompts": "first-turns"})["prompts"] == "first-turns"
    assert "prompts" not in fit_params_clean("spica", {})  # optional: absent reads as every prompt
    with pytest.raises(InputError, match="params.prompts"):
        fit_params_clean("spica", {"prompts": "mine"})
    assert Judgment.objects.filter(participant__study=written).count() == 18  # nothing was deleted


def test_the_admin_links_a_set_study_to_its_set_export_formats(written, study, admin_user):
    admin_user.is_staff = True
    admin_user.save(update_fields=["is_staff"])
    client = client_for(admin_user)
    listing = client.get("/admin/annotation/study/").content.decode()
    assert f"/api/studies/{written.slug}/export/?format=community-alignment" in listing
    assert f"/api/studies/{written.slug}/export/?format=collective-alignment&amp;part=annotators" in listing
    assert f"/api/studies/{study.slug}/export/?format=community-alignment" not in listing  # a pair study
    exported = client.get(f"/api/studies/{written.slug}/export/?format=collective-alignment&part=annotators")
    assert exported.status_code == 200 and len(b"".join(exported.streaming_content).splitlines()) == 3
