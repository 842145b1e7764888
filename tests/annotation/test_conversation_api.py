"""The live-conversation REST doors: the whole flow with a token, replays, other annotators, hostile bodies.

The generation runs where a worker would run it: the test calls the task body once the request has returned
(tests/test_worker.py and tests/annotation/test_conversation_worker.py run it on a real worker)."""

import pytest
from rest_framework.test import APIClient

from alignment.turn_generation import turn_generation_execute
from annotation.models import Candidate, Conversation, Prompt, SetJudgment, TurnGeneration
from tests.chat_server import Reply
from tests.factories import make_study

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint_settings(settings, chat_server):
    settings.NC_GENERATION_URL, settings.NC_GENERATION_MODEL = chat_server.url, "local-nc-model"
    settings.NC_GENERATION_TIMEOUT = 5
    return chat_server


@pytest.fixture
def conv_study(db):
    return make_study(slug="conv", prompts=0, task="conversation", max_turns=3, quota=10)


def joined(name="a1") -> APIClient:
    api = APIClient()
    token = api.post("/api/studies/conv/join/", {"consent": True, "attributes": {"party": "D"},
                                                 "external_id": name}, format="json").json()["token"]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return api


def run_pending() -> None:
    for pk in TurnGeneration.objects.filter(status="queued").values_list("pk", flat=True):
        turn_generation_execute(generation_id=pk)


def test_an_annotator_holds_a_three_turn_conversation_through_the_api(conv_study, endpoint_settings):
    api = joined()
    assert api.get("/api/studies/conv/conversations/").json() == {"next_first_prompt": "written", "conversations": []}
    started = api.post("/api/studies/conv/conversations/", {"prompt": "Is lying ever right?", "client_id": "s1"},
                       format="json")
    assert started.status_code == 201, started.json()
    body = started.json()
    assert body["stage"] == "generating" and body["generation"]["status"] == "queued"
    assert body["first_prompt_pregenerated"] is False
    url = f"/api/conversations/{body['id']}/"
    replay = api.post("/api/studies/conv/conversations/", {"prompt": "Is lying ever right?", "client_id": "s1"},
                      format="json")
    assert replay.status_code == 200 and replay.json()["id"] == body["id"]

    for turn in (1, 2, 3):
        run_pending()
        state = api.get(url).json()
        assert state["stage"] == "judge" and state["generation"]["status"] == "done"
        responses = [r["candidate_id"] for r in state["turns"][-1]["responses"]]
        assert len(responses) == 4
        judged = api.post(f"{url}turns/{turn}/judgment/", {
            "best": responses[1], "ranking": [responses[0]], "explanation": "kinder",
            "client_id": f"j{turn}"}, format="json")
        assert judged.status_code == 201, judged.json()
        again = api.post(f"{url}turns/{turn}/judgment/", {"best": responses[1], "client_id": f"j{turn}"},
                         format="json")
        assert again.status_code == 200 and again.json()["judgment"]["replay"] is True
        assert judged.json()["progress"] == {"done": turn, "quota": 10}
        if turn < 3:
            nxt = api.post(f"{url}turns/", {"prompt": f"And then {turn + 1}?"}, format="json")
            assert nxt.status_code == 201 and nxt.json()["stage"] == "generating"
    final = api.get(url).json()
    assert final["stage"] == "ended" and final["ended"] is True and len(final["turns"]) == 3
    assert api.post(f"{url}turns/", {"prompt": "More?"}, format="json").json()["code"] == "conversation_ended"
    assert SetJudgment.objects.filter(conversation_id=body["id"]).count() == 3
    assert [len(p.turns) for p in Prompt.objects.order_by("id")] == [1, 3, 5]


def test_a_failed_generation_is_shown_and_retried(conv_study, endpoint_settings):
    api = joined()
    endpoint_settings.answers = [Reply(status=500)]
    conversation = api.post("/api/studies/conv/conversations/", {"prompt": "Fail first"}, format="json").json()
    run_pending()
    state = api.get(f"/api/conversations/{conversation['id']}/").json()
    assert state["stage"] == "failed" and "HTTP 500" in state["generation"]["error"]
    retried = api.post(f"/api/conversations/{conversation['id']}/retry/")
    assert retried.status_code == 200 and retried.json()["stage"] == "generating"
    assert api.post(f"/api/conversations/{conversation['id']}/retry/").json()["code"] == "not_failed"
    run_pending()
    state = api.get(f"/api/conversations/{conversation['id']}/").json()
    assert state["stage"] == "judge" and state["generation"]["attempts"] == 2


