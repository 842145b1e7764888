"""Live conversations (issue 13, task "conversation"): an annotator's multi-turn conversation, one set per turn.

The annotator writes the first user turn (in written_prompt_share of their conversations, in all of them when the
study has no prompts left for them) or starts from a study prompt, the one fewest conversations started from; a
worker asks the endpoint for set_size responses (annotation/conversation_turns.py); the annotator picks the best
(optionally ranks the rest and explains), which is stored as a set judgment with its conversation and turn
(annotation/set_judgments.py: the one expansion into pairwise judgments) and becomes the assistant turn; then the
annotator writes the next user turn or ends the conversation, up to the study's max_turns. Progress counts turns
judged; the quota met, the conversation ends and the completion code is earned.
"""

import math
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Count
from django.utils import timezone

from annotation.assignment import Progress
from annotation.conversation_turns import generation_enqueue, generation_request, generation_stale_before
from annotation.errors import Conflict, Forbidden, InputError, NotFound
from annotation.input_rules import INT64_MAX, clean_text
from annotation.models import Candidate, Conversation, Participant, Prompt, SetJudgment, Study, TurnGeneration
from annotation.set_judgments import set_judgment_create

USER_TURN_MAX_CHARS = 4000  # what an annotator types as one user turn
EXPLANATION_MAX_CHARS = 5000
CLIENT_ID_MAX_CHARS = 64
WRITTEN, STUDY_PROMPT = "written", "study"


def conversation_study(participant: Participant) -> Study:
    """The participant's study, when it is a conversation study (409 otherwise)."""
    study = participant.study
    if study.task != Study.Task.CONVERSATION:
        raise Conflict(f"study {study.slug!r} is not a conversation study", code="not_a_conversation_study")
    return study


def user_turn_text(value: object, field: str = "prompt") -> str:
    """An annotator's user turn: text, not blank, no NUL, at most USER_TURN_MAX_CHARS characters."""
    if not isinstance(value, str):
        raise InputError("must be text", field=field)
    text = clean_text(value, field, max_length=USER_TURN_MAX_CHARS).strip()
    if not text:
        raise InputError("must not be empty", field=field)
    return text


def client_id_text(value: object, field: str = "client_id", *, required: bool = True) -> str:
    if value in (None, "") and not required:
        return ""
    if not isinstance(value, str) or not value.strip():
        raise InputError("must be a non-empty text (an idempotency key)", field=field)
    return clean_text(value.strip(), field, max_length=CLIENT_ID_MAX_CHARS)


# --- reads ------------------------------------------------------------------------------------------------


def conversation_progress(*, participant: Participant) -> Progress:
    """Turns judged in live conversations, against the study's quota."""
    done = SetJudgment.objects.filter(participant=participant, conversation__isnull=False).count()
    return Progress(done=done, quota=participant.study.quota)


def _seed_prompts(participant: Participant):
    """The study's own prompts (not conversation turns: those have a set) this annotator has not started from,
    fewest conversations first."""
    return (Prompt.objects.filter(study_id=participant.study_id, candidate_sets__isnull=True)
            .exclude(seeded_conversations__participant=participant)
            .annotate(uses=Count("seeded_conversations")).order_by("uses", "id"))


def first_prompt_plan(*, participant: Participant) -> str:
    """WRITTEN when the annotator's next conversation starts from a prompt they write, STUDY_PROMPT otherwise.

    The n-th conversation (from 0) is written when ceil((n + 1) * share) > ceil(n * share): the first one is
    written (when share > 0), and over any run of conversations the written share stays within one of it."""
    share = participant.study.written_prompt_share
    n = Conversation.objects.filter(participant=participant).count()
    written = math.ceil(round((n + 1) * share, 9)) > math.ceil(round(n * share, 9))
    if written or not _seed_prompts(participant).exists():
        return WRITTEN
    return STUDY_PROMPT


