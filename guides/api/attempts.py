"""The customer's side of self-help over the API: attempts, step outcomes, feedback.

An anonymous client starts an attempt and gets its secret token once; every later call sends it
in the X-Attempt-Token header. A wrong or unknown token is a 404 that says nothing more.
"""

from __future__ import annotations

from django.core.exceptions import ObjectDoesNotExist
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from guides import selectors, services
from guides.models import Attempt, Guide, StepOutcome
from guides.visitors import FeedbackThrottle, visitor_of, visitor_remember
from helpdesk.api.errors import ErrorSerializer
from helpdesk.api.fields import (
    StrictBooleanField,
    StrictCharField,
    StrictChoiceField,
    StrictIntegerField,
)
from helpdesk.api.inputs import validated
from helpdesk.api.schema import ATTEMPT_TOKEN_AUTH, ERROR_RESPONSES
from helpdesk.api.throttling import CountedThrottlesMixin, ScopedRateThrottle

# Sent on every call but the first; documented as the attemptToken security scheme
# (helpdesk.api.schema), which names the same header.
TOKEN_HEADER_NAME = "X-Attempt-Token"  # noqa: S105 - a header name, not a secret
CONFLICT = {
    409: OpenApiResponse(ErrorSerializer, description="The attempt is escalated or abandoned.")
}
FEEDBACK_CHOICES = ["helpful", "needs_work"]


# --- output -------------------------------------------------------------------------------------


class StepOutcomeOutputSerializer(serializers.ModelSerializer):
    step = serializers.IntegerField(source="step_id", allow_null=True)

    class Meta:
        model = StepOutcome
        fields = [
            "step",
            "step_position",
            "step_kind",
            "step_title",
            "outcome",
            "note",
            "recorded_at",
        ]


class AttemptOutputSerializer(serializers.ModelSerializer):
    guide = serializers.IntegerField(source="guide_id", allow_null=True)
    guide_version = serializers.IntegerField(
        source="guide_version.number",
        allow_null=True,
        help_text="The version of the guide's steps this attempt was shown; null without a guide.",
    )
    step_order = serializers.ListField(
        child=serializers.IntegerField(),
        help_text=(
            "Ids of the steps in the order to show them to this customer: the procedure, the "
            "alternatives, the last resort. Show them in this order (the guide's steps with "
            "this attempt's token come in it too): the statistics count on it."
        ),
    )
    current_outcomes = serializers.SerializerMethodField()
    history = serializers.SerializerMethodField()
    feedback = serializers.SerializerMethodField()
    ticket = serializers.SerializerMethodField(
        help_text="Reference of the ticket once a person has taken over, else null."
    )

    class Meta:
        model = Attempt
        fields = [
            "guide",
            "guide_version",
            "step_order",
            "language",
            "status",
            "started_at",
            "updated_at",
            "finished_at",
            "escalation_requested_at",
            "ticket",
            "current_outcomes",
            "history",
            "feedback",
        ]

    @extend_schema_field(StepOutcomeOutputSerializer(many=True))
    def get_history(self, attempt: Attempt) -> list:
        return list(StepOutcomeOutputSerializer(self.context["history"], many=True).data)

    @extend_schema_field(StepOutcomeOutputSerializer(many=True))
    def get_current_outcomes(self, attempt: Attempt) -> list:
        current = selectors.current_outcomes(self.context["history"])
        ordered = sorted(current.values(), key=lambda outcome: outcome.step_position)
        return list(StepOutcomeOutputSerializer(ordered, many=True).data)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_ticket(self, attempt: Attempt) -> str | None:
        try:
            return attempt.ticket.reference
        except ObjectDoesNotExist:
            return None

    @extend_schema_field(serializers.ChoiceField(choices=FEEDBACK_CHOICES, allow_null=True))
    def get_feedback(self, attempt: Attempt) -> str | None:
        feedback = self.context.get("feedback")
        if feedback is None:
            return None
        return "helpful" if feedback.helpful else "needs_work"


class AttemptStartedOutputSerializer(AttemptOutputSerializer):
    token = serializers.CharField(help_text="Keep it: it is shown only once.")

    class Meta(AttemptOutputSerializer.Meta):
        fields = ["token", *AttemptOutputSerializer.Meta.fields]


def attempt_state(attempt: Attempt) -> dict:
    history = selectors.attempt_outcome_history(attempt=attempt)
    context = {"history": history, "feedback": selectors.attempt_feedback(attempt=attempt)}
    return dict(AttemptOutputSerializer(attempt, context=context).data)


# --- input --------------------------------------------------------------------------------------


class StepOutcomeInputSerializer(serializers.Serializer):
    step = StrictIntegerField(min_value=1, help_text="Id of a step of the attempt's guide.")
    outcome = StrictChoiceField(choices=StepOutcome.Outcome.choices)
    note = StrictCharField(
        required=False, allow_blank=True, max_length=2000, default="",
        help_text="What the customer saw, e.g. the error message.",
    )  # fmt: skip


class FeedbackInputSerializer(serializers.Serializer):
    helpful = StrictBooleanField()
    comment = StrictCharField(required=False, allow_blank=True, max_length=2000, default="")


# --- views --------------------------------------------------------------------------------------


class _AnonymousWriteThrottle(ScopedRateThrottle):
    """Writes by anonymous clients are rate-limited per address (see API_ANON_WRITE_RATE)."""

    def allow_request(self, request, view) -> bool:
        if request.method in ("GET", "HEAD", "OPTIONS") or request.user.is_authenticated:
            return True
        return super().allow_request(request, view)


