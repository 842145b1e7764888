"""The quality page (researchers): per-annotator figures, downloads, and the flag / exclude forms.

Thin doors: annotation/quality.py computes, annotation/annotator_review.py writes.
"""

import csv

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from annotation.access import is_admin, is_researcher
from annotation.annotator_review import annotator_flag, annotator_set_excluded, annotator_unflag
from annotation.errors import InputError, Rejected
from annotation.models import Participant, Study
from annotation.quality import AnnotatorQuality, study_annotator_quality
from annotation.selectors import study_get

COLUMNS = list(AnnotatorQuality.__dataclass_fields__)


def _message(request: HttpRequest, message: str, status: int) -> HttpResponse:
    return render(request, "annotation/message.html", {"message": message}, status=status)


def _researcher_study(request: HttpRequest, slug: str) -> Study | HttpResponse:
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not is_researcher(request.user):
        return _message(request, _("Only researchers and admins may review annotators."), 403)
    try:
        return study_get(slug=slug)
    except Rejected:
        return _message(request, _("This study does not exist."), 404)


def study_quality(request: HttpRequest, slug: str) -> HttpResponse:
    study = _researcher_study(request, slug)
    if isinstance(study, HttpResponse):
        return study
    rows = [row.as_row() for row in study_annotator_quality(study=study)]
    download = request.GET.get("download")
    if download == "json":
        response = JsonResponse({"study": study.slug, "min_judgment_ms": study.min_judgment_ms, "annotators": rows})
        response["Content-Disposition"] = f'attachment; filename="{study.slug}-quality.json"'
        return response
    if download == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{study.slug}-quality.csv"'
        writer = csv.writer(response)
        writer.writerow(COLUMNS)
        writer.writerows(["" if row[c] is None else row[c] for c in COLUMNS] for row in rows)
        return response
    if download:
        return _message(request, _("download must be csv or json."), 400)
    return render(request, "annotation/quality.html", {
        "study": study, "rows": rows, "can_exclude": is_admin(request.user),
        "has_gold": study.gold_items.exists(),
    })


@require_POST
def study_annotator_review(request: HttpRequest, slug: str, participant_id: int) -> HttpResponse:
    """action = flag (with note), unflag, exclude or include; back to the quality page."""
    study = _researcher_study(request, slug)
    if isinstance(study, HttpResponse):
        return study
    participant = Participant.objects.filter(study=study, pk=participant_id).first()
    if participant is None:
        return _message(request, _("This annotator is not in this study."), 404)
    action = request.POST.get("action", "")
    try:
        if action == "flag":
            annotator_flag(participant=participant, note=request.POST.get("note", ""), by=request.user)
        elif action == "unflag":
            annotator_unflag(participant=participant, by=request.user)
        elif action in ("exclude", "include"):
            annotator_set_excluded(participant=participant, excluded=action == "exclude", by=request.user)
        else:
            raise InputError("must be flag, unflag, exclude or include", field="action")
    except (InputError, Rejected) as exc:
        return _message(request, getattr(exc, "message", str(exc)), getattr(exc, "status", 400))
    return redirect(reverse("annotation:quality", kwargs={"slug": study.slug}) + f"#annotator-{participant.pk}")
