"""Live conversations (issue 13): the services, against a local chat-completions server (tests/chat_server.py)."""

import json
import re

import pytest
from django.test import override_settings

from alignment.nc_generation import Endpoint
from alignment.turn_generation import turn_generation_execute
from annotation.conversation_turns import generation_enqueue
from annotation.conversations import (
    STUDY_PROMPT,
    WRITTEN,
    conversation_continue,
    conversation_end,
    conversation_start,
    conversation_state,
    first_prompt_plan,
    generation_retry,
    turn_judgment_submit,
)
from annotation.errors import Conflict, InputError
from annotation.models import Candidate, CandidateSet, Conversation, Judgment, Prompt, SetJudgment, TurnGeneration
from tests.chat_server import Reply
from tests.factories import make_participant, make_study

pytestmark = pytest.mark.django_db

FOUR = ["Protect your family first.", "Trust the community to help.", "Follow the evidence on risk.",
        "Respect individual freedom to choose."]


def conversation_study(**kwargs):
    defaults = {"slug": "conv", "prompts": 0, "task": "conversation", "quota": 20}
    return make_study(**(defaults | kwargs))


@pytest.fixture
def endpoint(chat_server):
    return Endpoint(url=chat_server.url, model="local-nc-model", timeout=5)


@pytest.fixture
def annotator(django_user_model):
    study = conversation_study()
    return make_participant(study, django_user_model.objects.create_user("talker"))


def _generate(conversation, endpoint, turn=None) -> TurnGeneration:
    generation = conversation.generations.order_by("-turn").first() if turn is None else (
        conversation.generations.get(turn=turn))
    turn_generation_execute(generation_id=generation.pk, endpoint=endpoint)
    generation.refresh_from_db()
    return generation


def _stored_counts(study):
    return (Prompt.objects.filter(study=study).count(), Candidate.objects.filter(prompt__study=study).count(),
            CandidateSet.objects.filter(prompt__study=study).count())


def test_a_written_first_turn_asks_once_for_set_size_responses_and_stores_the_turn_as_the_ca_import_does(
        annotator, endpoint, chat_server):
    chat_server.answers = [json.dumps({"responses": FOUR})]
    conversation = conversation_start(participant=annotator, prompt="  Should I vaccinate my kids?  ")
    assert conversation.first_prompt_pregenerated is False
    generation = _generate(conversation, endpoint)

    assert generation.status == TurnGeneration.Status.DONE and generation.attempts == 1
    assert len(chat_server.requests) == 1
    asked = chat_server.requests[0]["body"]["messages"][-1]["content"]
    assert "Write 4 different responses" in asked and "User: Should I vaccinate my kids?" in asked
    prompt = generation.prompt
    assert prompt.turns == [{"role": "user", "content": "Should I vaccinate my kids?"}]
    assert prompt.tags == ["live-conversation", "turn-1", "annotator-written"]
    assert prompt.external_id == f"{conversation.external_id}:1"
    candidates = list(prompt.candidates.order_by("id"))
    assert [c.text for c in candidates] == FOUR
    assert {(c.strategy, c.source) for c in candidates} == {("nc-generated", "local-nc-model")}
    assert generation.candidate_set.members == [c.pk for c in candidates]
    assert generation.candidate_set.strategy == "nc-generated" and generation.candidate_set.size == 4
    assert sorted(generation.shown) == sorted(c.pk for c in candidates)
    assert generation.endpoint_seconds is not None and generation.model == "local-nc-model"


def test_a_three_turn_conversation_carries_the_chosen_answers_as_assistant_turns(annotator, endpoint):
    conversation = conversation_start(participant=annotator, prompt="First question?")
    chosen = []
    for turn in (1, 2, 3):
        generation = _generate(conversation, endpoint)
        best = Candidate.objects.get(pk=generation.shown[2])
        chosen.append(best.text)
        others = [Candidate.objects.get(pk=pk).external_id for pk in generation.shown if pk != best.pk]
        result = turn_judgment_submit(participant=annotator, conversation=conversation, turn=turn,
                                      best=best.external_id, ranking=[others[0], [others[1], others[2]]],
                                      explanation=f"because {turn}", client_id=f"c-{turn}")
        assert result.created and result.progress.done == turn
        if turn < 3:
            conversation_continue(participant=annotator, conversation=conversation, prompt=f"Follow-up {turn + 1}?")

    prompts = list(Prompt.objects.filter(study=annotator.study).order_by("id"))
    assert [len(p.turns) for p in prompts] == [1, 3, 5]
    assert prompts[2].turns == [
        {"role": "user", "content": "First question?"}, {"role": "assistant", "content": chosen[0]},
        {"role": "user", "content": "Follow-up 2?"}, {"role": "assistant", "content": chosen[1]},
        {"role": "user", "content": "Follow-up 3?"}]
    assert [p.tags for p in prompts][1:] == [["live-conversation", "turn-2"], ["live-conversation", "turn-3"]]
    judgments = list(SetJudgment.objects.filter(conversation=conversation).order_by("turn"))
    assert [(j.turn, j.explanation) for j in judgments] == [(1, "because 1"), (2, "because 2"), (3, "because 3")]
    assert all(j.shown == g.shown for j, g in zip(judgments, conversation.generations.order_by("turn"), strict=True))
    # best over 3 others, then the ranking: first ranked over the tied two (2), the tie (1) = 6 per turn
    assert Judgment.objects.filter(set_judgment__conversation=conversation).count() == 3 * 6
    state = conversation_state(conversation=conversation, participant=annotator)
    assert state.stage == "next_turn" and [t.chosen.text for t in state.turns] == chosen


