from django.urls import path

from annotation import api, conversation_views, loop_api, quality_views, views
from annotation import conversation_api as conv

app_name = "annotation"

page_urls = [
    path("s/<slug:slug>/", views.study_join, name="join"),
    path("s/<slug:slug>/profile/", views.study_profile, name="profile"),
    path("s/<slug:slug>/annotate/", views.study_annotate, name="annotate"),
    path("s/<slug:slug>/judge/", views.study_judge, name="judge"),
    path("s/<slug:slug>/done/", views.study_done, name="done"),
    path("studies/<slug:slug>/quality/", quality_views.study_quality, name="quality"),
    path("studies/<slug:slug>/quality/<int:participant_id>/", quality_views.study_annotator_review,
         name="annotator-review"),
    path("s/<slug:slug>/renew/", views.study_renew, name="renew"),
    path("s/<slug:slug>/skip/", views.study_skip, name="skip"),
    path("s/<slug:slug>/practice/", views.study_practice, name="practice"),
    path("s/<slug:slug>/conversation/", conversation_views.conversation_page, name="conversation"),
    path("s/<slug:slug>/conversation/act/", conversation_views.conversation_act, name="conversation-act"),
]

api_urls = [
    # The annotation loop first: resolving walks this list for every call.
    path("studies/<slug:slug>/next/", loop_api.StudyNextApi.as_view(), name="api-next"),
    path("judgments/", loop_api.JudgmentCreateApi.as_view(), name="api-judgments"),
    path("set-judgments/", loop_api.SetJudgmentCreateApi.as_view(), name="api-set-judgments"),
    path("studies/", api.StudyListApi.as_view(), name="api-studies"),
    path("studies/<slug:slug>/", api.StudyDetailApi.as_view(), name="api-study"),
    path("studies/<slug:slug>/join/", api.StudyJoinApi.as_view(), name="api-join"),
    path("studies/<slug:slug>/export/", api.StudyExportApi.as_view(), name="api-export"),
    path("assignments/<int:pk>/renew/", api.AssignmentRenewApi.as_view(), name="api-renew"),
    path("assignments/<int:pk>/skip/", api.AssignmentSkipApi.as_view(), name="api-skip"),
    path("studies/<slug:slug>/judgments/import/", api.StudyJudgmentsImportApi.as_view(), name="api-import-judgments"),
    path("studies/<slug:slug>/conversations/", conv.ConversationListApi.as_view(), name="api-conversations"),
    path("conversations/<int:pk>/", conv.ConversationDetailApi.as_view(), name="api-conversation"),
    path("conversations/<int:pk>/turns/", conv.ConversationTurnApi.as_view(), name="api-conversation-turns"),
    path("conversations/<int:pk>/turns/<int:turn>/judgment/", conv.TurnJudgmentApi.as_view(),
         name="api-conversation-judgment"),
    path("conversations/<int:pk>/retry/", conv.ConversationRetryApi.as_view(), name="api-conversation-retry"),
]
