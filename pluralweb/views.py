from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from annotation.access import is_researcher
from annotation.models import Study


def home(request: HttpRequest) -> HttpResponse:
    studies = Study.objects.all() if is_researcher(request.user) else Study.objects.none()
    return render(request, "home.html", {"studies": studies})


def healthz(request: HttpRequest) -> JsonResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"ok": True})