def test_the_conversation_ends_at_max_turns_and_when_the_annotator_ends_it(django_user_model, endpoint):
    study = conversation_study(max_turns=1)
    participant = make_participant(study, django_user_model.objects.create_user("one-turn"))
    conversation = conversation_start(participant=participant, prompt="Only one?")
    generation = _generate(conversation, endpoint)
    best = Candidate.objects.get(pk=generation.shown[0]).external_id
    assert turn_judgment_submit(participant=participant, conversation=conversation, turn=1, best=best,
                                client_id="only").ended
    with pytest.raises(Conflict, match="ended"):
        conversation_continue(participant=participant, conversation=conversation, prompt="More?")
    second = conversation_start(participant=participant, prompt="Another one")
    conversation_end(conversation=second)
    assert conversation_state(conversation=second, participant=participant).stage == "ended"


@pytest.mark.parametrize(("reply", "reason"), [
    (Reply(content="Sorry, I can only give you two ideas."), "neither JSON"),
    (Reply(content=json.dumps({"responses": FOUR[:3]})), "asked for 4"),
    (Reply(body="<html>bad gateway</html>"), "did not answer JSON"),
    (Reply(status=500), "HTTP 500"),
    (Reply(delay=2.0), "could not be reached|timed out"),
])
def test_a_failed_generation_stores_nothing_but_its_error_and_a_retry_succeeds(annotator, chat_server, reply,
                                                                                reason):
    endpoint = Endpoint(url=chat_server.url, model="m", timeout=0.5)
    chat_server.answers = [reply]
    conversation = conversation_start(participant=annotator, prompt="Will it fail?")
    generation = _generate(conversation, endpoint)
    assert generation.status == TurnGeneration.Status.FAILED
    assert generation.prompt is None and generation.candidate_set is None and generation.shown == []
    assert re.search(reason, generation.error), generation.error
    assert _stored_counts(annotator.study) == (0, 0, 0)
    assert conversation_state(conversation=conversation, participant=annotator).stage == "failed"
    with pytest.raises(Conflict):
        turn_judgment_submit(participant=annotator, conversation=conversation, turn=1, best="x", client_id="early")

    assert generation_retry(conversation=conversation).status == TurnGeneration.Status.QUEUED
    generation = _generate(conversation, endpoint)
    assert generation.status == TurnGeneration.Status.DONE and generation.attempts == 2 and generation.error == ""
    assert _stored_counts(annotator.study) == (1, 4, 1)


def test_a_redelivered_generation_stores_nothing_twice_and_only_a_failed_one_is_retried(annotator, endpoint):
    conversation = conversation_start(participant=annotator, prompt="Twice?")
    generation = conversation.generations.get()
    assert turn_generation_execute(generation_id=generation.pk, endpoint=endpoint) == "done"
    assert turn_generation_execute(generation_id=generation.pk, endpoint=endpoint) == "skipped"
    assert _stored_counts(annotator.study) == (1, 4, 1)
    with pytest.raises(Conflict, match="only a failed generation"):
        generation_retry(conversation=conversation)


def test_a_generation_the_broker_cannot_take_fails_with_the_reason_so_it_can_be_retried(annotator):
    conversation = conversation_start(participant=annotator, prompt="Broker down?")
    generation = conversation.generations.get()
    with override_settings(CELERY_BROKER_URL="redis://127.0.0.1:9/0", CELERY_BROKER_TRANSPORT_OPTIONS={}):
        generation_enqueue(generation.pk)
    generation.refresh_from_db()
    assert generation.status == TurnGeneration.Status.FAILED and "broker" in generation.error


