from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from alignment.urls import api_urls as alignment_api_urls
from alignment.urls import page_urls as alignment_page_urls
from annotation.urls import api_urls, page_urls
from pluralweb import views

urlpatterns = [
    # First: the annotation loop's API (next, submit) is most of the traffic, and resolving walks the list.
    path("api/", include((api_urls, "annotation"), namespace="api")),
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("admin/login/", views.admin_login),
    path("admin/", admin.site.urls),
    path("accounts/login/", views.ThrottledLoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/auth/token/", views.ThrottledObtainAuthToken.as_view(), name="api-token"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("studies/<slug:slug>/dashboards/", include("alignment.dashboards.urls")),
    path("api/", include((alignment_api_urls, "alignment"), namespace="alignment-api")),
    path("", include((alignment_page_urls, "alignment"), namespace="alignment")),
    path("", include((page_urls, "annotation"), namespace="annotation")),
]

handler404 = "pluralweb.views.not_found"