@dataclass(frozen=True)
class Turn:
    number: int
    user: str
    responses: list[Candidate]  # in the order shown; empty until generated
    generation: TurnGeneration
    judgment: SetJudgment | None

    @property
    def chosen(self) -> Candidate | None:
        if self.judgment is None:
            return None
        return next((c for c in self.responses if c.pk == self.judgment.best_id), None)


@dataclass(frozen=True)
class ConversationState:
    conversation: Conversation
    turns: list[Turn]
    progress: Progress
    max_turns: int

    @property
    def current(self) -> Turn | None:
        return self.turns[-1] if self.turns else None

    @property
    def ended(self) -> bool:
        return self.conversation.ended_at is not None

    @property
    def stage(self) -> str:
        """What the annotator does next: `generating`, `failed` (retry), `judge`, `next_turn` or `ended`."""
        if self.ended or self.current is None:
            return "ended"
        status = self.current.generation.status
        if status in (TurnGeneration.Status.QUEUED, TurnGeneration.Status.RUNNING):
            return "generating"
        if status == TurnGeneration.Status.FAILED:
            return "failed"
        return "judge" if self.current.judgment is None else "next_turn"


def conversation_of_user(*, user: AbstractBaseUser, conversation_id: int) -> tuple[Participant, Conversation]:
    """(participant, conversation) when the conversation is the user's own; anyone else's (or none) is not found,
    so ids reveal nothing."""
    conversation = None
    if user.is_authenticated and 0 < conversation_id <= INT64_MAX:
        conversation = Conversation.objects.select_related("study", "participant__study").filter(
            pk=conversation_id, participant__user=user).first()
    if conversation is None:
        raise NotFound(f"no conversation {conversation_id} of yours", code="unknown_conversation")
    return conversation.participant, conversation


def conversation_state(*, conversation: Conversation, participant: Participant) -> ConversationState:
    generations = list(conversation.generations.order_by("turn"))
    judgments = {j.turn: j for j in SetJudgment.objects.filter(conversation=conversation)}
    shown_ids = [pk for g in generations for pk in g.shown]
    candidates = Candidate.objects.in_bulk(shown_ids)
    turns = [Turn(g.turn, g.context[-1]["content"], [candidates[pk] for pk in g.shown], g, judgments.get(g.turn))
             for g in generations]
    return ConversationState(conversation, turns, conversation_progress(participant=participant),
                             conversation.study.max_turns)


def open_conversation(*, participant: Participant) -> Conversation | None:
    return (Conversation.objects.select_related("study")
            .filter(participant=participant, ended_at__isnull=True).order_by("-id").first())


# --- writes -----------------------------------------------------------------------------------------------


def _open_for_work(participant: Participant, study: Study) -> None:
    if not study.is_open:
        raise Forbidden("this study is closed", code="study_closed")
    if participant.excluded_at is not None or participant.screened_out_at is not None:
        raise Forbidden("you can no longer take part in this study", code="participant_inactive")
    if conversation_progress(participant=participant).finished:
        raise Conflict("your quota is met: the study is complete for you", code="quota_met")


@transaction.atomic
def conversation_start(*, participant: Participant, prompt: object = None, client_id: str = "") -> Conversation:
    """Start the annotator's next conversation: their own first prompt (when the plan says written) or the study
    prompt chosen for them; its first turn's generation is queued. A replayed client_id returns the same one."""
    participant = Participant.objects.select_for_update().select_related("study").get(pk=participant.pk)
    study = conversation_study(participant)
    if client_id:
        replay = TurnGeneration.objects.filter(conversation__participant=participant, turn=1,
                                               client_id=client_id).select_related("conversation").first()
        if replay is not None:
            return replay.conversation
    _open_for_work(participant, study)
    current = open_conversation(participant=participant)
    if current is not None:
        raise Conflict(f"conversation {current.pk} is still open: end it first", code="conversation_open")
    plan = first_prompt_plan(participant=participant)
    seed = None
    if plan == WRITTEN:
        if prompt is None:
            raise InputError("write the first prompt of this conversation", field="prompt")
        context = [{"role": "user", "content": user_turn_text(prompt)}]
    else:
        if prompt is not None:
            raise Conflict("this conversation starts from a study prompt: send no prompt", code="study_prompt_expected")
        seed = _seed_prompts(participant).first()
        context = [{"role": t["role"], "content": t["content"]} for t in seed.turns]
    conversation = Conversation.objects.create(
        study=study, participant=participant, external_id=f"live-{uuid.uuid4().hex[:16]}", language=study.language,
        first_prompt_pregenerated=plan == STUDY_PROMPT, seed_prompt=seed, created_at=timezone.now())
    generation_request(conversation=conversation, turn=1, context=context, client_id=client_id)
    return conversation


