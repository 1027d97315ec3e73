from django.urls import path

from guides import views

app_name = "guides"
urlpatterns = [
    path("", views.home, name="home"),
    path("companies/<slug:company>/", views.company_detail, name="company-detail"),
    path(
        "guides/<slug:company>/<str:language>/<slug:slug>/",
        views.guide_detail,
        name="guide-detail",
    ),
]
