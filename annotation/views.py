"""Annotator pages: join -> consent -> profile -> annotate (htmx) -> completion.

Every view is a thin door onto the same services as the API.
"""

import uuid
from collections.abc import Callable
from functools import wraps

from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from annotation.assignment import Task, pair_next_for_annotator, participant_progress
from annotation.completion import awaiting_pairs, completion_progress
from annotation.errors import InputError, Rejected
from annotation.input_rules import INT64_MAX, form_integer
from annotation.judgments import JudgmentInput, judgment_submit
from annotation.leases import assignment_renew, assignment_skip
from annotation.models import Judgment, Participant, Study
from annotation.notices import KeptAnswer, kept_answer, notice_for
from annotation.outcomes import participant_outcome
from annotation.participants import (
    crowd_external_id,
    crowd_params_from,
    is_crowd_account,
    participant_for_user,
    participant_join,
    participant_returning,
)
from annotation.selectors import study_get
from annotation.set_assignment import SetTask, set_next_for_annotator
from annotation.set_page import ranking_from_places, set_kept_answer, set_widget_context
from annotation.set_submit import set_judgment_input, set_judgment_submit
from pluralweb.throttling import attempt_wait, join_checks, throttled_page


def study_page(view: Callable) -> Callable:
    """Load the study by slug (404 if unknown) and speak its language."""

    @wraps(view)
    def wrapper(request: HttpRequest, slug: str, *args, **kwargs) -> HttpResponse:
        try:
            study = study_get(slug=slug)
        except Rejected:
            return render(request, "annotation/message.html", {"message": _("This study does not exist.")}, status=404)
        translation.activate(study.language)
        request.LANGUAGE_CODE = study.language
        return view(request, study, *args, **kwargs)

    return wrapper


def _session_key(study: Study) -> str:
    return f"study:{study.slug}"


@study_page
@require_http_methods(["GET", "POST"])
def study_join(request: HttpRequest, study: Study) -> HttpResponse:
    if participant_for_user(study=study, user=request.user):
        return redirect("annotation:annotate", slug=study.slug)
    state = request.session.get(_session_key(study), {})
    if request.method == "GET":
        try:
            crowd = crowd_params_from(request.GET)
        except InputError as exc:
            message = _("This study link is malformed (%(field)s); please use the link you were given.") % {
                "field": exc.field}
            return render(request, "annotation/message.html", {"study": study, "message": message}, status=400)
        resumed = _resume(request, study, crowd) if crowd else None
        if resumed is not None:
            return resumed
        if crowd:
            state["crowd"] = crowd
            request.session[_session_key(study)] = state
    if not study.is_open:
        return render(request, "annotation/message.html", {"study": study, "message": _("This study is closed.")})
    if request.method == "POST":
        if request.POST.get("consent") == "yes":
            state["consent"] = True
            request.session[_session_key(study)] = state
            return redirect("annotation:profile", slug=study.slug)
        error = _("You need to accept the consent text to take part.")
        return render(request, "annotation/join.html", {"study": study, "error": error}, status=400)
    return render(request, "annotation/join.html", {"study": study})


def _resume(request: HttpRequest, study: Study, crowd: dict[str, str]) -> HttpResponse | None:
    """The annotate page, signed in as the participant who already joined with this crowd id, if there is
    one; None otherwise. A signed-in staff or researcher account is never swapped out for it. A resume uses
    the crowd id as a credential, so it counts as a join attempt (per address and per id): guessing gets 429."""
    returning = participant_returning(study=study, crowd_params=crowd)
    if returning is None or (request.user.is_authenticated and not is_crowd_account(request.user)):
        return None
    wait = attempt_wait(join_checks(request, crowd_external_id(crowd)))
    if wait is not None:
        return throttled_page(request, wait)
    state = request.session.get(_session_key(study), {})
    login(request, returning.user, backend="django.contrib.auth.backends.ModelBackend")
    request.session[_session_key(study)] = state | {"crowd": crowd, "consent": True}
    return redirect("annotation:annotate", slug=study.slug)


@study_page
@require_http_methods(["GET", "POST"])
def study_profile(request: HttpRequest, study: Study) -> HttpResponse:
    if participant_for_user(study=study, user=request.user):
        return redirect("annotation:annotate", slug=study.slug)
    state = request.session.get(_session_key(study), {})
    if not state.get("consent"):
        return redirect("annotation:join", slug=study.slug)
    labels = study.attribute_labels or {}
    attributes = [
        (name, [(value, labels.get(name, {}).get(value, value)) for value in values])
        for name, values in study.group_attributes.items()
    ]
    context = {"study": study, "attributes": attributes, "selected": {}}
    if request.method == "POST":
        selected = {name: request.POST.get(name, "") for name, _values in attributes}
        crowd = state.get("crowd", {})
        wait = attempt_wait(join_checks(request, crowd_external_id(crowd)))
        if wait is not None:
            return throttled_page(request, wait)
        try:
            participant = participant_join(
                study=study, consent=True, attributes=selected, crowd_params=crowd, user=request.user
            )
        except (InputError, Rejected) as exc:
            resumed = _resume(request, study, crowd) if getattr(exc, "code", "") == "already_joined" else None
            if resumed is not None:
                return resumed  # joined meanwhile on another device
            context |= {"selected": selected, "error": getattr(exc, "message", str(exc))}
            return render(request, "annotation/profile.html", context, status=400)
        if not request.user.is_authenticated:
            login(request, participant.user, backend="django.contrib.auth.backends.ModelBackend")
            # login() rotates the session; keep what the join page recorded.
            request.session[_session_key(study)] = state
        return redirect("annotation:annotate", slug=study.slug)
    return render(request, "annotation/profile.html", context)


