from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.defaults import page_not_found

from annotation.access import is_researcher
from annotation.models import Study


def home(request: HttpRequest) -> HttpResponse:
    studies = Study.objects.all() if is_researcher(request.user) else Study.objects.none()
    return render(request, "home.html", {"studies": studies})


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"ok": True})


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """404 for unmatched URLs: JSON under /api/ (as the API documents), Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)
    return page_not_found(request, exception)
