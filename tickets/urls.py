from django.urls import path

from tickets import views

app_name = "tickets"
urlpatterns = [
    path("new/", views.contact, name="contact"),
    path("new/guides/<int:guide_id>/", views.contact_guide_open, name="contact-guide-open"),
    # Before the status page's pattern, which these two segments would also match.
    path("rate/<str:token>/", views.ticket_rate_link, name="rate"),
    path("files/<str:token>/", views.attachment_download, name="attachment"),
    path("<str:reference>/<str:token>/", views.ticket_status, name="status"),
    path("<str:reference>/<str:token>/state/", views.ticket_status_state, name="status-state"),
]

# The door from a guide to a person belongs to tickets (guides never imports tickets), but it
# keeps its place under the guide's path and its name in the guides namespace: helpdesk.urls
# adds these to guides.urls' patterns.
guide_urlpatterns = [
    path(
        "guides/<slug:company>/<str:language>/<slug:slug>/contact/",
        views.guide_contact,
        name="contact",
    ),
]
