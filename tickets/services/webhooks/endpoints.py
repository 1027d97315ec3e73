"""Endpoints: supervisors register, change, rotate the secret of, switch off and remove them,
and redeliver from their log."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from helpdesk.text import one_line, plain_text
from tickets import signals
from tickets.models import WebhookDelivery, WebhookEndpoint, WebhookEventType
from tickets.services.exceptions import WebhookEndpointDisabled, WebhookError
from tickets.services.webhooks.targets import webhook_url_check

if TYPE_CHECKING:
    from tickets.services._common import Actor


def _events_checked(events: list[str]) -> list[str]:
    unknown = [event for event in events if event not in WebhookEventType.values]
    if unknown or not events:
        raise WebhookError(
            _("Choose one or more of: %(types)s.") % {"types": ", ".join(WebhookEventType.values)},
            field="events",
        )
    return sorted(set(events))


def _manage_check(actor: Actor | None, permission: str) -> None:
    if actor is not None and not actor.has_perm(permission):
        raise WebhookError(
            _("Only supervisors manage webhooks."), code="not_permitted", status=403, field=None
        )


def _name_checked(name: str) -> str:
    name = one_line(plain_text(name)).strip()
    if not name:
        raise WebhookError(_("Give the endpoint a name."), field="name")
    return name[:100]


@transaction.atomic
def webhook_endpoint_register(
    *, name: str, url: str, events: list[str], actor: Actor | None
) -> tuple[WebhookEndpoint, str]:
    """A new active endpoint and its secret, which the caller shows once."""
    _manage_check(actor, "tickets.add_webhookendpoint")
    # The URL last: its check may wait on DNS, worth it only for an otherwise valid request.
    name, events = _name_checked(name), _events_checked(events)
    endpoint = WebhookEndpoint(
        name=name, events=events, url=webhook_url_check(url),
        secret=WebhookEndpoint.secret_new(),
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )  # fmt: skip
    endpoint.save()
    return endpoint, endpoint.secret


@transaction.atomic
def webhook_endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    actor: Actor | None,
    name: str | None = None,
    url: str | None = None,
    events: list[str] | None = None,
    is_active: bool | None = None,
) -> WebhookEndpoint:
    """Change what an endpoint receives, or switch it on or off. Switching on starts its
    failure count again; deliveries that failed meanwhile are redelivered by hand."""
    _manage_check(actor, "tickets.change_webhookendpoint")
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    fields = ["updated_at"]
    if name is not None:
        endpoint.name = _name_checked(name)
        fields.append("name")
    if url is not None and url.strip() != endpoint.url:
        endpoint.url = webhook_url_check(url)
        fields.append("url")
    if events is not None:
        endpoint.events = _events_checked(events)
        fields.append("events")
    switch_off = is_active is False and endpoint.is_active
    if is_active and not endpoint.is_active:
        endpoint.is_active, endpoint.disabled_at, endpoint.disabled_reason = True, None, ""
        endpoint.consecutive_failures = 0
        fields += ["is_active", "disabled_at", "disabled_reason", "consecutive_failures"]
    endpoint.updated_at = timezone.now()
    endpoint.save(update_fields=fields)
    if switch_off:
        endpoint_off(endpoint, reason=_("Switched off by %(user)s.") % {"user": actor})
    return endpoint


@transaction.atomic
def webhook_secret_rotate(*, endpoint: WebhookEndpoint, actor: Actor | None) -> str:
    """A new secret, returned once. The one it replaces still signs, beside it, for
    WEBHOOK_ROTATION_OVERLAP seconds, so receivers can switch without losing a delivery."""
    _manage_check(actor, "tickets.change_webhookendpoint")
    endpoint = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
    now = timezone.now()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = now + timedelta(seconds=settings.WEBHOOK_ROTATION_OVERLAP)
    endpoint.secret = WebhookEndpoint.secret_new()
    endpoint.updated_at = now
    endpoint.save(
        update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"]
    )
    return endpoint.secret


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint, actor: Actor | None) -> None:
    """Remove an endpoint and its delivery log; tries under way find nothing to record."""
    _manage_check(actor, "tickets.delete_webhookendpoint")
    WebhookEndpoint.objects.filter(pk=endpoint.pk).delete()


def endpoint_off(endpoint: WebhookEndpoint, *, reason: str) -> bool:
    """Switch the endpoint off with ``reason``; its pending deliveries fail (they can be
    redelivered once it is on again). False when it was off already."""
    now = timezone.now()
    switched = WebhookEndpoint.objects.filter(pk=endpoint.pk, is_active=True).update(
        is_active=False, disabled_at=now, disabled_reason=reason[:300], updated_at=now
    )
    if switched:
        endpoint.is_active, endpoint.disabled_at, endpoint.disabled_reason = False, now, reason
        WebhookDelivery.objects.filter(
            endpoint=endpoint, status=WebhookDelivery.Status.PENDING
        ).update(status=WebhookDelivery.Status.FAILED, next_retry_at=None)
    return bool(switched)


@transaction.atomic
def webhook_redeliver(*, delivery: WebhookDelivery, actor: Actor | None) -> WebhookDelivery:
    """Send a delivery again now, whatever became of it, with a fresh schedule of tries. The
    event keeps its id: a receiver that already handled it recognises it (Webhook-Id)."""
    _manage_check(actor, "tickets.change_webhookendpoint")
    delivery = (
        WebhookDelivery.objects.select_for_update(of=("self",))
        .select_related("endpoint")
        .get(pk=delivery.pk)
    )
    if not delivery.endpoint.is_active:
        raise WebhookEndpointDisabled(_("The endpoint is switched off; switch it on first."))
    delivery.status = WebhookDelivery.Status.PENDING
    delivery.attempts, delivery.next_retry_at = 0, timezone.now()
    delivery.save(update_fields=["status", "attempts", "next_retry_at"])
    signals.webhook_deliveries_recorded.send(sender=WebhookDelivery, delivery_ids=[delivery.pk])
    return delivery
