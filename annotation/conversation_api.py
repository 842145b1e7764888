"""REST doors of live conversations (annotation/conversations.py): start, read, judge a turn, next turn or end,
retry a failed generation. Token or session authentication; `{"detail", "code"}` errors (input errors name their
field); an annotator reaches only their own conversations (404 for anyone else's)."""

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.conversations import (
    ConversationState,
    client_id_text,
    conversation_continue,
    conversation_end,
    conversation_of_user,
    conversation_start,
    conversation_state,
    conversation_study,
    conversations_of,
    first_prompt_plan,
    generation_retry,
    turn_judgment_submit,
)
from annotation.errors import InputError
from annotation.input_rules import integer
from annotation.models import Participant, TurnGeneration
from annotation.selectors import participant_of, study_get


def _body(request: Request) -> dict:
    data = request.data
    if not hasattr(data, "get"):
        raise InputError("the body must be a JSON object")
    return data


def _participant(request: Request, slug: str) -> Participant:
    return participant_of(study=study_get(slug=slug), user=request.user)


def _generation(generation: TurnGeneration) -> dict:
    now = timezone.now()
    since = generation.started_at or generation.queued_at
    return {"turn": generation.turn, "status": generation.status, "error": generation.error or None,
            "attempts": generation.attempts, "queued_at": generation.queued_at, "started_at": generation.started_at,
            "finished_at": generation.finished_at,
            "elapsed_s": round(((generation.finished_at or now) - since).total_seconds(), 3),
            "timeout_s": float(settings.NC_GENERATION_TIMEOUT)}


def state_body(state: ConversationState) -> dict:
    conversation = state.conversation
    turns = []
    for turn in state.turns:
        judgment = turn.judgment
        ids = {c.pk: c.external_id for c in turn.responses}
        turns.append({
            "turn": turn.number, "prompt": turn.user, "status": turn.generation.status,
            "responses": [{"candidate_id": c.external_id, "text": c.text} for c in turn.responses],
            "best": ids.get(judgment.best_id) if judgment else None,
            "ranking": [[ids[m] for m in block] for block in judgment.ranking] if judgment else [],
            "explanation": judgment.explanation if judgment else "",
        })
    return {
        "id": conversation.pk, "conversation_id": conversation.external_id, "study": conversation.study.slug,
        "first_prompt_pregenerated": conversation.first_prompt_pregenerated, "max_turns": state.max_turns,
        "stage": state.stage, "ended": state.ended, "turns": turns,
        "generation": _generation(state.current.generation) if state.current else None,
        "progress": {"done": state.progress.done, "quota": state.progress.quota},
    }


class ConversationListApi(APIView):
    """The annotator's conversations and how the next one starts (`next_first_prompt`: `written`, send
    {"prompt": text}; `study`, send {}); POST starts it and queues its first turn's generation."""

    @extend_schema_serializer(component_name="ConversationStartInput")
    class Input(serializers.Serializer):
        prompt = serializers.CharField(required=False, help_text="The first user turn, when it is yours to write.")
        client_id = serializers.CharField(required=False, max_length=64, help_text="Idempotency key.")

    @extend_schema(responses={200: dict, 409: OpenApiResponse(description="Not a conversation study.")})
    def get(self, request: Request, slug: str) -> Response:
        participant = _participant(request, slug)
        conversation_study(participant)  # a pair or set study has none: 409
        return Response({"next_first_prompt": first_prompt_plan(participant=participant),
                         "conversations": [{"id": c.pk, "conversation_id": c.external_id,
                                            "ended": c.ended_at is not None}
                                           for c in conversations_of(participant=participant)]})

    @extend_schema(request=Input, responses={201: dict, 200: dict, 409: OpenApiResponse(
        description="A conversation is still open, the quota is met, or a prompt was sent for a study prompt's turn.")})
    def post(self, request: Request, slug: str) -> Response:
        participant = _participant(request, slug)
        body = _body(request)
        client_id = client_id_text(body.get("client_id"), required=False)
        existing = {c.pk for c in conversations_of(participant=participant)}
        conversation = conversation_start(participant=participant, prompt=body.get("prompt"), client_id=client_id)
        state = conversation_state(conversation=conversation, participant=participant)
        code = status.HTTP_200_OK if conversation.pk in existing else status.HTTP_201_CREATED  # 200: a replay
        return Response(state_body(state), code)


