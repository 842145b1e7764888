"""Mounted under /studies/<slug>/dashboards/ (pluralweb/urls.py)."""

from django.urls import path

from alignment.dashboards import views

app_name = "dashboards"

urlpatterns = [
    path("divergence/", views.divergence, name="divergence"),
    path("leaderboard/", views.leaderboard, name="leaderboard"),
    path("strategies/", views.strategies, name="strategies"),
    path("progress/", views.progress, name="progress"),
    path("pal/", views.pal, name="pal"),
    path("spica/", views.spica, name="spica"),
]
