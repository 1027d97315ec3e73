"""The escalation path: a failed self-help attempt becomes exactly one routed, assigned ticket
with SLA clocks. Views, the API, the admin and the Celery tasks call these functions."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from guides import services as guide_services
from guides.models import Attempt
from tickets.models import (
    OPEN_TICKET_STATUSES,
    AgentProfile,
    Priority,
    Queue,
    RoutingRule,
    SLAPolicy,
    Ticket,
    TicketEvent,
)

logger = logging.getLogger(__name__)

# How long a web request may spend handing an escalation to the broker. Past it the request
# answers anyway: the escalation is already stored and the sweeper sends it later.
PUBLISH_TIMEOUT_SECONDS = 1.0
_publisher = ThreadPoolExecutor(max_workers=4, thread_name_prefix="escalation-publish")

# Deliveries of one escalation after which it is parked for a supervisor (see
# escalation_delivery_record): enough for broker hiccups and a crash or two, not a loop.
MAX_ESCALATION_DELIVERIES = 5

# Share of an SLA target after which a ticket is "at risk".
SLA_AT_RISK_SHARE = 0.75


# --- the customer asks for a person ----------------------------------------------------------


@transaction.atomic
def escalation_request(
    *, attempt: Attempt, description: str, name: str = "", email: str = ""
) -> Attempt:
    """Record the customer's request durably, then hand it to the workers after commit.

    The attempt row (status escalated, escalation_requested_at set) is the durable record:
    whatever happens to the message, the sweeper finds the attempt without a ticket.
    """
    attempt = guide_services.attempt_contact_submit(
        attempt=attempt, description=description, name=name, email=email
    )
    attempt_id = attempt.pk
    transaction.on_commit(lambda: escalation_publish(attempt_id=attempt_id))
    return attempt


def escalation_publish(*, attempt_id: int) -> bool:
    """Send the escalation task; never raises and never blocks longer than the bound.

    kombu can wait a long time on a broker that accepts connections but never answers, so
    the publish runs in a helper thread and the request stops waiting after
    PUBLISH_TIMEOUT_SECONDS. A failure is only logged: the sweeper owns the retry.
    """
    from tickets.tasks import escalate_attempt

    future = _publisher.submit(
        escalate_attempt.apply_async,
        args=[attempt_id],
        retry=True,
        retry_policy={"max_retries": 1, "interval_start": 0, "interval_step": 0.2},
    )
    try:
        future.result(timeout=PUBLISH_TIMEOUT_SECONDS)
    except FutureTimeout:
        future.cancel()  # not started yet: drop it rather than publish after the answer
        logger.warning("Escalation of attempt %s not sent in time; the sweeper will", attempt_id)
        return False
    except Exception:
        logger.exception("Escalation of attempt %s not sent; the sweeper will", attempt_id)
        return False
    return True


# --- routing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoutingDecision:
    queue: Queue
    priority: int
    rule: RoutingRule | None
    reason: str


def fallback_queue() -> Queue:
    queue = Queue.objects.filter(is_fallback=True).first()
    if queue is None:
        queue, _ = Queue.objects.get_or_create(
            slug="general", defaults={"name": "General", "is_fallback": True}
        )
    return queue


def _rule_matches(rule: RoutingRule, *, attempt: Attempt, tags: set[str]) -> list[str] | None:
    """The conditions of the rule that hold, in words; None when one does not."""
    why: list[str] = []
    company = attempt.guide.company if attempt.guide else attempt.company
    if rule.company_id is not None:
        if company is None or rule.company_id != company.pk:
            return None
        why.append(f"company {company.name}")
    if rule.tag_id is not None:
        if rule.tag is None or rule.tag.slug not in tags:
            return None
        why.append(f"tag {rule.tag.slug}")
    if rule.language:
        if rule.language != attempt.language:
            return None
        why.append(f"language {rule.language}")
    keywords = [k.strip().lower() for k in rule.keywords.split(",") if k.strip()]
    if keywords:
        text = attempt.description.lower()
        found = [k for k in keywords if k in text]
        if not found:
            return None
        why.append(f"keyword “{found[0]}”")
    return why


def route(*, attempt: Attempt) -> RoutingDecision:
    """Rules in order, first match wins; otherwise the fallback queue."""
    tags = set(attempt.guide.tags.values_list("slug", flat=True)) if attempt.guide else set()
    rules = RoutingRule.objects.filter(is_active=True).select_related("queue", "tag")
    for rule in rules.order_by("position", "pk"):
        why = _rule_matches(rule, attempt=attempt, tags=tags)
        if why is not None:
            conditions = " + ".join(why) or "matches everything"
            reason = f"rule “{rule.name}”: {conditions} → {rule.queue.name}"
            return RoutingDecision(rule.queue, rule.priority, rule, reason)
    queue = fallback_queue()
    return RoutingDecision(queue, Priority.NORMAL, None, f"no rule matched → {queue.name}")


# --- SLA -------------------------------------------------------------------------------------


def sla_due_times(
    *, queue: Queue, priority: int, start: datetime
) -> tuple[datetime | None, datetime | None]:
    policy = SLAPolicy.objects.filter(queue=queue, priority=priority).first()
    if policy is None:
        return None, None
    return (
        start + timedelta(minutes=policy.first_response_minutes),
        start + timedelta(minutes=policy.resolution_minutes),
    )


# --- assignment ------------------------------------------------------------------------------


def agent_claim_slot(*, agent_id: int, now: datetime) -> bool:
    """Take one unit of the agent's capacity, or fail if it is used up.

    Two escalations can pick the same least-loaded agent at the same moment; reading the count
    and writing it back would let both through and put the agent over capacity. The check and
    the increment are one conditional UPDATE instead: the database applies them one at a time,
    and the loser sees 0 rows and tries the next agent.
    """
    return (
        AgentProfile.objects.filter(
            pk=agent_id, is_available=True, open_tickets__lt=F("capacity")
        ).update(open_tickets=F("open_tickets") + 1, last_assigned_at=now)
        == 1
    )


def _eligible_agents(*, queue: Queue, language: str) -> list[AgentProfile]:
    agents = [
        agent
        for agent in queue.members.filter(is_available=True, open_tickets__lt=F("capacity"))
        if not agent.languages or language in agent.languages
    ]
    # Fewest open tickets first; among equals, the one who has waited longest.
    never = datetime.min.replace(tzinfo=timezone.get_current_timezone())
    return sorted(agents, key=lambda a: (a.open_tickets, a.last_assigned_at or never, a.pk))


def ticket_assign(*, ticket: Ticket, now: datetime | None = None) -> AgentProfile | None:
    """Give an unassigned ticket to the best eligible agent of its queue, if any has room."""
    now = now or timezone.now()
    for agent in _eligible_agents(queue=ticket.queue, language=ticket.language):
        if not agent_claim_slot(agent_id=agent.pk, now=now):
            continue  # someone else took the last slot; next agent
        # Only an unassigned ticket can be given away; a concurrent sweep may have done it.
        updated = Ticket.objects.filter(pk=ticket.pk, assignee__isnull=True).update(
            assignee=agent, updated_at=now
        )
        if not updated:
            AgentProfile.objects.filter(pk=agent.pk).update(open_tickets=F("open_tickets") - 1)
            return None
        ticket.assignee = agent
        TicketEvent.objects.create(
            ticket=ticket, kind=TicketEvent.Kind.ASSIGNED, body=f"Assigned to {agent}.",
            created_at=now,
        )  # fmt: skip
        return agent
    return None


def tickets_assign_waiting(*, limit: int = 200) -> int:
    """Assign waiting tickets now that agents may have room (run by beat, and on events)."""
    assigned = 0
    waiting = (
        Ticket.objects.filter(assignee__isnull=True, status__in=OPEN_TICKET_STATUSES)
        .select_related("queue")
        .order_by("-priority", "created_at")[:limit]
    )
    for ticket in waiting:
        with transaction.atomic():
            if ticket_assign(ticket=ticket) is not None:
                assigned += 1
                _notify_after_commit("notify_agent_assigned", ticket.pk)
    return assigned


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


def _created_note(attempt: Attempt, ticket: Ticket) -> str:
    if attempt.guide_id is not None:
        return f"Escalated from self-help after {len(ticket.tried_steps)} step outcomes."
    opened = list(attempt.opened_guides.values_list("title", flat=True))
    if opened:
        return "Sent from the contact form after opening: " + "; ".join(opened)
    return "Sent from the contact form; no suggested guide was opened."


def _notify_after_commit(task_name: str, ticket_id: int) -> None:
    def send() -> None:
        from tickets import tasks

        try:
            getattr(tasks, task_name).apply_async(
                args=[ticket_id], retry=True, retry_policy={"max_retries": 1}
            )
        except Exception:
            logger.exception("Notification %s for ticket %s not sent", task_name, ticket_id)

    transaction.on_commit(send)


def ticket_create_from_attempt(*, attempt_id: int) -> Ticket | None:
    """Turn an escalated attempt into its one ticket; safe to call any number of times.

    Returns the ticket (new or existing), or None when the attempt was not escalated. Two
    workers may run this for the same attempt at once (a redelivered message, the sweeper):
    the attempt row lock serialises them on PostgreSQL, and the unique constraint on
    Ticket.attempt settles any race that gets past it — the loser returns the winner's ticket.
    """
    existing = Ticket.objects.filter(attempt_id=attempt_id).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            attempt = (
                # Lock the attempt row only: the joined guide and company may be absent (an
                # outer join), and PostgreSQL cannot lock the nullable side of one.
                Attempt.objects.select_for_update(of=("self",))
                .select_related("guide", "guide__company", "company")
                .filter(pk=attempt_id)
                .first()
            )
            if attempt is None or attempt.status != Attempt.Status.ESCALATED:
                return None
            existing = Ticket.objects.filter(attempt_id=attempt_id).first()
            if existing is not None:
                return existing
            return _ticket_create(attempt)
    except IntegrityError:
        return Ticket.objects.get(attempt_id=attempt_id)


def _ticket_create(attempt: Attempt) -> Ticket:
    now = timezone.now()
    decision = route(attempt=attempt)
    first_due, resolution_due = sla_due_times(
        queue=decision.queue, priority=decision.priority, start=now
    )
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
        tried_steps=_tried_steps_snapshot(attempt),
        queue=decision.queue,
        priority=decision.priority,
        routing_rule=decision.rule,
        routing_reason=decision.reason[:500],
        created_at=now,
        updated_at=now,
        first_response_due_at=first_due,
        resolution_due_at=resolution_due,
    )
    TicketEvent.objects.bulk_create(
        [
            TicketEvent(
                ticket=ticket, kind=TicketEvent.Kind.CUSTOMER_MESSAGE, body=attempt.description,
                created_at=now,
            ),
            TicketEvent(
                ticket=ticket, kind=TicketEvent.Kind.CREATED, body=_created_note(attempt, ticket),
                created_at=now,
            ),
            TicketEvent(
                ticket=ticket, kind=TicketEvent.Kind.ROUTED, body=decision.reason, created_at=now
            ),
        ]
    )  # fmt: skip
    agent = ticket_assign(ticket=ticket, now=now)
    _notify_after_commit("notify_customer_ticket_created", ticket.pk)
    if agent is not None:
        _notify_after_commit("notify_agent_assigned", ticket.pk)
    return ticket


def escalation_delivery_record(*, attempt_id: int) -> bool:
    """Count one more try at this escalation; False when it must not be tried again.

    The count is committed before the work starts, so a try that kills its worker still
    counts. Past MAX_ESCALATION_DELIVERIES the attempt is parked: the sweeper leaves it alone
    and supervisors see it in the admin, instead of a poisoned message looping forever.
    """
    Attempt.objects.filter(pk=attempt_id, ticket__isnull=True).update(
        escalation_deliveries=F("escalation_deliveries") + 1
    )
    row = (
        Attempt.objects.filter(pk=attempt_id)
        .values("escalation_deliveries", "escalation_parked_at")
        .first()
    )
    if row is None:
        return True  # nothing to do; ticket_create_from_attempt says so
    if row["escalation_parked_at"] is not None:
        return False
    if row["escalation_deliveries"] > MAX_ESCALATION_DELIVERIES:
        Attempt.objects.filter(pk=attempt_id, escalation_parked_at__isnull=True).update(
            escalation_parked_at=timezone.now()
        )
        logger.error(
            "Escalation of attempt %s parked after %s tries", attempt_id, MAX_ESCALATION_DELIVERIES
        )
        return False
    return True


# --- the sweeper -----------------------------------------------------------------------------


def _customer_notifications_resend(*, cutoff: datetime, limit: int) -> None:
    """Queue again the customer e-mails of tickets created before the cutoff that never went
    out (the worker died between the ticket's commit and its after-commit publish)."""
    from tickets.tasks import notify_customer_ticket_created

    unsent = Ticket.objects.filter(
        customer_notified_at__isnull=True, created_at__lte=cutoff
    ).exclude(requester_email="")
    for ticket_id in unsent.values_list("pk", flat=True)[:limit]:
        try:
            notify_customer_ticket_created.apply_async(args=[ticket_id], retry=False)
        except Exception:
            logger.exception("Could not queue the e-mail of ticket %s; next sweep", ticket_id)
            return


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


# --- SLA clocks ------------------------------------------------------------------------------


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

    resolution_breaches = open_tickets.filter(resolution_breached=False, resolution_due_at__lte=now)
    for ticket_id in resolution_breaches.values_list("pk", flat=True):
        counts["breached"] += _sla_breach(ticket_id, "resolution_breached", now)

    candidates = open_tickets.filter(
        sla_at_risk_at__isnull=True, resolution_breached=False, resolution_due_at__isnull=False
    ).only("pk", "created_at", "resolution_due_at", "first_response_due_at", "first_responded_at")
    for ticket in candidates:
        if _sla_at_risk(ticket, now):
            marked = Ticket.objects.filter(pk=ticket.pk, sla_at_risk_at__isnull=True).update(
                sla_at_risk_at=now, updated_at=now
            )
            if marked:
                TicketEvent.objects.create(
                    ticket_id=ticket.pk, kind=TicketEvent.Kind.SLA_AT_RISK, created_at=now,
                    body="Over 75% of the SLA target has passed.",
                )  # fmt: skip
                counts["at_risk"] += 1
    return counts


def _sla_at_risk(ticket: Ticket, now: datetime) -> bool:
    targets = [ticket.resolution_due_at]
    if ticket.first_responded_at is None and ticket.first_response_due_at is not None:
        targets.append(ticket.first_response_due_at)
    for due in targets:
        if due is None:
            continue
        total = (due - ticket.created_at).total_seconds()
        if total > 0 and (now - ticket.created_at).total_seconds() >= SLA_AT_RISK_SHARE * total:
            return True
    return False


def _sla_breach(ticket_id: int, flag: str, now: datetime) -> int:
    with transaction.atomic():
        # The flag in the WHERE clause makes the breach happen once, however many sweeps race.
        marked = Ticket.objects.filter(pk=ticket_id, **{flag: False}).update(
            **{flag: True}, updated_at=now
        )
        if not marked:
            return 0
        ticket = Ticket.objects.select_for_update().get(pk=ticket_id)
        what = "first response" if flag == "first_response_breached" else "resolution"
        TicketEvent.objects.create(
            ticket=ticket, kind=TicketEvent.Kind.SLA_BREACHED, created_at=now,
            body=f"The {what} target was missed.",
        )  # fmt: skip
        if ticket.priority < Priority.URGENT:
            raised = Ticket.objects.filter(pk=ticket_id).update(priority=F("priority") + 1)
            if raised:
                raised_to = Priority(ticket.priority + 1).label
                TicketEvent.objects.create(
                    ticket=ticket, kind=TicketEvent.Kind.PRIORITY_CHANGED, created_at=now,
                    body=f"Priority raised to {raised_to} after the breach.",
                )  # fmt: skip
        _notify_after_commit("notify_supervisors_breach", ticket_id)
    return 1


# --- agent work that moves the clocks ----------------------------------------------------------


@transaction.atomic
def ticket_reply(*, ticket: Ticket, author, body: str, public: bool = True) -> TicketEvent:
    """An agent's reply (public, stops the first-response clock) or internal note."""
    now = timezone.now()
    event = TicketEvent.objects.create(
        ticket=ticket,
        kind=TicketEvent.Kind.AGENT_REPLY if public else TicketEvent.Kind.INTERNAL_NOTE,
        author=author, body=body, created_at=now,
    )  # fmt: skip
    if public:
        Ticket.objects.filter(pk=ticket.pk, first_responded_at__isnull=True).update(
            first_responded_at=now
        )
        Ticket.objects.filter(pk=ticket.pk, status=Ticket.Status.NEW).update(
            status=Ticket.Status.OPEN, updated_at=now
        )
    return event


@transaction.atomic
def ticket_solve(*, ticket: Ticket, author=None) -> Ticket:
    """Solve: stops the resolution clock and frees the assignee's capacity."""
    now = timezone.now()
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    if ticket.status not in OPEN_TICKET_STATUSES:
        return ticket
    ticket.status, ticket.solved_at, ticket.updated_at = Ticket.Status.SOLVED, now, now
    ticket.save(update_fields=["status", "solved_at", "updated_at"])
    if ticket.assignee_id is not None:
        AgentProfile.objects.filter(pk=ticket.assignee_id, open_tickets__gt=0).update(
            open_tickets=F("open_tickets") - 1
        )
    TicketEvent.objects.create(
        ticket=ticket, kind=TicketEvent.Kind.STATUS_CHANGED, author=author,
        body="Solved.", created_at=now,
    )  # fmt: skip
    # Room freed: waiting tickets may now be assigned.
    transaction.on_commit(lambda: _assign_waiting_soon())
    return ticket


def _assign_waiting_soon() -> None:
    from tickets.tasks import assign_waiting_tickets

    try:
        assign_waiting_tickets.apply_async(retry=True, retry_policy={"max_retries": 1})
    except Exception:
        logger.exception("Could not ask for waiting tickets to be assigned; beat will")
