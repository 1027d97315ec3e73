from django.urls import path

from tickets import views

app_name = "tickets"
urlpatterns = [
    path("new/", views.contact, name="contact"),
    path("new/guides/<int:guide_id>/", views.contact_guide_open, name="contact-guide-open"),
    path("<str:reference>/<str:token>/", views.ticket_status, name="status"),
]
