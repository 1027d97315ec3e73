"""Recording events: one WebhookDelivery per event and subscribed active endpoint, written in
the transaction of the change it tells about and announced to be sent after commit."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models import Exists
from django.urls import reverse
from django.utils import timezone

from tickets import signals
from tickets.models import (
    Ticket,
    TicketEvent,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEventType,
)

if TYPE_CHECKING:
    from guides.models import Attempt
    from tickets.models import AgentProfile


def webhooks_active() -> Exists:
    """Whether any endpoint is active, as an expression for a statement the caller makes
    anyway (the row lock of a ticket or of escalations): no statement of its own."""
    return Exists(WebhookEndpoint.objects.filter(is_active=True))


# The ticket events integrations hear about; internal notes and system events never leave.
TICKET_EVENT_TYPES = {
    TicketEvent.Kind.ASSIGNED: WebhookEventType.TICKET_ASSIGNED,
    TicketEvent.Kind.STATUS_CHANGED: WebhookEventType.TICKET_STATUS_CHANGED,
    TicketEvent.Kind.AGENT_REPLY: WebhookEventType.TICKET_REPLIED,
    TicketEvent.Kind.CUSTOMER_MESSAGE: WebhookEventType.TICKET_REPLIED,
    TicketEvent.Kind.RATED: WebhookEventType.TICKET_RATED,
}


def _subscriptions() -> dict[str, list[int]]:
    """The active endpoints wanting each event type, in one read."""
    wanted: dict[str, list[int]] = {event_type: [] for event_type in WebhookEventType.values}
    for pk, events in WebhookEndpoint.objects.filter(is_active=True).values_list("pk", "events"):
        for event_type in events or []:
            if event_type in wanted:
                wanted[event_type].append(pk)
    return wanted


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _agent_data(agent: AgentProfile | None) -> dict[str, Any] | None:
    return None if agent is None else {"id": agent.pk, "name": str(agent)}


def _ticket_data(ticket: Ticket) -> dict[str, Any]:
    """What every ticket event says about its ticket."""
    company = ticket.company
    return {
        "reference": ticket.reference,
        "subject": ticket.subject,
        "status": ticket.status,
        "priority": ticket.priority,
        "language": ticket.language,
        "queue": {"slug": ticket.queue.slug, "name": ticket.queue.name},
        "assignee": _agent_data(ticket.assignee),
        "company": None if company is None else {"slug": company.slug, "name": company.name},
        "requester": {"name": ticket.requester_name, "email": ticket.requester_email},
        "created_at": _iso(ticket.created_at),
        "updated_at": _iso(ticket.updated_at),
        "first_response_due_at": _iso(ticket.first_response_due_at),
        "resolution_due_at": _iso(ticket.resolution_due_at),
        "url": settings.SITE_URL + reverse("admin:tickets_ticket_change", args=[ticket.pk]),
    }


@dataclass(frozen=True)
class _Event:
    type: str
    data: dict[str, Any]
    occurred_at: datetime
    endpoints: list[int]


def _record(events: list[_Event]) -> list[WebhookDelivery]:
    """One delivery per event and subscribed endpoint, in one INSERT, announced to be sent
    after commit. An event has one id, whichever endpoints it goes to."""
    now = timezone.now()
    deliveries = []
    for event in events:
        event_id = uuid.uuid4()
        payload = {
            "id": str(event_id), "type": event.type,
            "created_at": event.occurred_at.isoformat(), "data": event.data,
        }  # fmt: skip
        deliveries += [
            WebhookDelivery(
                endpoint_id=endpoint_id,
                event_id=event_id,
                event_type=event.type,
                payload=payload,
                next_retry_at=now,
                created_at=now,
            )
            for endpoint_id in event.endpoints
        ]
    if not deliveries:
        return []
    WebhookDelivery.objects.bulk_create(deliveries)
    signals.webhook_deliveries_recorded.send(
        sender=WebhookDelivery, delivery_ids=[delivery.pk for delivery in deliveries]
    )
    return deliveries


def ticket_event_publish(*, event: TicketEvent, ticket: Ticket) -> list[WebhookDelivery]:
    """Record the webhook deliveries of a ticket event, if it is one integrations hear about
    and an endpoint wants it. ``ticket`` may carry ``webhooks_on`` from its lock statement
    (webhooks_active); without it, one read of the endpoints answers."""
    event_type = TICKET_EVENT_TYPES.get(event.kind)  # type: ignore[call-overload]
    if event_type is None or getattr(ticket, "webhooks_on", None) is False:
        return []
    endpoints = _subscriptions()[event_type]
    if not endpoints:
        return []
    data: dict[str, Any] = {"ticket": _ticket_data(ticket)}
    change = event.change or {}
    if event_type == WebhookEventType.TICKET_STATUS_CHANGED:
        data.update(
            {"from": change.get("from"), "to": change.get("to"),
             "by_customer": bool(change.get("by_customer"))}
        )  # fmt: skip
    elif event_type == WebhookEventType.TICKET_REPLIED:
        by_agent = event.kind == TicketEvent.Kind.AGENT_REPLY
        author = event.author.get_full_name() or event.author.get_username() if event.author else ""
        data["message"] = {
            "id": event.pk, "by": "agent" if by_agent else "customer",
            "author": author if by_agent else ticket.requester_name, "body": event.body,
            "created_at": _iso(event.created_at),
        }  # fmt: skip
    elif event_type == WebhookEventType.TICKET_RATED:
        data["rating"] = {
            "score": change.get("score"), "previous_score": change.get("from"),
            "comment": change.get("note", ""),
        }  # fmt: skip
    return _record([_Event(event_type, data, event.created_at, endpoints)])


def tickets_created_publish(
    *, attempts: list[Attempt], tickets: list[Ticket], agents: list[AgentProfile | None]
) -> None:
    """The escalation worker's events of a batch: for each new ticket, the customer's request
    (escalation.requested, dated when they asked), the ticket (ticket.created) and, when it
    was assigned as it was made, ticket.assigned. Called only when webhooks_active said so."""
    wanted = _subscriptions()
    worker_types = (
        WebhookEventType.ESCALATION_REQUESTED, WebhookEventType.TICKET_CREATED,
        WebhookEventType.TICKET_ASSIGNED,
    )  # fmt: skip
    if not any(wanted[event_type] for event_type in worker_types):
        return
    events: list[_Event] = []
    for attempt, ticket, agent in zip(attempts, tickets, agents, strict=True):
        summary = _ticket_data(ticket)
        guide = attempt.guide
        request = {
            "attempt": attempt.pk,
            "reference": ticket.reference,
            "guide": None if guide is None else {"id": guide.pk, "title": guide.title},
            "language": attempt.language,
            "description": attempt.description,
            "contact": {"name": attempt.contact_name, "email": attempt.contact_email},
            "tried_steps": ticket.tried_steps,
            "requested_at": _iso(attempt.escalation_requested_at),
        }
        events += [
            _Event(
                WebhookEventType.ESCALATION_REQUESTED, request,
                attempt.escalation_requested_at or ticket.created_at,
                wanted[WebhookEventType.ESCALATION_REQUESTED],
            ),
            _Event(
                WebhookEventType.TICKET_CREATED, {"ticket": summary}, ticket.created_at,
                wanted[WebhookEventType.TICKET_CREATED],
            ),
        ]  # fmt: skip
        if agent is not None:
            events.append(
                _Event(
                    WebhookEventType.TICKET_ASSIGNED,
                    {"ticket": summary},
                    ticket.created_at,
                    wanted[WebhookEventType.TICKET_ASSIGNED],
                )
            )
    _record(events)
