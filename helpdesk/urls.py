from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from guides import urls as guide_urls
from helpdesk import admin_mail, views
from tickets import inbound_webhook
from tickets import urls as ticket_urls

urlpatterns = [
    # The e-mails kept on the embedded default (helpdesk.admin_mail; 404 with other backends),
    # ahead of the admin's own URLs, whose catch-all would answer first.
    path("admin/mail/", admin.site.admin_view(admin_mail.mail_list), name="admin_mail"),
    path(
        "admin/mail/<str:name>/",
        admin.site.admin_view(admin_mail.mail_detail),
        name="admin_mail_detail",
    ),
    path(
        "admin/mail/<str:name>/html/",
        admin.site.admin_view(admin_mail.mail_html),
        name="admin_mail_html",
    ),
    path("admin/", admin.site.urls),
    path("api/v1/", include("helpdesk.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api-schema"),
        name="api-docs",
    ),
    path("healthz", views.healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("tickets/", include("tickets.urls")),
    # Replies by e-mail from Mailgun (tickets.inbound_webhook), at anymail's usual path: a
    # route forwarding the parsed message or the raw one (…/inbound_mime/).
    re_path(
        r"^anymail/mailgun/inbound(?:_mime)?/$",
        inbound_webhook.mailgun_inbound,
        name="mailgun_inbound_webhook",
    ),
    # The guide pages, with the tickets' "talk to a person" in the same namespace (guides:…).
    path(
        "",
        include(
            (
                [*guide_urls.urlpatterns, *ticket_urls.guide_urlpatterns],
                guide_urls.app_name,
            )
        ),
    ),
]
