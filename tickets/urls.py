from django.urls import path

from tickets import views

app_name = "tickets"
urlpatterns = [
    path("<str:reference>/<str:token>/", views.ticket_status, name="status"),
]
