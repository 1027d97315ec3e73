from django.urls import path

from guides import follow_up_views, search_views, views

app_name = "guides"
# "Talk to a person" (guides:contact) is a tickets view, added to this namespace by
# helpdesk.urls: see tickets.urls.guide_urlpatterns.
urlpatterns = [
    path("", views.home, name="home"),
    path("companies/<slug:company>/", views.company_detail, name="company-detail"),
    path("search/", search_views.search, name="search"),
    path("search/suggestions/", search_views.search_suggestions, name="search-suggestions"),
    path("search/guides/<int:guide_id>/", views.search_result_open, name="search-result-open"),
    path(
        "guides/<slug:company>/<str:language>/<slug:slug>/",
        views.guide_detail,
        name="guide-detail",
    ),
    path(
        "guides/<slug:company>/<str:language>/<slug:slug>/steps/<int:step_id>/outcome/",
        views.step_outcome,
        name="step-outcome",
    ),
    path(
        "guides/<slug:company>/<str:language>/<slug:slug>/restart/",
        views.attempt_restart,
        name="attempt-restart",
    ),
    path(
        "guides/<slug:company>/<str:language>/<slug:slug>/feedback/",
        views.feedback,
        name="feedback",
    ),
    path("follow-ups/", follow_up_views.follow_up_ask, name="follow-up-ask"),
    path("follow-ups/<str:token>/", follow_up_views.follow_up_page, name="follow-up"),
    path(
        "follow-ups/<str:token>/verdict/",
        follow_up_views.follow_up_verdict,
        name="follow-up-verdict",
    ),
]
