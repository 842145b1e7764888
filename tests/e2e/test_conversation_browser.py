"""A 3-turn live conversation in headless Chromium: the annotator writes the first prompt, a real worker asks the
local chat-completions server for the responses (the page polls), the annotator picks the best each turn and
writes the next turn; the database then holds the whole conversation as the analyses read it."""

import pytest

from annotation.models import Candidate, Conversation, Judgment, Prompt, SetJudgment
from tests.factories import make_study

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_an_annotator_holds_a_three_turn_conversation_in_the_browser(page, live_server, artifacts,
                                                                     generation_worker, chat_server):
    make_study(slug="chat", prompts=0, task="conversation", max_turns=3, quota=10)
    page.goto(f"{live_server.url}/s/chat/?PROLIFIC_PID=talker-1")
    page.check("#consent")
    page.click("#accept")
    page.select_option("#attr-party", "D")
    page.click("#start")
    page.wait_for_url(f"{live_server.url}/s/chat/conversation/")

    page.fill("#prompt", "Should children be allowed to choose their own bedtime?")
    page.click("#start")
    page.locator("#generating").wait_for()  # the progress while the worker asks the endpoint
    for turn in (1, 2, 3):
        page.locator(".set-widget").wait_for(timeout=120_000)
        assert page.locator(".set-card").count() == 4
        if turn == 1:
            page.screenshot(path=str(artifacts / "conversation-set.png"), full_page=True)
        if turn == 2:  # pointer: the card's Best radio and Place select
            page.locator("#set-card-3 input[name=best]").check()
            page.locator("#set-card-1 select").select_option(index=1)
        else:  # keyboard (the shared set widget): 3 is the best, then 1 is next best
            page.keyboard.press("3")
            page.keyboard.press("1")
        page.fill("textarea[name=explanation]", f"reason {turn}")
        page.click(".set-submit")
        if turn < 3:
            page.locator("#send").wait_for()
            page.fill("#prompt", f"Follow-up question {turn + 1}?")
            page.click("#send")
    page.locator("#ended").wait_for()
    assert page.inner_text(".progress-label") == "3 of 10 done"
    page.screenshot(path=str(artifacts / "conversation-ended.png"), full_page=True)

    conversation = Conversation.objects.get()
    assert conversation.first_prompt_pregenerated is False and conversation.ended_at is not None
    prompts = list(Prompt.objects.filter(study__slug="chat").order_by("id"))
    assert [len(p.turns) for p in prompts] == [1, 3, 5]
    assert prompts[0].tags == ["live-conversation", "turn-1", "annotator-written"]
    judgments = list(SetJudgment.objects.filter(conversation=conversation).order_by("turn"))
    assert [(j.turn, j.explanation) for j in judgments] == [(1, "reason 1"), (2, "reason 2"), (3, "reason 3")]
    for judgment, prompt in zip(judgments, prompts, strict=True):
        assert judgment.best_id == judgment.shown[2] and judgment.ranking == [[judgment.shown[0]]]
        assert judgment.candidate_set.prompt_id == prompt.pk
    for earlier, later in zip(prompts, prompts[1:], strict=False):
        chosen = SetJudgment.objects.get(candidate_set__prompt=earlier).best.text
        assert later.turns[:len(earlier.turns)] == earlier.turns and later.turns[len(earlier.turns)] == {
            "role": "assistant", "content": chosen}
    assert set(Candidate.objects.filter(prompt__in=prompts).values_list("strategy", "source")) == {
        ("nc-generated", "worker-model")}
    assert Judgment.objects.filter(set_judgment__in=judgments).count() == 3 * 5  # best over 3, ranked over 2
    assert len(chat_server.requests) == 3
