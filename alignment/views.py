"""Researcher pages for a study's models: fit runs, launching (admins), live progress."""

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from alignment.fit_params import FIT_PARAMS, PROMPTS, attribute_check
from alignment.fit_plots import loss_curve_figure
from alignment.fit_requirements import fit_requirements
from alignment.fit_run_display import failure_reason, metrics_rows
from alignment.fits import fit_run_cancel, fit_run_launch, fit_runs_fail_stale
from alignment.models import FitRun
from alignment.selectors import fit_current, fit_eta_seconds, fit_run_get, fit_runs_for
from annotation.access import is_admin, is_researcher
from annotation.counted_judgments import study_has_conversations
from annotation.errors import InputError, Rejected
from annotation.selectors import study_get


def _researcher_study(request: HttpRequest, slug: str):
    if not is_researcher(request.user):
        raise PermissionDenied
    try:
        return study_get(slug=slug)
    except Rejected:
        raise PermissionDenied from None


def _form_fields(kind: str) -> list[tuple[str, str, str]]:
    return [(p.name, p.label, str(p.default)) for p in FIT_PARAMS[kind] if p.on_page and not p.choices]


@login_required
def study_models(request: HttpRequest, slug: str) -> HttpResponse:
    study = _researcher_study(request, slug)
    fit_runs_fail_stale()
    return render(request, "alignment/models.html", _models_context(request, study))


def _models_context(request: HttpRequest, study, error: str = "") -> dict:
    runs = fit_runs_for(study=study)
    for run in runs:
        run.reason = failure_reason(run.error) if run.error else ""
    return {
        "study": study, "runs": runs, "can_launch": is_admin(request.user),
        "current": {kind: fit_current(study=study, kind=kind) for kind, _ in FitRun.Kind.choices},
        "pal_fields": _form_fields(FitRun.Kind.PAL), "spica_fields": _form_fields(FitRun.Kind.SPICA),
        "pal_models": next(p.choices for p in FIT_PARAMS[FitRun.Kind.PAL] if p.name == "model"), "error": error,
        "prompt_scopes": PROMPTS.choices if study_has_conversations(study=study) else (),
        "requirements": fit_requirements(study=study),
    }


@login_required
@require_POST
def study_fit_launch(request: HttpRequest, slug: str) -> HttpResponse:
    study = _researcher_study(request, slug)
    if not is_admin(request.user):
        raise PermissionDenied
    kind = request.POST.get("kind", FitRun.Kind.PAL)
    # Blank fields take the defaults; the service checks the rest.
    params = {p.name: request.POST[p.name] for p in FIT_PARAMS.get(kind, ())
              if p.on_page and request.POST.get(p.name, "").strip()}
    for name in ("attribute", "prompts"):  # selects drawn by the page itself, not generic fields
        if request.POST.get(name):
            params[name] = request.POST[name]
    try:
        attribute_check(study, params.get("attribute"))
        run = fit_run_launch(study=study, kind=kind, params=params, user=request.user)
    except (InputError, Rejected) as exc:
        context = _models_context(request, study, getattr(exc, "message", str(exc)))
        return render(request, "alignment/models.html", context, status=getattr(exc, "status", 400))
    return redirect("alignment:fit-run", slug=study.slug, run_id=run.pk)


def _run_context(request: HttpRequest, slug: str, run_id: int) -> dict:
    study = _researcher_study(request, slug)
    run = fit_run_get(run_id=run_id)
    if run.study_id != study.pk:
        raise PermissionDenied
    history = (run.progress or {}).get("history", [])
    progress = run.progress or {}
    percent = round(100 * progress.get("epoch", 0) / progress["total"]) if progress.get("total") else 0
    # SPICA has no epochs and no loss: its progress steps are phases, and it gets no loss chart.
    has_loss = run.kind == FitRun.Kind.PAL and bool(history)
    return {"study": study, "run": run, "eta": fit_eta_seconds(run), "percent": 100 if run.finished else percent,
            "loss_figure": loss_curve_figure(history) if has_loss else None, "can_launch": is_admin(request.user),
            "reason": failure_reason(run.error) if run.error else "", "metrics": metrics_rows(run.metrics or {})}


@login_required
def fit_run_page(request: HttpRequest, slug: str, run_id: int) -> HttpResponse:
    try:
        return render(request, "alignment/fit_run.html", _run_context(request, slug, run_id))
    except Rejected:
        raise PermissionDenied from None


@login_required
def fit_run_progress(request: HttpRequest, slug: str, run_id: int) -> HttpResponse:
    fit_runs_fail_stale()
    context = _run_context(request, slug, run_id)
    # 286 is htmx's "stop polling": the final state is swapped in and the page goes quiet.
    return render(request, "alignment/_fit_progress.html", context, status=286 if context["run"].finished else 200)


@login_required
@require_POST
def fit_run_cancel_view(request: HttpRequest, slug: str, run_id: int) -> HttpResponse:
    context = _run_context(request, slug, run_id)
    if not is_admin(request.user):
        raise PermissionDenied
    try:
        fit_run_cancel(run=context["run"])
    except Rejected:
        pass  # already finished: the page shows how
    return redirect("alignment:fit-run", slug=slug, run_id=run_id)
