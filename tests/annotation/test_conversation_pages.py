"""The conversation study's annotator page, through Django's test client (the browser test drives it in Chromium)."""

import pytest

from alignment.turn_generation import turn_generation_execute
from annotation.models import Candidate, SetJudgment, TurnGeneration
from tests.chat_server import Reply
from tests.factories import client_for, make_participant, make_study

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def page_client(django_user_model, settings, chat_server):
    settings.NC_GENERATION_URL, settings.NC_GENERATION_MODEL = chat_server.url, "page-model"
    settings.NC_GENERATION_TIMEOUT = 5
    study = make_study(slug="talk", prompts=0, task="conversation", max_turns=2, quota=2, language="fr")
    return client_for(make_participant(study, django_user_model.objects.create_user("pager")).user)


def run_pending() -> None:
    for pk in TurnGeneration.objects.filter(status="queued").values_list("pk", flat=True):
        turn_generation_execute(generation_id=pk)


def test_annotate_sends_a_conversation_study_to_its_page_which_asks_for_a_first_prompt(page_client):
    response = page_client.get("/s/talk/annotate/")
    assert response.status_code == 302 and response["Location"] == "/s/talk/conversation/"
    page = page_client.get("/s/talk/conversation/").content.decode()
    assert 'id="prompt"' in page and "Commencer la conversation" in page  # the study speaks French


def test_the_page_polls_while_generating_offers_a_retry_and_then_the_set(page_client, chat_server):
    chat_server.answers = [Reply(status=503)]
    started = page_client.post("/s/talk/conversation/act/", {"action": "start", "prompt": "Bonjour ?",
                                                              "client_id": "c1"}, **HX)
    assert started.status_code == 200 and 'hx-trigger="every 1s"' in started.content.decode()
    run_pending()
    failed = page_client.get("/s/talk/conversation/?partial=1", **HX).content.decode()
    assert 'id="retry"' in failed and 'id="generation-failed"' in failed
    page_client.post("/s/talk/conversation/act/", {"action": "retry"}, **HX)
    run_pending()
    judge = page_client.get("/s/talk/conversation/?partial=1", **HX).content.decode()
    assert judge.count('name="best"') == 4 and "Bonjour ?" in judge and 'class="set-widget"' in judge


def test_two_turns_by_form_reach_the_quota_and_the_completion_page(page_client):
    page_client.post("/s/talk/conversation/act/", {"action": "start", "prompt": "Premier ?", "client_id": "c1"})
    for turn in (1, 2):
        run_pending()
        generation = TurnGeneration.objects.get(turn=turn)
        ids = [Candidate.objects.get(pk=pk).external_id for pk in generation.shown]
        answer = page_client.post("/s/talk/conversation/act/", {  # the set widget's fields
            "action": "judge", "turn": str(turn), "best": ids[3], "place": [f"2:{ids[0]}", f"2:{ids[1]}", ""],
            "explanation": "clair", "client_id": f"j{turn}", "time_taken_ms": "1234"}, **HX)
        if turn == 1:
            assert answer.status_code == 200 and 'id="send"' in answer.content.decode()
            page_client.post("/s/talk/conversation/act/", {"action": "next", "prompt": "Et ensuite ?"}, **HX)
    assert answer.status_code == 204 and answer["HX-Redirect"] == "/s/talk/done/"
    judgments = list(SetJudgment.objects.order_by("turn"))
    assert [(j.turn, j.explanation) for j in judgments] == [(1, "clair"), (2, "clair")]
    assert all(len(j.ranking) == 1 and len(j.ranking[0]) == 2 for j in judgments)  # the two at place 2 tie
    assert all(j.time_taken_ms == 1234 for j in judgments)
    assert "CODE-1" in page_client.get("/s/talk/done/").content.decode()


def test_a_refused_step_keeps_what_was_typed_and_says_why(page_client):
    answer = page_client.post("/s/talk/conversation/act/", {"action": "start", "prompt": "x\x00y"}, **HX)
    page = answer.content.decode()
    assert answer.status_code == 200 and 'class="notice"' in page and not TurnGeneration.objects.exists()
    bogus = page_client.post("/s/talk/conversation/act/", {"action": "bogus"}, **HX)
    assert bogus.status_code == 200 and 'class="notice"' in bogus.content.decode()
