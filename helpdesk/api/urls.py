from django.urls import include, path
from rest_framework.routers import DefaultRouter

from guides.api.views import CompanyViewSet, GuideViewSet

router = DefaultRouter()
router.include_root_view = False
router.register("companies", CompanyViewSet, basename="company")
router.register("guides", GuideViewSet, basename="guide")

app_name = "api"
urlpatterns = [path("", include(router.urls))]