# A call of the anonymous customer who holds an attempt's token (see attempt()); a comment, not
# a docstring, as drf-spectacular would show a docstring as each operation's description.
class AttemptView(CountedThrottlesMixin, APIView):
    throttle_scope = "anon_write"
    authentication_classes: list = []

    def get_throttles(self):
        return [*super().get_throttles(), _AnonymousWriteThrottle()]

    def attempt(self, request: Request) -> Attempt:
        attempt = selectors.attempt_by_token(self.attempt_token(request))
        if attempt is None:
            raise NotFound()
        return attempt

    def attempt_id(self, request: Request) -> int:
        """The attempt's id alone, for a call that needs nothing else of it (escalate)."""
        attempt_id = selectors.attempt_id_by_token(self.attempt_token(request))
        if attempt_id is None:
            raise NotFound()
        return attempt_id

    @staticmethod
    def attempt_token(request: Request) -> str:
        token = request.headers.get(TOKEN_HEADER_NAME, "").strip()
        if not token:
            raise ValidationError({TOKEN_HEADER_NAME: ["This header is required."]})
        return token


class AttemptStartView(AttemptView):
    @extend_schema(
        summary="Start an attempt at a published guide",
        request=None,
        responses={201: AttemptStartedOutputSerializer, **ERROR_RESPONSES},
    )
    def post(self, request: Request, guide_id: int) -> Response:
        guide = get_object_or_404(Guide, pk=guide_id, status=Guide.Status.PUBLISHED)
        attempt, token = services.attempt_start(
            guide=guide, user_agent=request.headers.get("User-Agent", "")
        )
        return Response({"token": token, **attempt_state(attempt)}, status=status.HTTP_201_CREATED)


class AttemptDetailView(AttemptView):
    @extend_schema(
        summary="The attempt's state and its outcome history",
        auth=ATTEMPT_TOKEN_AUTH,
        responses={200: AttemptOutputSerializer, **ERROR_RESPONSES},
    )
    def get(self, request: Request) -> Response:
        return Response(attempt_state(self.attempt(request)))


class StepOutcomeRecordView(AttemptView):
    @extend_schema(
        summary="Record what happened at one step",
        auth=ATTEMPT_TOKEN_AUTH,
        request=StepOutcomeInputSerializer,
        responses={201: AttemptOutputSerializer, **ERROR_RESPONSES, **CONFLICT},
    )
    def post(self, request: Request) -> Response:
        attempt = self.attempt(request)
        data = validated(StepOutcomeInputSerializer, request)
        services.step_outcome_record(
            attempt=attempt, step_id=data["step"], outcome=data["outcome"], note=data["note"]
        )
        # Read again (status may have changed), with the same joins as any attempt read.
        return Response(attempt_state(self.attempt(request)), status=status.HTTP_201_CREATED)


class AttemptFeedbackView(AttemptView):
    # Per address, shared with the guide page's form and GuideFeedbackView (FEEDBACK_RATE).
    throttle_scope = FeedbackThrottle.scope

    @extend_schema(
        summary="Say whether the guide helped (answering again changes the answer)",
        auth=ATTEMPT_TOKEN_AUTH,
        request=FeedbackInputSerializer,
        responses={200: AttemptOutputSerializer, **ERROR_RESPONSES},
    )
    def post(self, request: Request) -> Response:
        attempt = self.attempt(request)
        data = validated(FeedbackInputSerializer, request)
        services.feedback_give(
            guide=attempt.guide, attempt=attempt, helpful=data["helpful"], comment=data["comment"]
        )
        return Response(attempt_state(attempt))


class AttemptAbandonView(AttemptView):
    @extend_schema(
        summary="Give up on the attempt",
        auth=ATTEMPT_TOKEN_AUTH,
        request=None,
        responses={200: AttemptOutputSerializer, **ERROR_RESPONSES, **CONFLICT},
    )
    def post(self, request: Request) -> Response:
        attempt = services.attempt_abandon(attempt=self.attempt(request))
        return Response(attempt_state(attempt))


class GuideFeedbackView(AttemptView):
    """A reader without an attempt is one visitor: the signed ``visitor`` cookie that the guide
    pages set (guides.visitors), sent back by any client that keeps cookies; without it, the
    answer is recorded for a new visitor whose cookie the response sets. Answering again with
    the cookie replaces the answer. A client that drops cookies is bounded by FEEDBACK_RATE per
    address; a client that holds an attempt answers through /attempt/feedback/ instead."""

    throttle_scope = FeedbackThrottle.scope

    @extend_schema(
        summary="Say whether a guide helped, without an attempt (one answer per visitor)",
        request=FeedbackInputSerializer,
        responses={201: OpenApiResponse(description="Recorded."), **ERROR_RESPONSES},
    )
    def post(self, request: Request, guide_id: int) -> Response:
        guide = get_object_or_404(Guide, pk=guide_id, status=Guide.Status.PUBLISHED)
        data = validated(FeedbackInputSerializer, request)
        visitor = visitor_of(request)
        services.feedback_give(
            guide=guide, visitor_id=visitor.id, helpful=data["helpful"], comment=data["comment"]
        )
        response = Response(status=status.HTTP_201_CREATED)
        visitor_remember(response, visitor)
        return response