def _locked_turn(conversation: Conversation, turn: int) -> TurnGeneration:
    generation = TurnGeneration.objects.select_for_update().filter(conversation=conversation, turn=turn).first()
    if generation is None:
        raise NotFound(f"conversation {conversation.pk} has no turn {turn}", code="unknown_turn")
    return generation


def _member_id(by_external: dict[str, int], value: object, field: str) -> int:
    if not isinstance(value, str) or value not in by_external:
        raise InputError("must be the candidate_id of one of this turn's responses", field=field)
    return by_external[value]


def _ranking(by_external: dict[str, int], raw: object) -> list[list[int]]:
    """The rest, better first: each entry a candidate_id or a list of tied candidate_ids."""
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > len(by_external):
        raise InputError("must be a list of candidate_ids (or lists of tied ones), better first", field="ranking")
    blocks = []
    for i, entry in enumerate(raw):
        members = entry if isinstance(entry, list) else [entry]
        if not members or len(members) > len(by_external):
            raise InputError("must name one or more of this turn's responses", field=f"ranking[{i}]")
        blocks.append([_member_id(by_external, m, f"ranking[{i}]") for m in members])
    return blocks


@dataclass(frozen=True)
class TurnJudgment:
    judgment: SetJudgment
    created: bool
    progress: Progress
    ended: bool


@transaction.atomic
def turn_judgment_submit(*, participant: Participant, conversation: Conversation, turn: int, best: object,
                         ranking: object = None, explanation: object = "", client_id: object,
                         time_taken_ms: int | None = None) -> TurnJudgment:
    """Judge the turn's set; the best response becomes the assistant turn. A replayed client_id returns the
    stored judgment; the quota met or max_turns reached, the conversation ends."""
    client_id = client_id_text(client_id)
    replay = SetJudgment.objects.filter(client_id=client_id).first()
    if replay is not None:
        if replay.participant_id != participant.pk or replay.conversation_id != conversation.pk or replay.turn != turn:
            raise Conflict("this client_id was used for another judgment", code="client_id_reused")
        conversation.refresh_from_db(fields=["ended_at"])
        return TurnJudgment(replay, False, conversation_progress(participant=participant),
                            conversation.ended_at is not None)
    generation = _locked_turn(conversation, turn)
    if conversation.ended_at is not None:
        raise Conflict("this conversation has ended", code="conversation_ended")
    if generation.status != TurnGeneration.Status.DONE:
        raise Conflict(f"turn {turn}'s responses are not ready ({generation.status})", code="turn_not_ready")
    if SetJudgment.objects.filter(conversation=conversation, turn=turn).exists():
        raise Conflict(f"turn {turn} is already judged", code="turn_already_judged")
    if not isinstance(explanation, str):
        raise InputError("must be text", field="explanation")
    explanation = clean_text(explanation, "explanation", max_length=EXPLANATION_MAX_CHARS).strip()
    by_external = dict(Candidate.objects.filter(pk__in=generation.shown).values_list("external_id", "pk"))
    judgment = set_judgment_create(
        participant=participant, candidate_set=generation.candidate_set, shown=generation.shown,
        best=_member_id(by_external, best, "best"), ranking=_ranking(by_external, ranking),
        explanation=explanation, client_id=client_id, time_taken_ms=time_taken_ms)
    # set_judgment_create knows nothing of conversations: the turn is recorded on the row it made.
    SetJudgment.objects.filter(pk=judgment.pk).update(conversation=conversation, turn=turn)
    judgment.conversation, judgment.turn = conversation, turn
    progress = conversation_progress(participant=participant)
    if turn >= conversation.study.max_turns or progress.finished:
        conversation.ended_at = timezone.now()
        conversation.save(update_fields=["ended_at"])
    return TurnJudgment(judgment, True, progress, conversation.ended_at is not None)


