"""Mounted under /studies/<slug>/dashboards/ (pluralweb/urls.py): one page per dashboard of the catalog."""

from django.urls import path

from alignment.dashboards import views
from alignment.dashboards.catalog import DASHBOARDS

app_name = "dashboards"

urlpatterns = [path(f"{d.name}/", getattr(views, d.name), name=d.name) for d in DASHBOARDS]
