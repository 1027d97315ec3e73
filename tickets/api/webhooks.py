"""Webhooks out, for supervisors and their integrations: register, change and remove
endpoints, rotate a secret, read the delivery log and redeliver. Thin: every change is a
tickets.services.webhooks call; the secret is in the answer only when it is made."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import permissions, serializers, status, viewsets
from rest_framework.authentication import SessionAuthentication
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from helpdesk.api.errors import ErrorSerializer
from helpdesk.api.fields import StrictBooleanField, StrictCharField, StrictChoiceField
from helpdesk.api.inputs import validated
from helpdesk.api.pagination import PageNumberPagination
from helpdesk.api.schema import ERROR_RESPONSES
from helpdesk.api.throttling import UserRateThrottle
from tickets.api.authentication import ApiTokenAuthentication
from tickets.models import WebhookDelivery, WebhookEndpoint, WebhookEventType
from tickets.services import webhooks

# --- input and output ----------------------------------------------------------------------


class _EventsField(serializers.ListField):
    def __init__(self, **kwargs) -> None:
        super().__init__(
            child=StrictChoiceField(choices=WebhookEventType.choices),
            min_length=1, max_length=len(WebhookEventType.values), **kwargs,
        )  # fmt: skip


class EndpointInputSerializer(serializers.Serializer):
    name = StrictCharField(max_length=100)
    url = StrictCharField(max_length=500, help_text="http or https; no private address.")
    events = _EventsField()


class EndpointUpdateInputSerializer(serializers.Serializer):
    name = StrictCharField(max_length=100, required=False)
    url = StrictCharField(max_length=500, required=False)
    events = _EventsField(required=False)
    is_active = StrictBooleanField(
        required=False, help_text="Switch off, or on again (which clears the failure count)."
    )


class EndpointOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    url = serializers.CharField()
    events = serializers.ListField(child=serializers.CharField())
    is_active = serializers.BooleanField()
    disabled_reason = serializers.CharField()
    disabled_at = serializers.DateTimeField(allow_null=True)
    consecutive_failures = serializers.IntegerField()
    previous_secret_expires_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class EndpointWithSecretSerializer(EndpointOutputSerializer):
    secret = serializers.CharField(help_text="Shown this once: keep it to check signatures.")


class DeliveryOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    event_id = serializers.UUIDField()
    event_type = serializers.CharField()
    status = serializers.ChoiceField(choices=WebhookDelivery.Status.choices)
    attempts = serializers.IntegerField()
    last_status_code = serializers.IntegerField(allow_null=True)
    last_response = serializers.CharField()
    last_attempt_at = serializers.DateTimeField(allow_null=True)
    next_retry_at = serializers.DateTimeField(allow_null=True)
    delivered_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()
    payload = serializers.JSONField()


# --- the view --------------------------------------------------------------------------------


class WebhookPagination(PageNumberPagination):
    """Page numbers as the schema says: a whole number from 1, or the parameter left out."""

    def paginate_queryset(self, queryset, request, view=None):
        raw = request.query_params.get(self.page_query_param)
        if raw is not None and not (raw.isascii() and raw.isdigit() and 0 < len(raw) < 10):
            raise ValidationError({self.page_query_param: ["Must be a whole number from 1."]})
        return super().paginate_queryset(queryset, request, view)


class CanManageWebhooks(permissions.BasePermission):
    """Reads need view_webhookendpoint; a change needs the matching permission."""

    NEEDED = {
        "GET": "tickets.view_webhookendpoint",
        "HEAD": "tickets.view_webhookendpoint",
        "OPTIONS": "tickets.view_webhookendpoint",
        "POST": "tickets.add_webhookendpoint",
        "PATCH": "tickets.change_webhookendpoint",
        "DELETE": "tickets.delete_webhookendpoint",
    }

    def has_permission(self, request: Request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_active):
            return False
        needed = getattr(view, "required_permission", None) or self.NEEDED.get(request.method or "")
        return needed is not None and user.has_perm(needed)


ENDPOINT_ID = OpenApiParameter("id", int, location=OpenApiParameter.PATH)
DELIVERY_ID = OpenApiParameter("delivery_id", int, location=OpenApiParameter.PATH)
MANAGE_ERRORS = {
    **ERROR_RESPONSES,
    401: OpenApiResponse(ErrorSerializer, description="No token, or a wrong or revoked one."),
    403: OpenApiResponse(ErrorSerializer, description="Only supervisors manage webhooks."),
}


class WebhookEndpointViewSet(viewsets.GenericViewSet):
    authentication_classes = [ApiTokenAuthentication, SessionAuthentication]
    permission_classes = [CanManageWebhooks]
    throttle_classes = [UserRateThrottle]
    pagination_class = WebhookPagination
    serializer_class = EndpointOutputSerializer
    lookup_value_regex = "[0-9]{1,18}"
    required_permission: str | None = None

    def get_queryset(self):
        return WebhookEndpoint.objects.order_by("name", "pk")

    def endpoint(self) -> WebhookEndpoint:
        endpoint = self.get_queryset().filter(pk=int(self.kwargs["pk"])).first()
        if endpoint is None:
            raise Http404
        return endpoint

    @extend_schema(
        summary="The webhook endpoints (supervisors)",
        responses={200: EndpointOutputSerializer(many=True), **MANAGE_ERRORS},
    )
    def list(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(EndpointOutputSerializer(page, many=True).data)

    @extend_schema(
        summary="Register an endpoint; the answer holds its signing secret, shown this once",
        request=EndpointInputSerializer,
        responses={201: EndpointWithSecretSerializer, **MANAGE_ERRORS},
    )
    def create(self, request: Request) -> Response:
        data = validated(EndpointInputSerializer, request)
        endpoint, secret = webhooks.webhook_endpoint_register(
            name=data["name"], url=data["url"], events=data["events"], actor=request.user
        )
        endpoint.secret = secret
        return Response(EndpointWithSecretSerializer(endpoint).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="An endpoint (without its secret)",
        parameters=[ENDPOINT_ID],
        responses={200: EndpointOutputSerializer, **MANAGE_ERRORS},
    )
    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(EndpointOutputSerializer(self.endpoint()).data)

    @extend_schema(
        summary="Change an endpoint's name, URL or events, or switch it off or on",
        parameters=[ENDPOINT_ID],
        request=EndpointUpdateInputSerializer,
        responses={200: EndpointOutputSerializer, **MANAGE_ERRORS},
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        endpoint = self.endpoint()
        data = validated(EndpointUpdateInputSerializer, request)
        endpoint = webhooks.webhook_endpoint_update(endpoint=endpoint, actor=request.user, **data)
        return Response(EndpointOutputSerializer(endpoint).data)

    @extend_schema(
        summary="Remove an endpoint and its delivery log",
        parameters=[ENDPOINT_ID],
        responses={204: OpenApiResponse(description="Removed."), **MANAGE_ERRORS},
    )
    def destroy(self, request: Request, pk: str) -> Response:
        webhooks.webhook_endpoint_delete(endpoint=self.endpoint(), actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="A new signing secret, shown this once; the previous one keeps signing beside "
        "it for the rotation's overlap",
        parameters=[ENDPOINT_ID],
        request=None,
        responses={200: EndpointWithSecretSerializer, **MANAGE_ERRORS},
    )
    @action(
        detail=True, methods=["post"], url_path="rotate-secret",
        required_permission="tickets.change_webhookendpoint",
    )  # fmt: skip
    def rotate_secret(self, request: Request, pk: str) -> Response:
        endpoint = self.endpoint()
        webhooks.webhook_secret_rotate(endpoint=endpoint, actor=request.user)
        endpoint.refresh_from_db()
        return Response(EndpointWithSecretSerializer(endpoint).data)

    @extend_schema(
        summary="The endpoint's deliveries, newest first",
        parameters=[ENDPOINT_ID],
        responses={200: DeliveryOutputSerializer(many=True), **MANAGE_ERRORS},
    )
    @action(detail=True, methods=["get"], required_permission="tickets.view_webhookdelivery")
    def deliveries(self, request: Request, pk: str) -> Response:
        endpoint = self.endpoint()
        page = self.paginate_queryset(
            WebhookDelivery.objects.filter(endpoint=endpoint).order_by("-created_at", "-pk")
        )
        return self.get_paginated_response(DeliveryOutputSerializer(page, many=True).data)

    @extend_schema(
        summary="Send a delivery again now, with a fresh schedule of tries",
        parameters=[ENDPOINT_ID, DELIVERY_ID],
        request=None,
        responses={
            202: DeliveryOutputSerializer,
            **MANAGE_ERRORS,
            409: OpenApiResponse(ErrorSerializer, description="The endpoint is switched off."),
        },
    )
    @action(
        detail=True, methods=["post"],
        url_path=r"deliveries/(?P<delivery_id>[0-9]{1,18})/redeliver",
        required_permission="tickets.change_webhookendpoint",
    )  # fmt: skip
    def redeliver(self, request: Request, pk: str, delivery_id: str) -> Response:
        endpoint = self.endpoint()
        delivery = WebhookDelivery.objects.filter(endpoint=endpoint, pk=int(delivery_id)).first()
        if delivery is None:
            raise Http404
        delivery = webhooks.webhook_redeliver(delivery=delivery, actor=request.user)
        return Response(DeliveryOutputSerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
