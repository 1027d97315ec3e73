"""SLA clocks: due times for a new ticket, the periodic check that marks tickets at risk or
breached, and the closing of tickets solved longer ago than the reopen window.

On a queue with a business schedule the targets count working time only
(tickets.business_hours; docs/business-hours.md); without one, around the clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from tickets import signals
from tickets.calendars import schedule_calendar_read
from tickets.models import (
    OPEN_TICKET_STATUSES,
    REOPEN_WINDOW,
    Priority,
    Queue,
    SLAPolicy,
    Ticket,
    TicketEvent,
)
from tickets.services._common import _event
from tickets.services.exceptions import TransitionNotAllowed
from tickets.services.routing import RoutingTable
from tickets.services.sla_time import sla_at_risk_from, sla_time_add
from tickets.services.workflow import ticket_transition


@dataclass(frozen=True)
class SLATargets:
    """A new ticket's due times and the instants each becomes "at risk" (all None: no SLA)."""

    first_response_due_at: datetime | None = None
    resolution_due_at: datetime | None = None
    first_response_at_risk_from: datetime | None = None
    resolution_at_risk_from: datetime | None = None


def sla_targets(
    *, queue: Queue, priority: int, start: datetime, table: RoutingTable | None = None
) -> SLATargets:
    """The targets of the queue's policy for this priority, counted in the queue's working
    time; without a (cached) routing table, the policy and the schedule are read now."""
    if table is not None:
        minutes = table.sla_minutes.get((queue.pk, priority))
        calendar = table.calendars.get(queue.pk)
    else:
        policy = SLAPolicy.objects.filter(queue=queue, priority=priority).first()
        minutes = (policy.first_response_minutes, policy.resolution_minutes) if policy else None
        calendar = schedule_calendar_read(queue.schedule_id) if minutes else None
    if minutes is None:
        return SLATargets()
    first_due = sla_time_add(calendar, start, timedelta(minutes=minutes[0]))
    resolution_due = sla_time_add(calendar, start, timedelta(minutes=minutes[1]))
    return SLATargets(
        first_response_due_at=first_due,
        resolution_due_at=resolution_due,
        first_response_at_risk_from=sla_at_risk_from(calendar, start, first_due),
        resolution_at_risk_from=sla_at_risk_from(calendar, start, resolution_due),
    )


def sla_due_times(
    *, queue: Queue, priority: int, start: datetime, table: RoutingTable | None = None
) -> tuple[datetime | None, datetime | None]:
    """The (first response, resolution) due times of sla_targets."""
    targets = sla_targets(queue=queue, priority=priority, start=start, table=table)
    return targets.first_response_due_at, targets.resolution_due_at


def tickets_sla_check(*, now: datetime | None = None) -> dict[str, int]:
    """Mark open tickets at risk or breached, once each; on a breach raise the priority one
    step. Idempotent: a second run at the same time changes nothing."""
    now = now or timezone.now()
    counts = {"at_risk": 0, "breached": 0}
    open_tickets = Ticket.objects.filter(status__in=OPEN_TICKET_STATUSES)

    # First response: breached when due and no public reply yet.
    first_breaches = open_tickets.filter(
        first_response_breached=False,
        first_responded_at__isnull=True,
        first_response_due_at__lte=now,
    )
    for ticket_id in first_breaches.values_list("pk", flat=True):
        counts["breached"] += _sla_breach(ticket_id, "first_response_breached", now)

    resolution_breaches = open_tickets.filter(
        resolution_breached=False, resolution_due_at__lte=now, sla_paused_at__isnull=True
    )
    for ticket_id in resolution_breaches.values_list("pk", flat=True):
        counts["breached"] += _sla_breach(ticket_id, "resolution_breached", now)

    # At risk: a running target past its at-risk instant, worked out when the due time was set
    # (sla_targets) and moved with it (ticket_transition), so this is two index range scans
    # (ticket_first_response_risk_idx, ticket_resolution_risk_idx) and no calendar per ticket.
    not_marked = open_tickets.filter(sla_at_risk_at__isnull=True, resolution_breached=False)
    at_risk = not_marked.filter(
        Q(first_responded_at__isnull=True, first_response_at_risk_from__lte=now)
        | Q(sla_paused_at__isnull=True, resolution_at_risk_from__lte=now)
    )
    for ticket_id in at_risk.values_list("pk", flat=True):
        counts["at_risk"] += _sla_at_risk_mark(ticket_id, now)

    # Tickets from before the at-risk instants were kept (no schedule could apply to them):
    # the rule itself, ticket by ticket, as it always was.
    candidates = not_marked.filter(
        resolution_due_at__isnull=False,
        first_response_at_risk_from__isnull=True,
        resolution_at_risk_from__isnull=True,
    ).only(
        "pk",
        "created_at",
        "resolution_due_at",
        "first_response_due_at",
        "first_responded_at",
        "sla_paused_at",
    )
    for ticket in candidates:
        if ticket.sla_at_risk(now):
            counts["at_risk"] += _sla_at_risk_mark(ticket, now)
    return counts


def _sla_at_risk_mark(ticket: Ticket | int, now: datetime) -> int:
    ticket_id = ticket if isinstance(ticket, int) else ticket.pk
    # The condition in the WHERE clause marks the ticket once, however many sweeps race.
    marked = Ticket.objects.filter(pk=ticket_id, sla_at_risk_at__isnull=True).update(
        sla_at_risk_at=now, updated_at=now
    )
    if marked:
        if isinstance(ticket, int):
            ticket = Ticket.objects.get(pk=ticket_id)  # the event's webhook reads the ticket
        _event(ticket, TicketEvent.Kind.SLA_AT_RISK, now=now, change={})
    return marked


def _sla_breach(ticket_id: int, flag: str, now: datetime) -> int:
    with transaction.atomic():
        # The flag in the WHERE clause makes the breach happen once, however many sweeps race.
        marked = Ticket.objects.filter(pk=ticket_id, **{flag: False}).update(
            **{flag: True}, sla_breached=True, updated_at=now
        )
        if not marked:
            return 0
        ticket = Ticket.objects.select_for_update().get(pk=ticket_id)
        target = "first_response" if flag == "first_response_breached" else "resolution"
        _event(ticket, TicketEvent.Kind.SLA_BREACHED, now=now, change={"target": target})
        if ticket.priority < Priority.URGENT:
            raised = Ticket.objects.filter(pk=ticket_id).update(priority=F("priority") + 1)
            if raised:
                _event(
                    ticket, TicketEvent.Kind.PRIORITY_CHANGED, now=now,
                    change={
                        "from": ticket.priority, "to": ticket.priority + 1, "after_breach": True
                    },
                )  # fmt: skip
        signals.sla_breached.send(sender=Ticket, ticket_id=ticket_id)
    return 1


def tickets_close_solved(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Close tickets solved longer ago than the reopen window (run by beat)."""
    now = now or timezone.now()
    due = Ticket.objects.filter(
        status=Ticket.Status.SOLVED, solved_at__lte=now - REOPEN_WINDOW
    ).values_list("pk", flat=True)[:limit]
    closed = 0
    for ticket_id in list(due):
        try:
            ticket_transition(ticket=ticket_id, to_status=Ticket.Status.CLOSED)
        except TransitionNotAllowed:
            continue  # reopened meanwhile
        closed += 1
    return closed
