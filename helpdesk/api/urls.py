from django.urls import include, path, re_path
from rest_framework.routers import DefaultRouter

from guides.api.views import CompanyViewSet, GuideViewSet
from helpdesk.views import api_not_found

router = DefaultRouter()
router.include_root_view = False
router.register("companies", CompanyViewSet, basename="company")
router.register("guides", GuideViewSet, basename="guide")

app_name = "api"
urlpatterns = [
    path("", include(router.urls)),
    # Anything else under the API answers in the API's error shape, even with DEBUG on.
    re_path(r"^.*$", api_not_found),
]
