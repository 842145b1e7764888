"""NC generation against a local server that speaks the OpenAI chat-completions protocol."""

import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from alignment.candidate_generation import NC_GENERATED, candidates_generate
from alignment.nc_generation import Endpoint, GenerationError, parse_responses
from annotation.models import Candidate, Pair
from tests.factories import make_study

FOUR = ["Protect your family first.", "Trust the community to help.", "Follow the evidence on risk.",
        "Respect individual freedom to choose."]


@pytest.mark.parametrize("content", [
    json.dumps({"responses": FOUR}),
    "Sure! Here they are:\n```json\n" + json.dumps(FOUR) + "\n```",
    "\n".join(f"{i + 1}. {text}" for i, text in enumerate(FOUR)),
])
def test_responses_are_parsed_from_json_fences_or_numbered_lists(content):
    assert parse_responses(content, 4) == FOUR


@pytest.mark.parametrize(("content", "reason"), [
    ("I cannot help with that.", "neither JSON"),
    (json.dumps({"responses": FOUR[:3]}), "asked for 4"),
    (json.dumps({"responses": [*FOUR[:3], FOUR[0]]}), "repeats"),
    (json.dumps({"responses": [*FOUR[:3], ""]}), "empty"),
])
def test_a_malformed_answer_is_an_error_never_a_partial_result(content, reason):
    with pytest.raises(GenerationError, match=reason):
        parse_responses(content, 4)


@pytest.mark.django_db
def test_generated_candidates_are_stored_with_their_strategy_and_paired(chat_server):
    study = make_study(prompts=2, candidates=2, strategy="nc", pairs_per_prompt=3)
    chat_server.answers = [json.dumps({"responses": FOUR}), json.dumps({"responses": [f"x{i}" for i in range(4)]})]
    endpoint = Endpoint(url=chat_server.url, model="local-model", api_key="sk-test")
    report = candidates_generate(study=study, endpoint=endpoint, n=4)
    assert (report.prompts, report.candidates, report.failures) == (2, 8, [])
    stored = Candidate.objects.filter(prompt__external_id="p0", strategy=NC_GENERATED).order_by("id")
    assert [c.text for c in stored] == FOUR and {c.source for c in stored} == {"local-model"}
    assert [c.external_id for c in stored] == ["p0-nc0", "p0-nc1", "p0-nc2", "p0-nc3"]
    request = chat_server.requests[0]
    assert request["auth"] == "Bearer sk-test" and request["body"]["model"] == "local-model"
    assert "represent diverse values" in request["body"]["messages"][-1]["content"]
    assert "Question number 0" in request["body"]["messages"][-1]["content"]
    assert report.pairs == Pair.objects.filter(prompt__study=study).count() - 2  # new pairs beside the imported ones


@pytest.mark.django_db
def test_a_malformed_answer_is_reported_and_stores_nothing_for_its_prompt(chat_server):
    study = make_study(prompts=2, candidates=2)
    chat_server.answers = ["Here are some ideas, but not in the format.", json.dumps({"responses": FOUR})]
    report = candidates_generate(study=study, endpoint=Endpoint(url=chat_server.url, model="m"), n=4)
    assert [prompt_id for prompt_id, _ in report.failures] == ["p0"]
    assert not Candidate.objects.filter(prompt__external_id="p0", strategy=NC_GENERATED).exists()
    assert Candidate.objects.filter(prompt__external_id="p1", strategy=NC_GENERATED).count() == 4


@pytest.mark.django_db
def test_the_command_needs_a_configured_endpoint_and_reports_failures(chat_server, settings):
    make_study(prompts=1, candidates=2)
    settings.NC_GENERATION_URL = ""
    with pytest.raises(CommandError, match="NC_GENERATION_URL"):
        call_command("generate_candidates", "s1")
    settings.NC_GENERATION_URL, settings.NC_GENERATION_MODEL = chat_server.url, "m"
    chat_server.answers = ["no"]
    with pytest.raises(CommandError, match="1 prompts failed"):
        call_command("generate_candidates", "s1")
    chat_server.answers = [json.dumps({"responses": FOUR})]
    call_command("generate_candidates", "s1")
    assert Candidate.objects.filter(strategy=NC_GENERATED).count() == 4
