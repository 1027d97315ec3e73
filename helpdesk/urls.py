from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from guides import urls as guide_urls
from helpdesk import views
from tickets import urls as ticket_urls

admin.site.site_header = "Helpdesk"
admin.site.site_title = "Helpdesk admin"

urlpatterns = [
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
