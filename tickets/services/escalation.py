"""The escalation path: a failed self-help attempt becomes exactly one routed, assigned ticket
with SLA clocks.

escalation_request stores the customer's request and announces it (signals.escalation_requested);
tickets.tasks publishes the escalation task after commit, bounded by PUBLISH_TIMEOUT_SECONDS.
The worker counts the delivery (escalation_delivery_record) and creates the ticket
(ticket_create_from_attempt); the sweeper (escalations_sweep) catches whatever the broker or a
dead worker lost.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from guides import services as guide_services
from guides.models import Attempt
from tickets import events, signals
from tickets.models import Ticket, TicketEvent
from tickets.services.assignment import agent_pick, assigned_facts
from tickets.services.routing import route, routing_table, routing_version
from tickets.services.sla import sla_due_times

logger = logging.getLogger(__name__)

# How long a web request may spend handing an escalation to the broker. Past it the request
# answers anyway: the escalation is already stored and the sweeper sends it later.
PUBLISH_TIMEOUT_SECONDS = 1.0

# Deliveries of one escalation after which it is parked for a supervisor (see
# escalation_delivery_record): enough for broker hiccups and a crash or two, not a loop.
MAX_ESCALATION_DELIVERIES = 5


# --- the customer asks for a person ----------------------------------------------------------


def escalation_request(
    *, attempt: Attempt, description: str, name: str = "", email: str = ""
) -> Attempt:
    """Record the customer's request durably, then hand it to the workers after commit.

    The attempt row (status escalated, escalation_requested_at set) is the durable record:
    whatever happens to the message, the sweeper finds the attempt without a ticket.

    No transaction of its own: the record is one conditional UPDATE, atomic by itself, and the
    publish waits for the commit of the caller's transaction if there is one (the web forms
    start the attempt in the same one), else runs right after that UPDATE.
    """
    attempt = guide_services.attempt_contact_submit(
        attempt=attempt, description=description, name=name, email=email
    )
    signals.escalation_requested.send(sender=Attempt, attempt_id=attempt.pk)
    return attempt


# --- the ticket ------------------------------------------------------------------------------


def _tried_steps_snapshot(attempt: Attempt) -> list[dict]:
    return [
        {
            "position": outcome.step_position,
            "title": outcome.step_title,
            "kind": outcome.step_kind,
            "outcome": outcome.outcome,
            "note": outcome.note,
            "recorded_at": outcome.recorded_at.isoformat(),
        }
        for outcome in attempt.outcomes.order_by("recorded_at", "pk")
    ]


def _subject_from(description: str) -> str:
    first_line = description.strip().splitlines()[0] if description.strip() else ""
    return first_line[:120] or "Contact request"


def _created_facts(attempt: Attempt, ticket: Ticket) -> dict[str, Any]:
    if attempt.guide_id is not None:
        return {"steps": len(ticket.tried_steps)}
    return {"opened": list(attempt.opened_guides.values_list("title", flat=True))}


def ticket_create_from_attempt(*, attempt_id: int) -> Ticket | None:
    """Turn an escalated attempt into its one ticket; safe to call any number of times.

    Returns the ticket (new or existing), or None when the attempt was not escalated. Two
    workers may run this for the same attempt at once (a redelivered message, the sweeper):
    the attempt row lock serialises them on PostgreSQL, and the unique constraint on
    Ticket.attempt settles any race that gets past it (SQLite, which has no row locks) — the
    loser's transaction rolls back and it returns the winner's ticket.

    The locked read of the attempt brings its ticket's id along (an outer join on the
    one-to-one), so the usual case, no ticket yet, costs no separate "does it exist?" query.
    """
    try:
        with transaction.atomic():
            attempt = (
                # Lock the attempt row only: the joined guide, company and ticket may be absent
                # (outer joins), and PostgreSQL cannot lock the nullable side of one.
                Attempt.objects.select_for_update(of=("self",))
                .select_related("guide", "guide__company", "company")
                # The routing table's token, read here rather than in a statement of its own;
                # the ticket's id only, not its thirty columns: usually there is none.
                .annotate(routing_version=routing_version(), ticket_made=F("ticket__id"))
                .filter(pk=attempt_id)
                .first()
            )
            if attempt is None:
                return None
            if attempt.ticket_made is not None:
                return Ticket.objects.get(pk=attempt.ticket_made)
            if attempt.status != Attempt.Status.ESCALATED:
                return None
            return _ticket_create(attempt)
    except IntegrityError:
        return Ticket.objects.get(attempt_id=attempt_id)


def _ticket_create(attempt: Attempt) -> Ticket:
    now = timezone.now()
    table = routing_table(version=attempt.routing_version)  # type: ignore[attr-defined]
    decision = route(attempt=attempt, table=table)
    reason = decision.reason  # a sentence made from the facts: once, for the ticket and event
    first_due, resolution_due = sla_due_times(
        queue=decision.queue, priority=decision.priority, start=now, table=table
    )
    tried_steps = _tried_steps_snapshot(attempt)
    # The agent is picked, and a unit of their capacity taken, before the INSERT: the ticket
    # is written once, already assigned, instead of inserted and then rewritten (with every
    # index of the table) by an UPDATE, and the ASSIGNED event goes with the others. No other
    # transaction sees the ticket before commit, so there is no "still unassigned?" race to
    # guard; a rollback (a lost race on Ticket.attempt) gives the capacity unit back. Every
    # read is done first: the agent's row stays locked from here to the commit.
    agent = None
    if decision.queue.auto_assign:
        agent = agent_pick(queue=decision.queue, language=attempt.language, now=now)
    guide = attempt.guide
    ticket = Ticket.objects.create(
        attempt=attempt,
        company=guide.company if guide else attempt.company,
        guide=guide,
        language=attempt.language,
        subject=guide.title[:300] if guide else _subject_from(attempt.description),
        description=attempt.description,
        requester_name=attempt.contact_name,
        requester_email=attempt.contact_email,
        tried_steps=tried_steps,
        queue=decision.queue,
        assignee=agent,
        priority=decision.priority,
        routing_rule=decision.rule,
        routing_reason=reason[:500],
        created_at=now,
        updated_at=now,
        first_response_due_at=first_due,
        resolution_due_at=resolution_due,
    )
    created = _created_facts(attempt, ticket)
    history = [
        TicketEvent(
            ticket=ticket, kind=TicketEvent.Kind.CUSTOMER_MESSAGE, body=attempt.description,
            created_at=now,
        ),
        TicketEvent(
            ticket=ticket, kind=TicketEvent.Kind.CREATED,
            body=events.event_body(TicketEvent.Kind.CREATED, created),
            change=created, created_at=now,
        ),
        TicketEvent(
            ticket=ticket, kind=TicketEvent.Kind.ROUTED, body=reason,
            change=decision.facts, created_at=now,
        ),
    ]  # fmt: skip
    if agent is not None:
        facts = assigned_facts(agent)
        history.append(
            TicketEvent(
                ticket=ticket, kind=TicketEvent.Kind.ASSIGNED,
                body=events.event_body(TicketEvent.Kind.ASSIGNED, facts),
                change=facts, created_at=now,
            )
        )  # fmt: skip
    TicketEvent.objects.bulk_create(history)
    signals.ticket_created.send(sender=Ticket, ticket_id=ticket.pk, assigned=agent is not None)
    return ticket


def escalation_delivery_record(*, attempt_id: int) -> bool:
    """Count one more try at this escalation; False when it must not be tried again.

    The count is committed before the work starts, so a try that kills its worker still
    counts. Past MAX_ESCALATION_DELIVERIES the attempt is parked: the sweeper leaves it alone
    and supervisors see it in the admin, instead of a poisoned message looping forever.

    The usual try is one conditional UPDATE: it counts the delivery only while the attempt
    has no ticket, is not parked and has tries left, and one row changed means "go on". The
    rare cases (the try that parks it, a parked attempt, a ticket already made, no such
    attempt) take the slower path below.
    """
    counted = Attempt.objects.filter(
        pk=attempt_id,
        ticket__isnull=True,
        escalation_parked_at__isnull=True,
        escalation_deliveries__lt=MAX_ESCALATION_DELIVERIES,
    ).update(escalation_deliveries=F("escalation_deliveries") + 1)
    if counted:
        return True
    # One try too many: count it and park the attempt in the same conditional UPDATE, so two
    # workers racing here park it (and log it) once.
    parked = Attempt.objects.filter(
        pk=attempt_id,
        ticket__isnull=True,
        escalation_parked_at__isnull=True,
        escalation_deliveries__gte=MAX_ESCALATION_DELIVERIES,
    ).update(
        escalation_deliveries=F("escalation_deliveries") + 1, escalation_parked_at=timezone.now()
    )
    if parked:
        logger.error(
            "Escalation of attempt %s parked after %s tries", attempt_id, MAX_ESCALATION_DELIVERIES
        )
        return False
    row = Attempt.objects.filter(pk=attempt_id).values("escalation_parked_at").first()
    if row is None:
        return True  # nothing to do; ticket_create_from_attempt says so
    # Parked (by another try, or a supervisor): leave it. Otherwise its ticket exists, and
    # ticket_create_from_attempt returns it.
    return row["escalation_parked_at"] is None


# --- the sweeper -----------------------------------------------------------------------------


def _customer_notifications_resend(*, cutoff: datetime, limit: int) -> None:
    """Queue again the customer e-mails of tickets created before the cutoff that never went
    out (the worker died between the ticket's commit and its after-commit publish)."""
    unsent = Ticket.objects.filter(
        customer_notified_at__isnull=True, created_at__lte=cutoff
    ).exclude(requester_email="")
    for ticket_id in unsent.values_list("pk", flat=True)[:limit]:
        queued = signals.customer_notification_unsent.send(sender=Ticket, ticket_id=ticket_id)
        if not all(sent for _receiver, sent in queued):
            return  # the broker refused (and it was logged): the rest wait for the next sweep


def escalations_sweep(*, older_than: timedelta, limit: int = 100) -> int:
    """Create the tickets of escalations recorded but still without one (the broker was down,
    or a worker died with the message). Returns how many tickets it created."""
    cutoff = timezone.now() - older_than
    stale = list(
        Attempt.objects.filter(
            status=Attempt.Status.ESCALATED,
            escalation_requested_at__lte=cutoff,
            escalation_parked_at__isnull=True,
            ticket__isnull=True,
        )
        .order_by("escalation_requested_at")
        .values_list("pk", flat=True)[:limit]
    )
    created = 0
    _customer_notifications_resend(cutoff=cutoff, limit=limit)
    for attempt_id in stale:
        if not escalation_delivery_record(attempt_id=attempt_id):
            continue
        try:
            if ticket_create_from_attempt(attempt_id=attempt_id) is not None:
                created += 1
        except Exception:
            # One bad attempt must not stop the others; it stays stale and is retried.
            logger.exception("Sweeper could not create the ticket of attempt %s", attempt_id)
    return created