@transaction.atomic
def conversation_continue(*, participant: Participant, conversation: Conversation, prompt: object,
                          client_id: str = "") -> TurnGeneration:
    """The annotator's next user turn after a judged one: its generation is queued (a replayed client_id
    returns the same one)."""
    conversation = Conversation.objects.select_for_update().select_related("study").get(pk=conversation.pk)
    if client_id:
        replay = TurnGeneration.objects.filter(conversation=conversation, client_id=client_id, turn__gt=1).first()
        if replay is not None:
            return replay
    text = user_turn_text(prompt)
    if conversation.ended_at is not None:
        raise Conflict("this conversation has ended", code="conversation_ended")
    last = conversation.generations.order_by("-turn").first()
    judgment = SetJudgment.objects.filter(conversation=conversation, turn=last.turn).first() if last else None
    if judgment is None:
        raise Conflict("judge this turn's responses before writing the next turn", code="turn_not_judged")
    if last.turn >= conversation.study.max_turns:
        raise Conflict(f"a conversation has at most {conversation.study.max_turns} turns", code="max_turns")
    _open_for_work(participant, conversation.study)
    chosen = Candidate.objects.get(pk=judgment.best_id).text
    context = [*last.context, {"role": "assistant", "content": chosen}, {"role": "user", "content": text}]
    return generation_request(conversation=conversation, turn=last.turn + 1, context=context, client_id=client_id)


def conversation_end(*, conversation: Conversation) -> Conversation:
    """End the conversation (idempotent). A turn still generating or failed stays unjudged; nothing is lost."""
    Conversation.objects.filter(pk=conversation.pk, ended_at__isnull=True).update(ended_at=timezone.now())
    conversation.refresh_from_db(fields=["ended_at"])
    return conversation


@transaction.atomic
def generation_retry(*, conversation: Conversation) -> TurnGeneration:
    """Queue the current turn's generation again: once it failed, or once it has waited past the endpoint's
    timeout with no result (its message or worker was lost)."""
    last = conversation.generations.order_by("-turn").first()
    if last is None:
        raise NotFound("this conversation has no turn to retry", code="unknown_turn")
    generation = _locked_turn(conversation, last.turn)
    if conversation.ended_at is not None:
        raise Conflict("this conversation has ended", code="conversation_ended")
    lost_before = timezone.now() - generation_stale_before()
    lost = generation.status in (TurnGeneration.Status.QUEUED, TurnGeneration.Status.RUNNING) and (
        (generation.started_at or generation.queued_at) < lost_before)
    if generation.status != TurnGeneration.Status.FAILED and not lost:
        raise Conflict(f"turn {generation.turn} is {generation.status}: only a failed generation is retried",
                       code="not_failed")
    TurnGeneration.objects.filter(pk=generation.pk).update(
        status=TurnGeneration.Status.QUEUED, error="", queued_at=timezone.now(), started_at=None, finished_at=None)
    transaction.on_commit(lambda: generation_enqueue(generation.pk))
    generation.refresh_from_db()
    return generation


def conversations_of(*, participant: Participant) -> Sequence[Conversation]:
    return list(Conversation.objects.filter(participant=participant).order_by("id"))