def test_study_prompts_are_balanced_across_annotators_and_tagged_pregenerated(django_user_model, endpoint):
    study = conversation_study(prompts=2, written_prompt_share=0)
    people = [make_participant(study, django_user_model.objects.create_user(f"u{i}")) for i in range(4)]
    assert first_prompt_plan(participant=people[0]) == STUDY_PROMPT
    with pytest.raises(Conflict, match="study prompt"):
        conversation_start(participant=people[0], prompt="my own")
    conversations = [conversation_start(participant=p) for p in people]
    seeds = [c.seed_prompt.external_id for c in conversations]
    assert sorted(seeds) == ["p0", "p0", "p1", "p1"]
    generation = _generate(conversations[0], endpoint)
    assert generation.prompt.turns == [{"role": "user", "content": f"Question number {seeds[0][1]} about values?"}]
    assert generation.prompt.tags == ["live-conversation", "turn-1", "pregenerated-first-prompt"]
    assert conversations[0].first_prompt_pregenerated is True


def test_a_third_of_conversations_are_written_and_all_of_them_when_no_study_prompt_is_left(django_user_model):
    study = conversation_study(prompts=1, written_prompt_share=0.33)
    participant = make_participant(study, django_user_model.objects.create_user("planner"))
    plans = []
    for n in range(6):
        plans.append(first_prompt_plan(participant=participant))
        Conversation.objects.create(study=study, participant=participant, external_id=f"x{n}",
                                    created_at="2026-01-01T00:00:00Z")
    # one study prompt: once this annotator started from it, every later conversation is written
    assert plans == [WRITTEN, STUDY_PROMPT, STUDY_PROMPT, WRITTEN, STUDY_PROMPT, STUDY_PROMPT]
    Conversation.objects.filter(participant=participant).update(seed_prompt=Prompt.objects.get(study=study))
    assert first_prompt_plan(participant=participant) == WRITTEN
    no_prompts = make_participant(conversation_study(slug="empty", written_prompt_share=0),
                                  django_user_model.objects.create_user("alone"))
    assert first_prompt_plan(participant=no_prompts) == WRITTEN


@pytest.mark.parametrize(("prompt", "message"), [
    (None, "write the first prompt"), ("   ", "must not be empty"), ("a\x00b", "NUL"), ("x" * 4001, "at most 4000"),
    (["not", "text"], "must be text"),
])
def test_a_bad_first_prompt_is_refused_with_its_field_and_nothing_is_started(annotator, prompt, message):
    with pytest.raises(InputError, match=message) as refused:
        conversation_start(participant=annotator, prompt=prompt)
    assert refused.value.field == "prompt"
    assert not Conversation.objects.exists()


def test_one_open_conversation_at_a_time_and_a_replayed_start_returns_it(annotator):
    first = conversation_start(participant=annotator, prompt="One", client_id="start-1")
    assert conversation_start(participant=annotator, prompt="One", client_id="start-1") == first
    with pytest.raises(Conflict, match="still open"):
        conversation_start(participant=annotator, prompt="Two")


def test_a_judgment_replay_returns_the_stored_one_and_bad_choices_name_their_field(annotator, endpoint,
                                                                                    django_user_model):
    conversation = conversation_start(participant=annotator, prompt="Replay?")
    generation = _generate(conversation, endpoint)
    ids = [Candidate.objects.get(pk=pk).external_id for pk in generation.shown]
    for kwargs, field in [({"best": "nope"}, "best"), ({"best": ids[0], "ranking": [ids[0]]}, "ranking"),
                          ({"best": ids[0], "ranking": ["zz"]}, "ranking[0]"),
                          ({"best": ids[0], "explanation": "a\x00"}, "explanation")]:
        with pytest.raises(InputError) as refused:
            turn_judgment_submit(participant=annotator, conversation=conversation, turn=1, client_id="k", **kwargs)
        assert refused.value.field == field
    first = turn_judgment_submit(participant=annotator, conversation=conversation, turn=1, best=ids[1], client_id="k")
    again = turn_judgment_submit(participant=annotator, conversation=conversation, turn=1, best=ids[1], client_id="k")
    assert first.created and not again.created and again.judgment.pk == first.judgment.pk
    with pytest.raises(Conflict, match="already judged"):
        turn_judgment_submit(participant=annotator, conversation=conversation, turn=1, best=ids[0], client_id="k2")
    assert SetJudgment.objects.count() == 1


