"""The API's door from self-help to a person: an attempt's holder asks for help.

It lives with the tickets (guides is a leaf app and never imports them) but reads as one more
attempt call: the same token header, throttles and output as guides.api.attempts.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, Throttled
from rest_framework.request import Request
from rest_framework.response import Response

from guides.api.attempts import CONFLICT, AttemptView
from guides.models import Attempt
from helpdesk import limits
from helpdesk.api.fields import StrictCharField, StrictEmailField
from helpdesk.api.inputs import validated
from helpdesk.api.schema import ATTEMPT_TOKEN_AUTH, ERROR_RESPONSES
from helpdesk.http import client_address
from tickets.services import escalation_request_by_id


class ContactInputSerializer(serializers.Serializer):
    description = StrictCharField(max_length=5000, help_text="What is still going wrong.")
    name = StrictCharField(required=False, allow_blank=True, max_length=200, default="")
    email = StrictEmailField(required=False, allow_blank=True, default="")


class ContactAcceptedOutputSerializer(serializers.ModelSerializer):
    """The request is stored: follow it on the attempt's GET, named by the Location header,
    which has the full state (outcomes, feedback, and the ticket's reference once made)."""

    # Not the full state here: reading it again cost more than the rest of the request.

    class Meta:
        model = Attempt
        fields = ["status", "escalation_requested_at"]


# The 202 body as ContactAcceptedOutputSerializer describes it, built without instantiating
# it: a model serializer's fields are made anew for every instance, a sixth of the request's
# Python work for two values.
_REQUESTED_AT = serializers.DateTimeField()


def _accepted(changes: dict[str, Any]) -> dict[str, Any]:
    return {
        "status": changes["status"],
        "escalation_requested_at": _REQUESTED_AT.to_representation(
            changes["escalation_requested_at"]
        ),
    }


LOCATION_HEADER = OpenApiParameter(
    "Location",
    str,
    location=OpenApiParameter.HEADER,
    response=[202],
    description="The attempt's GET: poll it (with the token) until its ticket is set.",
)


class AttemptContactView(AttemptView):
    def check_throttles(self, request: Request) -> None:
        # A POST counts its throttles in post(), with its escalation budgets, in one round
        # trip (docs/performance.md, "The escalate request"); any other method here.
        if request.method != "POST":
            super().check_throttles(request)

    @extend_schema(
        summary="Still stuck: ask for a person, with a description and contact details",
        parameters=[LOCATION_HEADER],
        auth=ATTEMPT_TOKEN_AUTH,
        request=ContactInputSerializer,
        responses={202: ContactAcceptedOutputSerializer, **ERROR_RESPONSES, **CONFLICT},
    )
    def post(self, request: Request) -> Response:
        try:
            attempt_id = self.attempt_id(request)  # all the one UPDATE below needs
            data = validated(ContactInputSerializer, request)
        except APIException:
            # Counted against the throttles alone (the budgets count valid requests only);
            # a throttled client hears 429 rather than what was wrong, as on any other view.
            self.count_throttles(request)
            raise
        # The same budgets as the web forms: per client, and per recipient whatever the client,
        # counted with the throttles (a request the throttles refuse counts against them too,
        # which only makes a flood slower); the throttles decide first, then the budgets.
        taken = self.count_throttles(
            request,
            limits.escalation_budgets(client=client_address(request), email=data["email"]),
        )
        refusal = limits.escalation_refusal_of(taken)
        if refusal is not None:
            raise Throttled(wait=refusal.retry_after, detail=refusal.message)
        written = escalation_request_by_id(
            attempt_id=attempt_id, description=data["description"], name=data["name"],
            email=data["email"],
        )  # fmt: skip
        # Accepted: a worker turns it into a ticket; poll the attempt to see its reference.
        return Response(
            _accepted(written),
            status=status.HTTP_202_ACCEPTED,
            headers={"Location": reverse("api:attempt-detail")},
        )
