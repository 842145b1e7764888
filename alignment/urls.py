from django.urls import path

from alignment import api, views

page_urls = [
    path("studies/<slug:slug>/models/", views.study_models, name="models"),
    path("studies/<slug:slug>/models/launch/", views.study_fit_launch, name="fit-launch"),
    path("studies/<slug:slug>/fits/<int:run_id>/", views.fit_run_page, name="fit-run"),
    path("studies/<slug:slug>/fits/<int:run_id>/progress/", views.fit_run_progress, name="fit-progress"),
    path("studies/<slug:slug>/fits/<int:run_id>/cancel/", views.fit_run_cancel_view, name="fit-cancel"),
]

api_urls = [
    path("studies/<slug:slug>/fits/", api.StudyFitsApi.as_view(), name="api-fits"),
    path("fits/<int:run_id>/", api.FitRunDetailApi.as_view(), name="api-fit"),
    path("fits/<int:run_id>/cancel/", api.FitRunCancelApi.as_view(), name="api-fit-cancel"),
    path("studies/<slug:slug>/reward/", api.StudyRewardApi.as_view(), name="api-reward"),
    path("studies/<slug:slug>/mixture/", api.StudyMixtureApi.as_view(), name="api-mixture"),
    path("studies/<slug:slug>/examples/", api.StudyExamplesApi.as_view(), name="api-examples"),
    path("studies/<slug:slug>/bridging/", api.StudyBridgingApi.as_view(), name="api-bridging"),
]