def test_the_quota_counts_turns_and_ends_the_conversation_once_met(django_user_model, endpoint):
    study = conversation_study(quota=2)
    participant = make_participant(study, django_user_model.objects.create_user("quota"))
    conversation = conversation_start(participant=participant, prompt="Q1")
    for turn in (1, 2):
        generation = _generate(conversation, endpoint)
        best = Candidate.objects.get(pk=generation.shown[0]).external_id
        result = turn_judgment_submit(participant=participant, conversation=conversation, turn=turn, best=best,
                                      client_id=f"q{turn}")
        if turn == 1:
            conversation_continue(participant=participant, conversation=conversation, prompt="Q2")
    assert result.ended and result.progress.finished
    with pytest.raises(Conflict, match="quota"):
        conversation_start(participant=participant, prompt="Q3")


@pytest.mark.parametrize(("extra", "field"), [
    ({"task": "dialogue"}, "study.task"), ({"max_turns": 0}, "study.max_turns"), ({"max_turns": 9}, "study.max_turns"),
    ({"written_prompt_share": 1.5}, "study.written_prompt_share"),
    ({"written_prompt_share": "half"}, "study.written_prompt_share"),
])
def test_study_files_refuse_bad_conversation_settings_naming_the_field(extra, field):
    from annotation.study_files import study_import
    from tests.factories import jsonl_bytes, study_lines

    with pytest.raises(InputError) as refused:
        study_import(jsonl_bytes(study_lines(slug="bad", prompts=0, **({"task": "conversation"} | extra))),
                     source="f.jsonl")
    assert refused.value.field == field


def test_a_conversation_study_file_takes_prompts_without_candidates_and_makes_no_pairs():
    from annotation.models import Pair
    from annotation.study_files import study_import
    from tests.factories import jsonl_bytes, study_lines

    lines = study_lines(slug="seeds", prompts=2, task="conversation", max_turns=3, written_prompt_share=0.5)
    del lines[1]["candidates"]
    study = study_import(jsonl_bytes(lines), source="seeds.jsonl").study
    assert (study.task, study.max_turns, study.written_prompt_share) == ("conversation", 3, 0.5)
    assert Prompt.objects.filter(study=study).count() == 2 and not Pair.objects.filter(prompt__study=study).exists()
    assert not CandidateSet.objects.filter(prompt__study=study).exists()


def test_a_lost_generation_can_be_retried_and_the_late_attempt_stores_nothing(annotator, endpoint):
    from datetime import timedelta

    from django.utils import timezone

    from annotation.conversation_turns import generation_claim, generation_store

    conversation = conversation_start(participant=annotator, prompt="Lost?")
    generation = conversation.generations.get()
    with pytest.raises(Conflict):
        generation_retry(conversation=conversation)  # queued a moment ago: not lost yet
    context, n, attempt = generation_claim(generation_id=generation.pk)  # a worker that then goes silent
    assert (context, n, attempt) == ([{"role": "user", "content": "Lost?"}], 4, 1)
    TurnGeneration.objects.filter(pk=generation.pk).update(started_at=timezone.now() - timedelta(hours=1))
    assert generation_retry(conversation=conversation).status == TurnGeneration.Status.QUEUED
    assert _generate(conversation, endpoint).status == TurnGeneration.Status.DONE
    assert not generation_store(generation_id=generation.pk, attempt=attempt, texts=FOUR, model="late",
                                endpoint_seconds=1.0)
    assert _stored_counts(annotator.study) == (1, 4, 1)


def test_live_conversations_export_in_the_community_alignment_schema(annotator, endpoint):
    from annotation.community_alignment import community_alignment_rows

    conversation = conversation_start(participant=annotator, prompt="Export me")
    texts = []
    for turn in (1, 2):
        generation = _generate(conversation, endpoint)
        shown = [Candidate.objects.get(pk=pk) for pk in generation.shown]
        texts.append([c.text for c in shown])
        turn_judgment_submit(participant=annotator, conversation=conversation, turn=turn, best=shown[1].external_id,
                             explanation=f"why {turn}", client_id=f"e{turn}")
        if turn == 1:
            conversation_continue(participant=annotator, conversation=conversation, prompt="Second turn")
    (row,) = community_alignment_rows(study=annotator.study)
    assert row["conversation_id"] == conversation.external_id and row["is_pregenerated_first_prompt"] == "False"
    assert (row["first_turn_prompt"], row["second_turn_prompt"]) == ("Export me", "Second turn")
    assert [row[f"second_turn_response_{x}"] for x in "abcd"] == texts[1]
    assert (row["first_turn_preferred_response"], row["first_turn_feedback"]) == ("response_b", "why 1")
    assert row["third_turn_prompt"] == ""
