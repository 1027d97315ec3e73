"""The escalation path: a failed self-help attempt becomes exactly one routed, assigned ticket
with SLA clocks. Views, the API, the admin and the Celery tasks call these functions."""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from guides import services as guide_services
from guides.models import Attempt
from helpdesk.errors import ServiceError
from helpdesk.text import plain_text
from tickets import events
from tickets.models import (
    OPEN_TICKET_STATUSES,
    TICKET_TRANSITIONS,
    AgentProfile,
    Priority,
    Queue,
    RoutingRule,
    SLAPolicy,
    Ticket,
    TicketEvent,
)
from tickets.selectors import (
    agent_profile_for,
    claim_next_candidate_params,
    claim_next_candidate_sql,
    claimable_tickets,
    ticket_visible_to,
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
    # The conditions of the rule that held, as (kind, value): company, tag, language, keyword.
    conditions: tuple[tuple[str, str], ...] = ()

    @property
    def facts(self) -> dict[str, Any]:
        """The ROUTED event's change: enough to say why, in any language (tickets.events)."""
        return {
            "rule": self.rule.name if self.rule else None,
            "queue": self.queue.name,
            "conditions": [list(condition) for condition in self.conditions],
        }

    @property
    def reason(self) -> str:
        """Why, in English: stored on the ticket (routing_reason) and in the event's body."""
        return events.event_body(TicketEvent.Kind.ROUTED, self.facts)


def fallback_queue() -> Queue:
    queue = Queue.objects.filter(is_fallback=True).first()
    if queue is None:
        queue, _created = Queue.objects.get_or_create(
            slug="general", defaults={"name": "General", "is_fallback": True}
        )
    return queue


def _rule_matches(
    rule: RoutingRule, *, attempt: Attempt, tags: set[str]
) -> list[tuple[str, str]] | None:
    """The conditions of the rule that hold, as (kind, value); None when one does not."""
    why: list[tuple[str, str]] = []
    company = attempt.guide.company if attempt.guide else attempt.company
    if rule.company_id is not None:
        if company is None or rule.company_id != company.pk:
            return None
        why.append(("company", company.name))
    if rule.tag_id is not None:
        if rule.tag is None or rule.tag.slug not in tags:
            return None
        why.append(("tag", rule.tag.slug))
    if rule.language:
        if rule.language != attempt.language:
            return None
        why.append(("language", rule.language))
    keywords = [k.strip().lower() for k in rule.keywords.split(",") if k.strip()]
    if keywords:
        text = attempt.description.lower()
        found = [k for k in keywords if k in text]
        if not found:
            return None
        why.append(("keyword", found[0]))
    return why


def route(*, attempt: Attempt) -> RoutingDecision:
    """Rules in order, first match wins; otherwise the fallback queue."""
    tags = set(attempt.guide.tags.values_list("slug", flat=True)) if attempt.guide else set()
    rules = RoutingRule.objects.filter(is_active=True).select_related("queue", "tag")
    for rule in rules.order_by("position", "pk"):
        why = _rule_matches(rule, attempt=attempt, tags=tags)
        if why is not None:
            return RoutingDecision(rule.queue, rule.priority, rule, tuple(why))
    return RoutingDecision(fallback_queue(), Priority.NORMAL, None)


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


def _event(ticket: Ticket, kind: str, *, actor=None, body: str = "", change=None, now=None):
    # System events: ``change`` holds the facts and the body is their English sentence
    # (tickets.events), so the workspace can say it again in the agent's language.
    if change is not None and not body:
        body = events.event_body(kind, change, note=change.get("note", ""))
    return TicketEvent.objects.create(
        ticket=ticket, kind=kind, author=actor, body=body, change=change or {},
        created_at=now or timezone.now(),
    )  # fmt: skip


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


def _eligible_agents(
    *, queue: Queue, language: str, passed_over: int | None = None
) -> list[AgentProfile]:
    agents = [
        agent
        for agent in queue.members.filter(is_available=True, open_tickets__lt=F("capacity"))
        if (not agent.languages or language in agent.languages) and agent.pk != passed_over
    ]
    # Fewest open tickets first; among equals, the one who has waited longest.
    never = datetime.min.replace(tzinfo=timezone.get_current_timezone())
    return sorted(agents, key=lambda a: (a.open_tickets, a.last_assigned_at or never, a.pk))


def ticket_assign(*, ticket: Ticket, now: datetime | None = None) -> AgentProfile | None:
    """Give an unassigned ticket to the best eligible agent of its queue, if any has room and
    the queue assigns automatically (in the others, agents claim their next ticket)."""
    if not ticket.queue.auto_assign:
        return None
    now = now or timezone.now()
    # Not back to the agent who handed it back; if nobody else can take it, it waits to be
    # claimed or assigned by a supervisor.
    candidates = _eligible_agents(
        queue=ticket.queue, language=ticket.language, passed_over=ticket.handed_back_by_id
    )
    for agent in candidates:
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
        _event(
            ticket, TicketEvent.Kind.ASSIGNED, now=now,
            change={"from": None, "to": agent.pk, "to_name": str(agent)},
        )  # fmt: skip
        return agent
    return None


def tickets_assign_waiting(*, limit: int = 200) -> int:
    """Assign waiting tickets now that agents may have room (run by beat, and on events)."""
    assigned = 0
    waiting = (
        Ticket.objects.filter(
            assignee__isnull=True, status__in=OPEN_TICKET_STATUSES, queue__auto_assign=True
        )
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


def _created_facts(attempt: Attempt, ticket: Ticket) -> dict[str, Any]:
    if attempt.guide_id is not None:
        return {"steps": len(ticket.tried_steps)}
    return {"opened": list(attempt.opened_guides.values_list("title", flat=True))}


def _notify_after_commit(task_name: str, object_id: int) -> None:
    """Queue notification task ``task_name`` for a ticket (or event) id once the transaction
    commits; a broker failure is logged, never raised into the committed request."""

    def send() -> None:
        from tickets import tasks

        try:
            getattr(tasks, task_name).apply_async(
                args=[object_id], retry=True, retry_policy={"max_retries": 1}
            )
        except Exception:
            logger.exception("Notification %s for %s not sent", task_name, object_id)

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
    reason = decision.reason  # a sentence made from the facts: once, for the ticket and event
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
        routing_reason=reason[:500],
        created_at=now,
        updated_at=now,
        first_response_due_at=first_due,
        resolution_due_at=resolution_due,
    )
    created = _created_facts(attempt, ticket)
    TicketEvent.objects.bulk_create(
        [
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

    resolution_breaches = open_tickets.filter(
        resolution_breached=False, resolution_due_at__lte=now, sla_paused_at__isnull=True
    )
    for ticket_id in resolution_breaches.values_list("pk", flat=True):
        counts["breached"] += _sla_breach(ticket_id, "resolution_breached", now)

    candidates = open_tickets.filter(
        sla_at_risk_at__isnull=True, resolution_breached=False, resolution_due_at__isnull=False
    ).only(
        "pk",
        "created_at",
        "resolution_due_at",
        "first_response_due_at",
        "first_responded_at",
        "sla_paused_at",
    )
    for ticket in candidates:
        if _sla_at_risk(ticket, now):
            marked = Ticket.objects.filter(pk=ticket.pk, sla_at_risk_at__isnull=True).update(
                sla_at_risk_at=now, updated_at=now
            )
            if marked:
                _event(ticket, TicketEvent.Kind.SLA_AT_RISK, now=now, change={})
                counts["at_risk"] += 1
    return counts


def sla_target_at_risk(*, created_at: datetime, due_at: datetime, now: datetime) -> bool:
    """Whether SLA_AT_RISK_SHARE of the time between creation and a due time has passed: the
    one rule for "at risk", used by the SLA check and by the pages that colour the clocks."""
    total = (due_at - created_at).total_seconds()
    return total > 0 and (now - created_at).total_seconds() >= SLA_AT_RISK_SHARE * total


def _sla_at_risk(ticket: Ticket, now: datetime) -> bool:
    targets = [ticket.resolution_due_at] if ticket.sla_paused_at is None else []
    if ticket.first_responded_at is None:
        targets.append(ticket.first_response_due_at)
    return any(
        sla_target_at_risk(created_at=ticket.created_at, due_at=due, now=now)
        for due in targets
        if due is not None
    )


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
        _notify_after_commit("notify_supervisors_breach", ticket_id)
    return 1


# --- the agent workspace ---------------------------------------------------------------------
#
# Every change an agent, a supervisor, an integration or the customer makes to a ticket goes
# through one of these functions, whichever door it came in by (admin page, bulk action, API,
# status page): each locks the ticket row, checks the actor may do it, changes the row with
# update_fields, writes the event in the same transaction, and notifies after commit.


class TicketError(ServiceError):
    """A ticket action refused, with a message for the person who asked, in their language
    (the services run in the request's language; the admin and the API show it as is).

    A plain TicketError is about the input (a blank body, an agent outside the queue); the
    subclasses are about the actor or the ticket's state and name no input."""

    code = "ticket_error"


class TicketNotPermitted(TicketError):
    code = "not_permitted"
    status = 403
    field = None


class TransitionNotAllowed(TicketError):
    code = "transition_not_allowed"
    status = 409
    field = None


class AgentAtCapacity(TicketError):
    code = "agent_at_capacity"
    status = 409
    field = None


class AgentUnavailable(TicketError):
    code = "agent_unavailable"
    status = 409
    field = None


class TicketClosedForReplies(TicketError):
    code = "ticket_closed"
    status = 409
    field = None


# A solved ticket reopens on a customer's reply within this window; after it the ticket is
# closed (tickets_close_solved) and the customer starts a new escalation.
REOPEN_WINDOW = timedelta(days=7)


def _ticket_locked(ticket: Ticket | int) -> Ticket:
    pk = ticket if isinstance(ticket, int) else ticket.pk
    # of=("self",): PostgreSQL refuses FOR UPDATE on the nullable side of an outer join.
    return (
        Ticket.objects.select_for_update(of=("self",))
        .select_related("queue", "assignee__user")
        .get(pk=pk)
    )


def _actor_check(actor, ticket: Ticket, *, permission: str = "tickets.change_ticket") -> None:
    """Refuse an actor who may not work this ticket. ``actor`` None is the system itself."""
    if actor is None:
        return
    if not actor.has_perm(permission) or not ticket_visible_to(user=actor, ticket=ticket):
        raise TicketNotPermitted(_("You may not work on this ticket."))


def _capacity_release(agent_id: int | None) -> None:
    if agent_id is not None:
        AgentProfile.objects.filter(pk=agent_id, open_tickets__gt=0).update(
            open_tickets=F("open_tickets") - 1
        )


def _capacity_retake(agent_id: int | None) -> None:
    # A reopened ticket goes back to the agent who knows it, even over capacity: sending the
    # customer to a stranger would undo the point of the history.
    if agent_id is not None:
        AgentProfile.objects.filter(pk=agent_id).update(open_tickets=F("open_tickets") + 1)


def _sla_pause_or_resume(ticket: Ticket, *, to_status: str, now: datetime) -> list[str]:
    """Stop the resolution clock on the way into pending, start it again on the way out;
    returns the fields it changed."""
    if to_status == Ticket.Status.PENDING:
        if ticket.resolution_due_at is None or ticket.resolution_breached:
            return []  # no clock, or one already run out: nothing to hold
        ticket.sla_paused_at = now
        return ["sla_paused_at"]
    if ticket.sla_paused_at is None:
        return []
    assert ticket.resolution_due_at is not None  # paused only with a clock
    ticket.resolution_due_at += now - ticket.sla_paused_at
    ticket.sla_paused_at = None
    return ["resolution_due_at", "sla_paused_at"]


def _status_label(status: str) -> str:
    return str(Ticket.Status(status).label)


@transaction.atomic
def ticket_transition(
    *, ticket: Ticket | int, to_status: str, actor=None, note: str = ""
) -> Ticket:
    """Move a ticket along the status workflow (tickets.models.TICKET_TRANSITIONS).

    Leaving the open statuses (solved) frees the assignee's capacity and stops the resolution
    clock; coming back (reopen) takes it again. Pending pauses the resolution clock: the time
    the ticket waits on the customer is added to its due time when it leaves pending. The
    event records from and to.
    """
    ticket = _ticket_locked(ticket)
    _actor_check(actor, ticket)
    if to_status not in Ticket.Status.values:
        raise TransitionNotAllowed(_("Unknown status %(status)r.") % {"status": to_status})
    current = ticket.status
    if to_status == current:
        raise TransitionNotAllowed(
            _("The ticket is already %(status)s.") % {"status": _status_label(current).lower()}
        )
    allowed = TICKET_TRANSITIONS[current]
    if to_status not in allowed:
        # Translators: the separator of a list of statuses ("open, pending, solved").
        separator = _(", ")
        choices = separator.join(_status_label(s).lower() for s in allowed) or _(
            "none: it is final"
        )
        raise TransitionNotAllowed(
            _("A %(current)s ticket cannot become %(target)s (allowed: %(allowed)s).")
            % {
                "current": _status_label(current).lower(),
                "target": _status_label(to_status).lower(),
                "allowed": choices,
            }
        )
    now = timezone.now()
    fields = ["status", "updated_at"]
    was_open, will_be_open = current in OPEN_TICKET_STATUSES, to_status in OPEN_TICKET_STATUSES
    if to_status == Ticket.Status.SOLVED:
        ticket.solved_at = now
        fields.append("solved_at")
    elif to_status == Ticket.Status.CLOSED:
        ticket.closed_at = now
        fields.append("closed_at")
    elif current == Ticket.Status.SOLVED:  # reopened
        ticket.solved_at = None
        fields.append("solved_at")
    fields += _sla_pause_or_resume(ticket, to_status=to_status, now=now)
    ticket.status, ticket.updated_at = to_status, now
    ticket.save(update_fields=fields)
    if was_open and not will_be_open:
        _capacity_release(ticket.assignee_id)
        transaction.on_commit(_assign_waiting_soon)  # room freed for waiting tickets
    elif will_be_open and not was_open:
        _capacity_retake(ticket.assignee_id)
    change: dict[str, Any] = {"from": current, "to": to_status}
    if current == Ticket.Status.SOLVED and will_be_open:
        change["reopened"] = True
    # The note lives in a JSON column, which no plain-text field cleans (helpdesk.text).
    note = plain_text(note).strip()
    if note:
        change["note"] = note
    _event(ticket, TicketEvent.Kind.STATUS_CHANGED, actor=actor, now=now, change=change)
    return ticket


def ticket_solve(*, ticket: Ticket, author=None) -> Ticket:
    return ticket_transition(ticket=ticket, to_status=Ticket.Status.SOLVED, actor=author)


@transaction.atomic
def ticket_reply(
    *, ticket: Ticket, author, body: str, public: bool = True, status_after: str | None = None
) -> TicketEvent:
    """An agent's public reply (e-mailed to the customer; stops the first-response clock and
    opens a new ticket) or internal note. ``status_after`` moves the ticket on in the same
    transaction, e.g. to pending when the reply asks the customer something."""
    body = plain_text(body).strip()
    if not body:
        raise TicketError(_("Write something first."))
    ticket = _ticket_locked(ticket)
    _actor_check(author, ticket)
    if public and ticket.status == Ticket.Status.CLOSED:
        raise TicketClosedForReplies(
            _("The ticket is closed; the customer cannot be answered here.")
        )
    now = timezone.now()
    kind = TicketEvent.Kind.AGENT_REPLY if public else TicketEvent.Kind.INTERNAL_NOTE
    event = _event(ticket, kind, actor=author, body=body, now=now)
    if public:
        fields = ["updated_at"]
        if ticket.first_responded_at is None:
            ticket.first_responded_at = now
            fields.append("first_responded_at")
        ticket.updated_at = now
        ticket.save(update_fields=fields)
        if ticket.status == Ticket.Status.NEW and status_after is None:
            status_after = Ticket.Status.OPEN
        _notify_after_commit("notify_customer_reply", event.pk)
    if status_after is not None and status_after != ticket.status:
        ticket_transition(ticket=ticket, to_status=status_after, actor=author)
    return event


def ticket_note(*, ticket: Ticket, author, body: str) -> TicketEvent:
    return ticket_reply(ticket=ticket, author=author, body=body, public=False)


def ticket_accepts_customer_replies(ticket: Ticket, *, now: datetime | None = None) -> bool:
    """Whether the customer may still write on the ticket: not closed, and if solved, solved
    within REOPEN_WINDOW. The status page and the API offer the reply form by this rule;
    ticket_customer_reply enforces it on the locked row."""
    if ticket.status == Ticket.Status.CLOSED:
        return False
    if ticket.status == Ticket.Status.SOLVED:
        now = now or timezone.now()
        return ticket.solved_at is not None and now - ticket.solved_at <= REOPEN_WINDOW
    return True


@transaction.atomic
def ticket_customer_reply(*, ticket: Ticket, body: str, now: datetime | None = None) -> TicketEvent:
    """The customer writes on their status page (or through the API with the secret).

    Pending → open (the customer answered); solved within REOPEN_WINDOW → reopened; solved
    longer ago or closed → refused, and the page offers a new escalation instead.
    """
    body = plain_text(body).strip()
    if not body:
        raise TicketError(_("Write something first."))
    now = now or timezone.now()
    ticket = _ticket_locked(ticket)
    if not ticket_accepts_customer_replies(ticket, now=now):
        raise TicketClosedForReplies(
            _("This request is closed. If the problem is back, please send a new request.")
        )
    event = _event(ticket, TicketEvent.Kind.CUSTOMER_MESSAGE, body=body, now=now)
    ticket.updated_at = now
    ticket.save(update_fields=["updated_at"])
    if ticket.status in (Ticket.Status.PENDING, Ticket.Status.SOLVED):
        ticket_transition(ticket=ticket, to_status=Ticket.Status.OPEN)
    return event


@transaction.atomic
def ticket_priority_change(*, ticket: Ticket, priority: int, actor=None) -> Ticket:
    ticket = _ticket_locked(ticket)
    _actor_check(actor, ticket)
    if priority not in Priority.values:
        raise TicketError(_("Unknown priority %(priority)r.") % {"priority": priority})
    if priority == ticket.priority:
        return ticket
    old, now = ticket.priority, timezone.now()
    ticket.priority, ticket.updated_at = priority, now
    ticket.save(update_fields=["priority", "updated_at"])
    _event(
        ticket, TicketEvent.Kind.PRIORITY_CHANGED, actor=actor, now=now,
        change={"from": old, "to": priority},
    )  # fmt: skip
    return ticket


@transaction.atomic
def ticket_assign_to(*, ticket: Ticket, agent: AgentProfile | None, actor=None) -> Ticket:
    """Give the ticket to ``agent`` (None: back to the queue). The new agent must belong to
    the ticket's queue and have room; giving it to someone else than oneself needs the
    reassign permission."""
    ticket = _ticket_locked(ticket)
    _actor_check(actor, ticket)
    if actor is not None and not actor.has_perm("tickets.reassign_ticket"):
        # An agent may take a ticket, or hand their own back to the queue; nothing else.
        own = agent_profile_for(actor)
        taking = agent is not None and own is not None and agent.pk == own.pk
        handing_back = agent is None and own is not None and ticket.assignee_id == own.pk
        if not (taking or handing_back):
            raise TicketNotPermitted(_("Only a supervisor may assign tickets to someone else."))
    if ticket.assignee_id == (agent.pk if agent else None):
        return ticket
    now = timezone.now()
    is_open = ticket.status in OPEN_TICKET_STATUSES
    if agent is not None:
        if not ticket.queue.members.filter(pk=agent.pk).exists():
            raise TicketError(
                _("%(agent)s is not a member of the queue %(queue)s.")
                % {"agent": agent, "queue": ticket.queue}
            )
        if is_open and not agent_claim_slot(agent_id=agent.pk, now=now):
            raise AgentAtCapacity(
                _("%(agent)s has no room (capacity %(capacity)d).")
                % {"agent": agent, "capacity": agent.capacity}
            )
    previous = ticket.assignee
    if is_open:
        _capacity_release(ticket.assignee_id)
    ticket.assignee, ticket.updated_at = agent, now
    fields = ["assignee", "updated_at"]
    if agent is None:
        ticket.handed_back_by = previous
        fields.append("handed_back_by")
    ticket.save(update_fields=fields)
    kind = TicketEvent.Kind.ASSIGNED if agent is not None else TicketEvent.Kind.UNASSIGNED
    _event(
        ticket, kind, actor=actor, now=now,
        change={
            "from": previous.pk if previous else None, "to": agent.pk if agent else None,
            "from_name": str(previous) if previous else None,
            "to_name": str(agent) if agent else None,
        },
    )  # fmt: skip
    if agent is not None and (actor is None or actor.pk != agent.user_id):
        _notify_after_commit("notify_agent_assigned", ticket.pk)
    return ticket


@transaction.atomic
def ticket_move_queue(*, ticket: Ticket, queue: Queue, actor=None) -> Ticket:
    """Move to another queue; an assignee who is not a member there hands the ticket back."""
    ticket = _ticket_locked(ticket)
    _actor_check(actor, ticket, permission="tickets.reassign_ticket")
    if queue.pk == ticket.queue_id:
        return ticket
    previous = ticket.queue
    if ticket.assignee_id is not None and not queue.members.filter(pk=ticket.assignee_id).exists():
        ticket_assign_to(ticket=ticket, agent=None)
    now = timezone.now()
    ticket.queue, ticket.updated_at = queue, now
    ticket.save(update_fields=["queue", "updated_at"])
    _event(
        ticket, TicketEvent.Kind.REROUTED, actor=actor, now=now,
        change={
            "from": previous.pk, "to": queue.pk, "from_name": previous.name, "to_name": queue.name
        },
    )  # fmt: skip
    return ticket


@transaction.atomic
def agent_availability_set(*, agent: AgentProfile, available: bool, actor) -> AgentProfile:
    """Mark an agent available for new tickets or away (a break, the end of a shift). Away,
    automatic assignment passes them over and claim next refuses; the tickets they hold stay
    theirs. An agent sets their own; a supervisor anyone's."""
    if agent.user_id != actor.pk and not actor.has_perm("tickets.reassign_ticket"):
        raise TicketNotPermitted(_("Only a supervisor may change another agent's availability."))
    AgentProfile.objects.filter(pk=agent.pk).update(is_available=available)
    agent.is_available = available
    if available:
        transaction.on_commit(_assign_waiting_soon)  # back: waiting tickets may go to them
    return agent


def _claim_facts(agent: AgentProfile) -> dict[str, Any]:
    return {"from": None, "to": agent.pk, "to_name": str(agent), "claimed": True}


def ticket_claim_next(*, agent: AgentProfile, now: datetime | None = None) -> Ticket | None:
    """Assign to ``agent`` the most urgent unassigned open ticket of their queues, in their
    languages (breached, then priority, then oldest). None when there is nothing to claim.

    Twenty agents pressing the button at once must get twenty different tickets. On
    PostgreSQL the candidate is read FOR UPDATE SKIP LOCKED: a row another claim holds is
    passed over instead of waited on (plain FOR UPDATE queues every claimer behind the first;
    select-then-update without a lock hands one ticket to several agents), and the whole claim
    is one statement (_claim_on_postgresql). SQLite ignores select_for_update, so there the
    UPDATE itself is the compare-and-set ("still unassigned"), and a lost race moves on to the
    next candidate. Capacity is a conditional UPDATE of the agent's open_tickets, as for
    automatic assignment.
    """
    now = now or timezone.now()
    if not agent.user.is_active or not agent.user.has_perm("tickets.claim_ticket"):
        raise TicketNotPermitted(_("Only agents may claim tickets."))
    if not agent.is_available:
        raise AgentUnavailable(
            _("You are marked as away: mark yourself available on the ticket list first.")
        )
    if connection.vendor == "postgresql":
        claimed = _claim_on_postgresql(agent=agent, now=now)
        if claimed is not None:
            return claimed
        # Nothing claimed: the agent is at capacity, nothing is waiting, or every candidate
        # was held by another claim. The general path below tells which.
    if not agent_claim_slot(agent_id=agent.pk, now=now):
        raise AgentAtCapacity(
            _("You have %(capacity)d open tickets, your capacity: solve one first.")
            % {"capacity": agent.capacity}
        )
    claimed = None
    skipped: list[int] = []
    for _try in range(5):
        with transaction.atomic():
            candidate = (
                claimable_tickets(agent=agent)
                .exclude(pk__in=skipped)
                .select_for_update(skip_locked=True, of=("self",))
                .only("pk")
                .first()
            )
            if candidate is None:
                break
            won = Ticket.objects.filter(
                pk=candidate.pk, assignee__isnull=True, status__in=OPEN_TICKET_STATUSES
            ).update(assignee=agent, updated_at=now)
            if not won:
                skipped.append(candidate.pk)
                continue
            claimed = Ticket.objects.select_related("queue").get(pk=candidate.pk)
            _event(
                claimed, TicketEvent.Kind.ASSIGNED, actor=agent.user, now=now,
                change=_claim_facts(agent),
            )  # fmt: skip
            break
    if claimed is None:
        _capacity_release(agent.pk)
    return claimed


def _claim_on_postgresql(*, agent: AgentProfile, now: datetime) -> Ticket | None:
    """The whole claim in one statement and one round trip: lock the most urgent free
    candidate (SKIP LOCKED), take a unit of the agent's capacity, assign the ticket, write the
    ASSIGNED event, and return the ticket's row.

    Written as SQL because claim next is the desk's hottest write, done by many agents at
    the same moment: the ORM version is six statements and ~4 ms of Python and round trips
    per click, this is one (docs/performance.md has the figures). Each step runs only if the
    one before produced a row (candidate → slot → claimed → recorded), so an agent at
    capacity or with nothing to claim changes nothing. The event's columns are spelled out
    here; tests/tickets/test_claim_next.py checks the event it writes.
    """
    # Table names come from the models; every value is a query parameter.
    sql = f"""
WITH candidate AS ({claim_next_candidate_sql()}),
slot AS (
    UPDATE {AgentProfile._meta.db_table} a
    SET open_tickets = a.open_tickets + 1, last_assigned_at = %(now)s
    FROM candidate
    WHERE a.id = %(agent)s AND a.is_available AND a.open_tickets < a.capacity
    RETURNING a.id
),
claimed AS (
    UPDATE {Ticket._meta.db_table} t SET assignee_id = %(agent)s, updated_at = %(now)s
    FROM candidate, slot WHERE t.id = candidate.id
    RETURNING t.*
),
recorded AS (
    INSERT INTO {TicketEvent._meta.db_table} (ticket_id, kind, author_id, body, change, created_at)
    SELECT id, %(kind)s, %(author)s, %(body)s, %(change)s::jsonb, %(now)s FROM claimed
)
SELECT * FROM claimed
"""  # noqa: S608
    facts = _claim_facts(agent)
    params = {
        **claim_next_candidate_params(agent=agent),
        "now": now,
        "kind": TicketEvent.Kind.ASSIGNED.value,
        "author": agent.user_id,
        "body": events.event_body(TicketEvent.Kind.ASSIGNED, facts),
        "change": json.dumps(facts),
    }
    with transaction.atomic():
        rows = list(Ticket.objects.raw(sql, params))
    return rows[0] if rows else None


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


def _assign_waiting_soon() -> None:
    from tickets.tasks import assign_waiting_tickets

    try:
        assign_waiting_tickets.apply_async(retry=True, retry_policy={"max_retries": 1})
    except Exception:
        logger.exception("Could not ask for waiting tickets to be assigned; beat will")
