"""The annotator's page of a conversation study (/s/<slug>/conversation/, where /annotate/ sends them): write or
receive the first prompt, watch the responses being generated (htmx polls the partial), retry a failed
generation, pick the best response (optionally rank the rest and explain), then write the next turn or end the
conversation. Thin doors onto annotation/conversations.py, the services the REST API calls."""

import uuid

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from annotation.completion import completion_progress
from annotation.conversations import (
    ConversationState,
    conversation_continue,
    conversation_end,
    conversation_progress,
    conversation_start,
    conversation_state,
    first_prompt_plan,
    generation_retry,
    open_conversation,
    turn_judgment_submit,
)
from annotation.errors import InputError, Rejected
from annotation.input_rules import INT64_MAX, form_integer
from annotation.models import Conversation, Participant, Study
from annotation.participants import participant_for_user
from annotation.set_page import ranking_from_places, set_widget_context
from annotation.views import study_page

POLL_SECONDS = 1


def _context(participant: Participant, conversation: Conversation | None, **extra) -> dict:
    state = conversation_state(conversation=conversation, participant=participant) if conversation else None
    progress = state.progress if state else conversation_progress(participant=participant)
    widget = set_widget_context(state.current.responses) if state and state.stage == "judge" else {}
    return {"study": participant.study, "state": state, "progress": progress, "client_id": uuid.uuid4().hex,
            "plan": None if state and not state.ended else first_prompt_plan(participant=participant),
            "poll_seconds": POLL_SECONDS, **widget, **extra}


def _latest(participant: Participant) -> Conversation | None:
    return open_conversation(participant=participant) or (
        Conversation.objects.select_related("study").filter(participant=participant).order_by("-id").first())


def _finished(participant: Participant, state: ConversationState | None) -> bool:
    return (state is None or state.ended) and completion_progress(participant=participant) is not None


@study_page
@require_GET
def conversation_page(request: HttpRequest, study: Study) -> HttpResponse:
    participant = participant_for_user(study=study, user=request.user)
    if participant is None:
        return redirect("annotation:join", slug=study.slug)
    if study.task != Study.Task.CONVERSATION:
        return redirect("annotation:annotate", slug=study.slug)
    context = _context(participant, _latest(participant))
    if _finished(participant, context["state"]):
        return redirect("annotation:done", slug=study.slug)
    partial = request.headers.get("HX-Request") and request.GET.get("partial")
    return render(request, "annotation/_conversation_task.html" if partial else "annotation/conversation.html", context)


def _notice(exc: InputError | Rejected) -> str:
    """The refusal in the annotator's language (the services' messages are written for API clients)."""
    field, code = getattr(exc, "field", None), getattr(exc, "code", "")
    if field == "prompt":
        return _("Please write your message (at most 4000 characters).")
    if field == "best" or field == "ranking" or (field or "").startswith("ranking["):
        return _("Please pick the best response (ranking the others is optional).")
    if field == "explanation":
        return _("Please check your explanation (at most 5000 characters).")
    messages = {
        "conversation_ended": _("This conversation has ended."),
        "quota_met": _("You have done all the turns this study asks for. Thank you!"),
        "turn_already_judged": _("You have already judged these responses."),
        "turn_not_ready": _("The responses are not ready yet."),
        "conversation_open": _("Please finish or end the current conversation first."),
        "not_failed": _("The responses are still being written."),
        "max_turns": _("This conversation has reached its last turn."),
    }
    return messages.get(code, _("That did not work; please try again."))


def _time_taken(request: HttpRequest) -> int | None:
    # The page measures this itself (task.js); a tampered value is dropped rather than costing the answer.
    try:
        return form_integer(request.POST.get("time_taken_ms", ""), "time_taken_ms")
    except InputError:
        return None


def _act(request: HttpRequest, participant: Participant, action: str) -> None:
    """Do what the form asked; InputError or Rejected says why not."""
    if action == "start":
        prompt = request.POST.get("prompt") if "prompt" in request.POST else None
        conversation_start(participant=participant, prompt=prompt, client_id=request.POST.get("client_id", "")[:64])
        return
    conversation = open_conversation(participant=participant)
    if conversation is None:
        raise Rejected(_("This conversation has ended."), code="conversation_ended")
    if action == "judge":  # the set widget's form (annotation/set_page.py): best, one `place` per other response
        turn = form_integer(request.POST.get("turn", ""), "turn", maximum=INT64_MAX)
        turn_judgment_submit(participant=participant, conversation=conversation, turn=turn,
                             best=request.POST.get("best", ""),
                             ranking=ranking_from_places(request.POST.getlist("place")),
                             explanation=request.POST.get("explanation", ""),
                             client_id=request.POST.get("client_id", ""), time_taken_ms=_time_taken(request))
    elif action == "next":
        conversation_continue(participant=participant, conversation=conversation, prompt=request.POST.get("prompt"),
                              client_id=request.POST.get("client_id", "")[:64])
    elif action == "end":
        conversation_end(conversation=conversation)
    elif action == "retry":
        generation_retry(conversation=conversation)
    else:
        raise InputError(_("The form was incomplete; please choose again."), field="action")


@study_page
@require_POST
def conversation_act(request: HttpRequest, study: Study) -> HttpResponse:
    """One step of the conversation; answers with the updated partial (htmx) or a redirect to the page."""
    participant = participant_for_user(study=study, user=request.user)
    if participant is None:
        return HttpResponse(status=403)
    if study.task != Study.Task.CONVERSATION:
        return redirect("annotation:annotate", slug=study.slug)
    notice = None
    try:
        _act(request, participant, request.POST.get("action", ""))
    except (InputError, Rejected) as exc:
        notice = _notice(exc)
    kept = request.POST.get("prompt", "") if notice else ""  # nothing typed is lost to a refusal
    context = _context(participant, _latest(participant), notice=notice, kept_prompt=kept)
    if _finished(participant, context["state"]):
        url = reverse("annotation:done", kwargs={"slug": study.slug})
        return HttpResponse(status=204, headers={"HX-Redirect": url}) if request.headers.get("HX-Request") else (
            redirect(url))
    if not request.headers.get("HX-Request"):
        return render(request, "annotation/conversation.html", context, status=400 if notice else 200)
    return render(request, "annotation/_conversation_task.html", context)