def _next_task(participant: Participant) -> Task | SetTask | None:
    if participant.study.task == Study.Task.SET:
        return set_next_for_annotator(participant=participant)
    return pair_next_for_annotator(participant=participant)


def _task_context(participant: Participant, task: Task | SetTask, **extra) -> dict:
    shown = set_widget_context(task.shown) if isinstance(task, SetTask) else {"left": task.left, "right": task.right}
    return {
        "study": participant.study, "progress": task.progress, "task": task, "prompt": task.prompt,
        "client_id": uuid.uuid4().hex, **shown,
        "lease_seconds": max(0, int((task.expires_at - timezone.now()).total_seconds())), **extra,
    }


@study_page
def study_annotate(request: HttpRequest, study: Study) -> HttpResponse:
    participant = participant_for_user(study=study, user=request.user)
    if participant is None:
        return redirect("annotation:join", slug=study.slug)
    if study.task == Study.Task.CONVERSATION:
        return redirect("annotation:conversation", slug=study.slug)  # annotation/conversation_views.py
    # Practice items are pairs: a set study's annotators start on their first set.
    practice = study.practice and study.task == Study.Task.PAIR
    if practice and not request.session.get(_session_key(study), {}).get("practised"):
        if participant_progress(participant=participant).done == 0:
            return redirect("annotation:practice", slug=study.slug)
    task = _next_task(participant)
    if task is None:
        if awaiting_pairs(participant=participant):
            return _preparing_page(request, study)
        return redirect("annotation:done", slug=study.slug)
    return render(request, "annotation/annotate.html", _task_context(participant, task))


def _preparing_page(request: HttpRequest, study: Study) -> HttpResponse:
    # Not the completion page: a study still embedding its texts has no pairs *yet*, and a code now would pay
    # for work nobody did.
    response = render(request, "annotation/preparing.html", {
        "study": study, "message": _("This study is still being prepared. Please try again in a few minutes."),
    })
    response["Retry-After"] = "60"
    return response


@study_page
@require_POST
def study_judge(request: HttpRequest, study: Study) -> HttpResponse:
    """Record the judgment and answer with the next task (an htmx partial) or a redirect to completion."""
    participant = participant_for_user(study=study, user=request.user)
    if participant is None:
        return HttpResponse(status=403)
    refused = None
    try:
        if study.task == Study.Task.SET:
            submission = set_judgment_submit(user=request.user, data=set_judgment_input(_set_judgment_body(request)))
        else:
            submission = judgment_submit(user=request.user, data=_judgment_input(request))
        if submission.screened_out:
            participant.screened_out_at = timezone.now()  # failed the attention checks: no further task
    except (InputError, Rejected) as exc:
        refused = exc
    return _next_task_answer(request, participant, refused)


@study_page
@require_POST
def study_skip(request: HttpRequest, study: Study) -> HttpResponse:
    """The annotator cannot judge the pair on screen: release it and answer with the next task."""
    participant = participant_for_user(study=study, user=request.user)
    if participant is None:
        return HttpResponse(status=403)
    refused = None
    try:
        assignment_skip(user=request.user, assignment_id=form_integer(
            request.POST.get("assignment", ""), "assignment", maximum=INT64_MAX))
    except InputError:
        refused = InputError(_("The form was incomplete; please choose again."), field="assignment")
    except Rejected as exc:
        refused = exc
    return _next_task_answer(request, participant, refused)


def _next_task_answer(request: HttpRequest, participant: Participant, refused: Exception | None) -> HttpResponse:
    """The next task (an htmx partial, or the whole page), or a redirect to completion; after a refusal,
    with the reason and the answer the annotator gave."""
    task = _next_task(participant)
    if task is None:
        name = "annotation:annotate" if awaiting_pairs(participant=participant) else "annotation:done"
        url = reverse(name, kwargs={"slug": participant.study.slug})
        if request.headers.get("HX-Request"):
            return HttpResponse(status=204, headers={"HX-Redirect": url})
        return redirect(url)
    context = _task_context(participant, task)
    status = 200
    if refused is not None:
        context |= _refusal_context(request, task, refused)
        status = getattr(refused, "status", 400)
    partial = "annotation/_set_task.html" if isinstance(task, SetTask) else "annotation/_task.html"
    template = partial if request.headers.get("HX-Request") else "annotation/annotate.html"
    # htmx swaps only 2xx answers by default; the notice says what went wrong.
    return render(request, template, context, status=200 if request.headers.get("HX-Request") else status)