class ConversationDetailApi(APIView):
    """The conversation so far: its turns, the current turn's generation (status, elapsed, error) and, once
    generated, its responses in the order shown."""

    @extend_schema(responses={200: dict, 404: OpenApiResponse(description="Not a conversation of yours.")})
    def get(self, request: Request, pk: int) -> Response:
        participant, conversation = conversation_of_user(user=request.user, conversation_id=pk)
        return Response(state_body(conversation_state(conversation=conversation, participant=participant)))


class TurnJudgmentApi(APIView):
    """Judge a turn's responses: best (required), ranking of the rest (optional; candidate_ids or lists of tied
    ones, better first), explanation (optional), client_id (a replay answers 200 with the stored judgment)."""

    @extend_schema_serializer(component_name="TurnJudgmentInput")
    class Input(serializers.Serializer):
        best = serializers.CharField()
        ranking = serializers.ListField(required=False)
        explanation = serializers.CharField(required=False, allow_blank=True)
        client_id = serializers.CharField(max_length=64)
        time_taken_ms = serializers.IntegerField(required=False, min_value=0)

    @extend_schema(request=Input, responses={201: dict, 200: dict, 409: OpenApiResponse(
        description="Not ready, already judged, ended, or the client_id is another judgment's.")})
    def post(self, request: Request, pk: int, turn: int) -> Response:
        participant, conversation = conversation_of_user(user=request.user, conversation_id=pk)
        body = _body(request)
        raw_time = body.get("time_taken_ms")
        submitted = turn_judgment_submit(
            participant=participant, conversation=conversation, turn=integer(turn, "turn", maximum=1000),
            best=body.get("best"), ranking=body.get("ranking"), explanation=body.get("explanation") or "",
            client_id=body.get("client_id"),
            time_taken_ms=None if raw_time is None else integer(raw_time, "time_taken_ms"))
        state = conversation_state(conversation=conversation, participant=participant)
        body = state_body(state) | {"judgment": {"id": submitted.judgment.pk, "client_id": submitted.judgment.client_id,
                                                 "replay": not submitted.created}}
        return Response(body, status.HTTP_201_CREATED if submitted.created else status.HTTP_200_OK)


class ConversationTurnApi(APIView):
    """After a judged turn: {"prompt": text} queues the next turn's generation; {"end": true} ends the
    conversation (also idempotent)."""

    @extend_schema_serializer(component_name="ConversationTurnInput")
    class Input(serializers.Serializer):
        prompt = serializers.CharField(required=False)
        end = serializers.BooleanField(required=False)
        client_id = serializers.CharField(required=False, max_length=64)

    @extend_schema(request=Input, responses={201: dict, 200: dict, 409: OpenApiResponse(
        description="The turn is not judged yet, the conversation ended, or max_turns is reached.")})
    def post(self, request: Request, pk: int) -> Response:
        participant, conversation = conversation_of_user(user=request.user, conversation_id=pk)
        body = _body(request)
        if body.get("end") is True:
            conversation_end(conversation=conversation)
            code = status.HTTP_200_OK
        elif body.get("end") not in (None, False):
            raise InputError("must be true to end the conversation", field="end")
        else:
            conversation_continue(participant=participant, conversation=conversation, prompt=body.get("prompt"),
                                  client_id=client_id_text(body.get("client_id"), required=False))
            code = status.HTTP_201_CREATED
        return Response(state_body(conversation_state(conversation=conversation, participant=participant)), code)


class ConversationRetryApi(APIView):
    """Queue the current turn's generation again after it failed (or after it was lost past the timeout)."""

    @extend_schema(request=None, responses={200: dict, 409: OpenApiResponse(description="Nothing failed.")})
    def post(self, request: Request, pk: int) -> Response:
        participant, conversation = conversation_of_user(user=request.user, conversation_id=pk)
        generation_retry(conversation=conversation)
        return Response(state_body(conversation_state(conversation=conversation, participant=participant)))
