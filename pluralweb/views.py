from django.contrib import admin
from django.contrib.auth.views import LoginView
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.defaults import page_not_found
from rest_framework.authtoken.views import ObtainAuthToken

from annotation.access import is_researcher
from annotation.models import Study
from annotation.pairing_jobs import study_preparation
from pluralweb.startup import warm_up_finished
from pluralweb.throttling import LoginThrottle, attempt_wait, login_checks, throttled_page


def home(request: HttpRequest) -> HttpResponse:
    studies = list(Study.objects.all()) if is_researcher(request.user) else []
    for study in studies:  # a study whose import is still embedding says so, with its progress
        study.preparation = study_preparation(study=study)
    return render(request, "home.html", {"studies": studies})


def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness (the database answers) and readiness: `warm` is false while the warm-up loads the model."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"ok": True, "warm": warm_up_finished()})


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """404 for unmatched URLs: JSON under /api/ (as the API documents), Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)
    return page_not_found(request, exception)


class ThrottledLoginView(LoginView):
    """The sign-in page, counting each password attempt (pluralweb/throttling.py)."""

    template_name = "registration/login.html"

    def post(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        wait = attempt_wait(login_checks(request, request.POST.get("username")))
        if wait is not None:
            return throttled_page(request, wait)
        return super().post(request, *args, **kwargs)


def admin_login(request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
    """The Django admin's sign-in, counted like the other two password doors."""
    if request.method == "POST":
        wait = attempt_wait(login_checks(request, request.POST.get("username")))
        if wait is not None:
            return throttled_page(request, wait)
    return admin.site.login(request, extra_context)


class ThrottledObtainAuthToken(ObtainAuthToken):
    """POST username + password for an API token; attempts are counted per address, user and site."""

    throttle_classes = [LoginThrottle]
