from django.urls import include, path, re_path
from rest_framework.routers import DefaultRouter

from guides.api import attempts, follow_ups
from guides.api.views import CompanyViewSet, GuideViewSet
from helpdesk.views import api_not_found
from tickets.api import escalation, statistics
from tickets.api.views import (
    AgentAvailabilityView,
    CustomerTicketRatingView,
    CustomerTicketReplyView,
    CustomerTicketSolveView,
    CustomerTicketStillNeedHelpView,
    CustomerTicketView,
    QueueOverviewView,
    TicketViewSet,
)
from tickets.api.webhooks import WebhookEndpointViewSet

router = DefaultRouter()
router.include_root_view = False
router.register("companies", CompanyViewSet, basename="company")
router.register("guides", GuideViewSet, basename="guide")
router.register("tickets", TicketViewSet, basename="ticket")
router.register("webhooks", WebhookEndpointViewSet, basename="webhook")

app_name = "api"
urlpatterns = [
    path(
        "guides/<int:guide_id>/attempts/", attempts.AttemptStartView.as_view(), name="attempt-start"
    ),
    path(
        "guides/<int:guide_id>/feedback/",
        attempts.GuideFeedbackView.as_view(),
        name="guide-feedback",
    ),
    path(
        "guides/<int:guide_id>/statistics/",
        statistics.GuideStatisticsView.as_view(),
        name="guide-statistics",
    ),
    path(
        "guides/<int:guide_id>/steps/<int:step_id>/failure-notes/",
        statistics.StepFailureNotesView.as_view(),
        name="step-failure-notes",
    ),
    path("statistics/deflection/", statistics.DeflectionView.as_view(), name="deflection"),
    path("attempt/", attempts.AttemptDetailView.as_view(), name="attempt-detail"),
    path("attempt/outcomes/", attempts.StepOutcomeRecordView.as_view(), name="attempt-outcomes"),
    path("attempt/feedback/", attempts.AttemptFeedbackView.as_view(), name="attempt-feedback"),
    path("attempt/contact/", escalation.AttemptContactView.as_view(), name="attempt-contact"),
    path("attempt/abandon/", attempts.AttemptAbandonView.as_view(), name="attempt-abandon"),
    path(
        "customer/tickets/<str:reference>/",
        CustomerTicketView.as_view(),
        name="customer-ticket",
    ),
    path(
        "customer/tickets/<str:reference>/replies/",
        CustomerTicketReplyView.as_view(),
        name="customer-ticket-replies",
    ),
    path(
        "customer/tickets/<str:reference>/solve/",
        CustomerTicketSolveView.as_view(),
        name="customer-ticket-solve",
    ),
    path(
        "customer/tickets/<str:reference>/still-need-help/",
        CustomerTicketStillNeedHelpView.as_view(),
        name="customer-ticket-still-need-help",
    ),
    path(
        "customer/tickets/<str:reference>/rating/",
        CustomerTicketRatingView.as_view(),
        name="customer-ticket-rating",
    ),
    path("follow-ups/", follow_ups.FollowUpAskView.as_view(), name="follow-up-ask"),
    path(
        "follow-ups/<int:follow_up_id>/verdict/",
        follow_ups.FollowUpVerdictView.as_view(),
        name="follow-up-verdict",
    ),
    path("agents/me/availability/", AgentAvailabilityView.as_view(), name="agent-availability"),
    path("queues/overview/", QueueOverviewView.as_view(), name="queue-overview"),
    path("", include(router.urls)),
    # Anything else under the API answers in the API's error shape, even with DEBUG on.
    re_path(r"^.*$", api_not_found),
]