def test_another_annotators_conversation_is_not_found(conv_study, endpoint_settings):
    owner, other = joined("owner"), joined("other")
    conversation = owner.post("/api/studies/conv/conversations/", {"prompt": "Mine"}, format="json").json()
    run_pending()
    url = f"/api/conversations/{conversation['id']}/"
    first = owner.get(url).json()["turns"][0]["responses"][0]["candidate_id"]
    for response in (other.get(url), other.post(f"{url}retry/"),
                     other.post(f"{url}turns/", {"end": True}, format="json"),
                     other.post(f"{url}turns/1/judgment/", {"best": first, "client_id": "x"}, format="json")):
        assert response.status_code == 404 and response.json()["code"] == "unknown_conversation"
    assert APIClient().get(url).status_code == 401
    assert not SetJudgment.objects.exists() and Conversation.objects.get().ended_at is None


def test_ending_a_conversation_lets_the_next_one_start(conv_study, endpoint_settings):
    api = joined()
    first = api.post("/api/studies/conv/conversations/", {"prompt": "One"}, format="json").json()
    assert api.post("/api/studies/conv/conversations/", {"prompt": "Two"}, format="json").json()["code"] == (
        "conversation_open")
    ended = api.post(f"/api/conversations/{first['id']}/turns/", {"end": True}, format="json")
    assert ended.status_code == 200 and ended.json()["stage"] == "ended"
    assert api.post("/api/studies/conv/conversations/", {"prompt": "Two"}, format="json").status_code == 201


@pytest.mark.parametrize(("path", "body", "field"), [
    ("start", {"prompt": "a\x00b"}, "prompt"),
    ("start", {"prompt": "x" * 100_000}, "prompt"),
    ("start", {"prompt": {"deep": [[[1]]]}}, "prompt"),
    ("start", {"prompt": "ok", "client_id": "c" * 65}, "client_id"),
    ("start", [1, 2], None),
    ("judge", {"best": None, "client_id": "z"}, "best"),
    ("judge", {"best": "FIRST", "client_id": None}, "client_id"),
    ("judge", {"best": "FIRST", "client_id": "z", "ranking": "abc"}, "ranking"),
    ("judge", {"best": "FIRST", "client_id": "z", "ranking": [[[["FIRST"]]]]}, "ranking[0]"),
    ("judge", {"best": "FIRST", "client_id": "z", "time_taken_ms": 10**30}, "time_taken_ms"),
    ("next", {"end": "yes"}, "end"),
    ("next", {"prompt": 12}, "prompt"),
])
def test_hostile_bodies_get_a_400_naming_the_field(conv_study, endpoint_settings, path, body, field):
    api = joined()
    if path == "start":
        response = api.post("/api/studies/conv/conversations/", body, format="json")
    else:
        conversation = api.post("/api/studies/conv/conversations/", {"prompt": "Host"}, format="json").json()
        run_pending()
        url = f"/api/conversations/{conversation['id']}/"
        if body.get("best") == "FIRST":
            first = api.get(url).json()["turns"][0]["responses"][0]["candidate_id"]
            body = {**body, "best": first}
        response = api.post(f"{url}turns/1/judgment/" if path == "judge" else f"{url}turns/", body, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["field"] == field


def test_huge_ids_in_the_path_are_not_found_not_a_crash(conv_study):
    api = joined()
    assert api.get(f"/api/conversations/{10**30}/").status_code == 404
    assert api.post(f"/api/conversations/1/turns/{10**30}/judgment/", {"best": "x", "client_id": "y"},
                    format="json").status_code == 404


def test_a_pair_study_refuses_conversations(study, annotator_d):
    from tests.factories import client_for

    response = client_for(annotator_d.user).post("/api/studies/s1/conversations/", {"prompt": "x"}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "not_a_conversation_study"


def test_candidates_keep_the_model_as_source(conv_study, endpoint_settings):
    api = joined()
    api.post("/api/studies/conv/conversations/", {"prompt": "Source?"}, format="json")
    run_pending()
    assert set(Candidate.objects.values_list("strategy", "source")) == {("nc-generated", "local-nc-model")}


def test_a_twenty_megabyte_body_is_refused_not_crashed_on(conv_study):
    api = joined()
    response = api.post("/api/studies/conv/conversations/", {"prompt": "x" * 20_000_000}, format="json")
    assert response.status_code in (400, 413) and not Conversation.objects.exists()