def _refusal_context(request: HttpRequest, task: Task | SetTask, refused: Exception) -> dict:
    """The reason, and the answer the annotator gave: filled in again if its task is still on screen."""
    if isinstance(task, SetTask):
        kept = set_kept_answer(request.POST, set_on_screen=task.set_id)
        context = {"notice": notice_for(refused, of_set=True), "kept": kept if kept.best else None,
                   **set_widget_context(task.shown, kept)}
        same_task = kept.same_set
    else:
        kept = kept_answer(request.POST, pair_on_screen=task.pair_id)
        context = {"notice": notice_for(refused), "kept": kept if kept.choice else None}
        same_task = kept.same_pair
    if same_task and request.POST.get("client_id"):
        context["client_id"] = request.POST["client_id"]  # nothing was stored under it
    return context


@study_page
@require_http_methods(["GET", "POST"])
def study_practice(request: HttpRequest, study: Study) -> HttpResponse:
    """Practice pairs before the first task, one at a time, with feedback; nothing is stored."""
    if participant_for_user(study=study, user=request.user) is None:
        return redirect("annotation:join", slug=study.slug)
    try:
        index = max(0, int(request.GET.get("item", request.POST.get("item", 0))))
    except ValueError:
        index = 0
    if index >= len(study.practice) or request.GET.get("done"):
        state = request.session.get(_session_key(study), {})
        request.session[_session_key(study)] = state | {"practised": True}
        return redirect("annotation:annotate", slug=study.slug)
    item = study.practice[index]
    context = {"study": study, "item": item, "index": index, "number": index + 1, "count": len(study.practice)}
    if request.method == "POST":
        choice = request.POST.get("choice", "")
        context |= {"answered": choice, "agrees": not item["expected"] or choice == item["expected"],
                    "expected_label": KeptAnswer(item["expected"], "", "", False).choice_label}
    return render(request, "annotation/practice.html", context)


@study_page
@require_POST
def study_renew(request: HttpRequest, study: Study) -> HttpResponse:
    """The annotate page keeps its pair while the annotator is active: JSON with the seconds left."""
    if participant_for_user(study=study, user=request.user) is None:
        return JsonResponse({"message": _("Please join the study first.")}, status=403)
    try:
        expires_at = assignment_renew(user=request.user, assignment_id=form_integer(
            request.POST.get("assignment", ""), "assignment", maximum=INT64_MAX))
    except InputError:
        return JsonResponse({"message": _("The form was incomplete; please choose again.")}, status=400)
    except Rejected as exc:
        return JsonResponse({"message": notice_for(exc, of_set=study.task == Study.Task.SET)}, status=exc.status)
    return JsonResponse({"expires_in_s": int((expires_at - timezone.now()).total_seconds())})


def _form_assignment(request: HttpRequest) -> int:
    try:
        return form_integer(request.POST.get("assignment", ""), "assignment", maximum=INT64_MAX)
    except InputError:
        raise InputError(_("The form was incomplete; please choose again."), field="assignment") from None


def _form_time_taken(request: HttpRequest) -> int | None:
    time_taken = request.POST.get("time_taken_ms") or None
    # The page measures this itself; a tampered value is dropped rather than costing the annotator a judgment.
    try:
        return form_integer(time_taken, "time_taken_ms") if time_taken else None
    except InputError:
        return None


def _judgment_input(request: HttpRequest) -> JudgmentInput:
    return JudgmentInput(
        assignment_id=_form_assignment(request),
        choice=request.POST.get("choice", ""),
        client_id=request.POST.get("client_id", ""),
        strength=request.POST.get("strength", ""),
        rationale=request.POST.get("rationale", ""),
        time_taken_ms=_form_time_taken(request),
    )


def _set_judgment_body(request: HttpRequest) -> dict:
    """The set widget's form as the body the API sends (annotation/set_page.py says what the form holds)."""
    return {
        "assignment": _form_assignment(request), "best": request.POST.get("best", ""),
        "ranking": ranking_from_places(request.POST.getlist("place")),
        "explanation": request.POST.get("explanation", ""), "client_id": request.POST.get("client_id", ""),
        "time_taken_ms": _form_time_taken(request),
    }


@study_page
def study_done(request: HttpRequest, study: Study) -> HttpResponse:
    participant = participant_for_user(study=study, user=request.user)
    if participant is None:
        return redirect("annotation:join", slug=study.slug)
    outcome = participant_outcome(participant=participant)
    # Screened out: the screened-out code at once; otherwise the code only once earned.
    progress = (participant_progress(participant=participant) if outcome.screened_out
                else completion_progress(participant=participant))
    if progress is None:  # work remains: no code yet
        return redirect("annotation:annotate", slug=study.slug)
    return render(request, "annotation/done.html", {
        "study": study, "progress": progress, "choices": Judgment.Choice,
        "outcome": outcome, "completion_url": outcome.url,
    })
