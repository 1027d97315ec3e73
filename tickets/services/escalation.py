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
import time
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import Case, F, QuerySet, Value, When
from django.utils import timezone

from guides import services as guide_services
from guides.models import Attempt, Guide, StepOutcome
from tickets import events, signals
from tickets.models import Attachment, Ticket, TicketEvent, ticket_reference_new
from tickets.services import webhooks
from tickets.services.assignment import agents_pick, assigned_facts
from tickets.services.routing import route, routing_table, routing_version
from tickets.services.sla import sla_targets

logger = logging.getLogger(__name__)

# How long a web request may spend handing an escalation to the broker. Past it the request
# answers anyway: the escalation is already stored and the sweeper sends it later.
PUBLISH_TIMEOUT_SECONDS = 1.0

# Deliveries of one escalation after which it is parked for a supervisor (see
# escalation_delivery_record): enough for broker hiccups and a crash or two, not a loop.
MAX_ESCALATION_DELIVERIES = 5

# First tries made into tickets together, in one transaction (escalations_ticket): enough to
# share the fixed cost of a transaction out thinly, few enough to keep it short.
ESCALATION_BATCH_SIZE = 50

# How long one run of escalations_ticket goes on while escalations keep coming: well inside
# CELERY_TASK_SOFT_TIME_LIMIT. Escalations recorded meanwhile have a run of their own queued.
ESCALATION_RUN_SECONDS = 20.0

# After a batch smaller than ESCALATION_BATCH_SIZE, while escalations keep coming, the worker
# waits this long before it claims the next: a few more per batch at 100-200 escalations a
# second, for a fixed cost per batch (two transactions, an e-mail task) shared by more tickets.
# A lone escalation never waits: it is claimed at once, and its ticket made before the pause.
ESCALATION_GATHER_SECONDS = 0.02

# Lost connections, lock timeouts, deadlock victims: worth another try of the whole task.
# Integrity or programming errors are not.
TRANSIENT_DATABASE_ERRORS = (OperationalError, InterfaceError)


# --- the customer asks for a person ----------------------------------------------------------


def escalation_request(
    *, attempt: Attempt, description: str, name: str = "", email: str = ""
) -> Attempt:
    """Record the customer's request durably, then hand it to the workers after commit.

    The attempt row (status escalated, escalation_requested_at set) is the durable record:
    whatever happens to the message, the sweeper finds the attempt without a ticket. The same
    UPDATE reserves the ticket's reference (Attempt.ticket_reference), so the customer's
    confirmation shows the reference and the status link before the ticket exists.

    No transaction of its own: the record is one conditional UPDATE, atomic by itself, and the
    publish waits for the commit of the caller's transaction if there is one (the web forms
    start the attempt in the same one), else runs right after that UPDATE.
    """
    attempt = guide_services.attempt_contact_submit(
        attempt=attempt, description=description, name=name, email=email,
        reference_new=ticket_reference_new,
    )  # fmt: skip
    signals.escalation_requested.send(sender=Attempt, attempt_id=attempt.pk)
    return attempt


def escalation_request_by_id(
    *, attempt_id: int, description: str, name: str = "", email: str = ""
) -> dict[str, Any]:
    """escalation_request for a caller that holds the attempt's id alone (the escalate API);
    returns the attempt's fields it wrote."""
    changes = guide_services.attempt_contact_record(
        attempt_id=attempt_id, description=description, name=name, email=email,
        reference_new=ticket_reference_new,
    )  # fmt: skip
    signals.escalation_requested.send(sender=Attempt, attempt_id=attempt_id)
    return changes


# --- the tickets ----------------------------------------------------------------------------


def _tried_steps_snapshots(attempt_ids: list[int]) -> dict[int, list[dict]]:
    tried: dict[int, list[dict]] = {attempt_id: [] for attempt_id in attempt_ids}
    outcomes = (
        StepOutcome.objects.filter(attempt_id__in=attempt_ids)
        .order_by("recorded_at", "pk")
        .values_list(
            "attempt_id", "step_position", "step_title", "step_kind", "outcome", "note",
            "recorded_at",
        )
    )  # fmt: skip
    for attempt_id, position, title, kind, outcome, note, recorded_at in outcomes:
        tried[attempt_id].append(
            {
                "position": position,
                "title": title,
                "kind": kind,
                "outcome": outcome,
                "note": note,
                "recorded_at": recorded_at.isoformat(),
            }
        )
    return tried


def _guide_tags(attempts: list[Attempt]) -> dict[int, set[str]]:
    """The tag slugs of the attempts' guides, which routing reads: one query for them all."""
    guide_ids = {attempt.guide_id for attempt in attempts if attempt.guide_id is not None}
    tags: dict[int, set[str]] = {guide_id: set() for guide_id in guide_ids}
    if guide_ids:
        through = Guide.tags.through.objects.filter(guide_id__in=guide_ids)
        for guide_id, slug in through.values_list("guide_id", "tag__slug"):
            tags[guide_id].add(slug)
    return tags


def _opened_guides(attempts: list[Attempt]) -> dict[int, list[str]]:
    """The guides each contact-form request opened before writing (no query without one)."""
    ids = [attempt.pk for attempt in attempts if attempt.guide_id is None]
    opened: dict[int, list[str]] = {attempt_id: [] for attempt_id in ids}
    if ids:
        through = Attempt.opened_guides.through.objects.filter(attempt_id__in=ids)
        ordered = through.order_by("guide__company__name", "guide__title")  # as Guide's Meta
        for attempt_id, title in ordered.values_list("attempt_id", "guide__title"):
            opened[attempt_id].append(title)
    return opened


def _waits_no_more(attempts: list[Attempt]) -> None:
    """Clear the mark of attempts found with a ticket already (made before the mark existed,
    or by a path that did not clear it), so the workers stop finding them."""
    marked = [attempt.pk for attempt in attempts if attempt.awaiting_ticket]
    if marked:
        Attempt.objects.filter(pk__in=marked).update(awaiting_ticket=False)


def _subject_from(description: str) -> str:
    first_line = description.strip().splitlines()[0] if description.strip() else ""
    return first_line[:120] or "Contact request"


def _locked_escalations(*, skip_locked: bool = False) -> QuerySet[Attempt]:
    """Escalated attempts awaiting their ticket, locked, with what the ticket is made of.

    Only the attempt rows are locked (the joined guide and company may be absent: outer joins,
    and PostgreSQL cannot lock the nullable side of one). The routing table's token and the id
    of a ticket already made come along rather than in statements of their own.
    """
    return (
        Attempt.objects.select_for_update(of=("self",), skip_locked=skip_locked)
        .select_related("guide", "guide__company", "company")
        .annotate(
            routing_version=routing_version(),
            ticket_made=F("ticket__id"),
            webhooks_on=webhooks.webhooks_active(),
        )
        .filter(status=Attempt.Status.ESCALATED)
        .order_by("escalation_requested_at", "pk")
    )


def ticket_create_from_attempt(*, attempt_id: int) -> Ticket | None:
    """Turn one escalated attempt into its one ticket; safe to call any number of times.

    Returns the ticket (new or existing), or None when the attempt was not escalated. Two
    workers may run this for the same attempt at once (a redelivered message, the sweeper):
    the attempt row lock serialises them on PostgreSQL, and the unique constraint on
    Ticket.attempt settles any race that gets past it (SQLite, which has no row locks) — the
    loser's transaction rolls back and it returns the winner's ticket.
    """
    try:
        with transaction.atomic():
            attempt = _locked_escalations().filter(pk=attempt_id).first()
            if attempt is None:
                return None
            if attempt.ticket_made is not None:  # type: ignore[attr-defined]
                _waits_no_more([attempt])
                return Ticket.objects.get(pk=attempt.ticket_made)  # type: ignore[attr-defined]
            return _tickets_create([attempt])[0]
    except IntegrityError:
        return Ticket.objects.filter(attempt_id=attempt_id).first()


def _tickets_create(attempts: list[Attempt]) -> list[Ticket]:
    """The tickets of these locked, escalated attempts without one, in their order: routed,
    assigned where their queue assigns automatically, with SLA clocks and their history.

    Whatever their number, a fixed set of statements: one read each of tried steps, guide tags
    and opened guides, the agents of the queues concerned and one capacity UPDATE per agent
    picked, one INSERT of the tickets, one of their events, one UPDATE of the attempts.
    """
    now = timezone.now()
    table = routing_table(version=attempts[0].routing_version)  # type: ignore[attr-defined]
    tags = _guide_tags(attempts)
    tried = _tried_steps_snapshots([attempt.pk for attempt in attempts])
    opened = _opened_guides(attempts)
    decisions = [
        route(attempt=attempt, table=table, tags=tags.get(attempt.guide_id or 0, set()))
        for attempt in attempts
    ]
    # Agents are picked, and units of their capacity taken, before the INSERT: each ticket is
    # written once, already assigned, instead of inserted and then rewritten (with every index
    # of the table) by an UPDATE. No other transaction sees the tickets before commit, so
    # there is no "still unassigned?" race; a rollback gives the capacity back. Every read is
    # done first: the agents' rows stay locked from here to the commit.
    agents = agents_pick(
        wanted=[
            (decision.queue, attempt.language)
            for attempt, decision in zip(attempts, decisions, strict=True)
        ],
        now=now,
    )
    tickets: list[Ticket] = []
    for attempt, decision, agent in zip(attempts, decisions, agents, strict=True):
        guide = attempt.guide
        targets = sla_targets(
            queue=decision.queue, priority=decision.priority, start=now, table=table
        )
        tickets.append(
            Ticket(
                # The reference the customer was shown; escalations recorded before references
                # were reserved (or by a path that reserves none) get one here.
                reference=attempt.ticket_reference or ticket_reference_new(),
                attempt=attempt,
                company=guide.company if guide else attempt.company,
                guide=guide,
                language=attempt.language,
                subject=guide.title[:300] if guide else _subject_from(attempt.description),
                description=attempt.description,
                requester_name=attempt.contact_name,
                requester_email=attempt.contact_email,
                tried_steps=tried[attempt.pk],
                queue=decision.queue,
                assignee=agent,
                priority=decision.priority,
                routing_rule=decision.rule,
                routing_reason=decision.reason[:500],
                created_at=now,
                updated_at=now,
                first_response_due_at=targets.first_response_due_at,
                resolution_due_at=targets.resolution_due_at,
                first_response_at_risk_from=targets.first_response_at_risk_from,
                resolution_at_risk_from=targets.resolution_at_risk_from,
            )
        )
    Ticket.objects.bulk_create(tickets)
    history: list[TicketEvent] = []
    first_messages: list[TicketEvent] = []
    for ticket, attempt, decision, agent in zip(tickets, attempts, decisions, agents, strict=True):
        created: dict[str, Any] = (
            {"steps": len(ticket.tried_steps)}
            if attempt.guide_id is not None
            else {"opened": opened[attempt.pk]}
        )
        first_messages.append(
            TicketEvent(
                ticket=ticket, kind=TicketEvent.Kind.CUSTOMER_MESSAGE, body=attempt.description,
                created_at=now,
            )
        )  # fmt: skip
        history += [
            first_messages[-1],
            TicketEvent(
                ticket=ticket, kind=TicketEvent.Kind.CREATED,
                body=events.event_body(TicketEvent.Kind.CREATED, created),
                change=created, created_at=now,
            ),
            TicketEvent(
                ticket=ticket, kind=TicketEvent.Kind.ROUTED, body=ticket.routing_reason,
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
    _attachments_move(attempts, first_messages)
    done: dict[str, Any] = {"awaiting_ticket": False}
    # A reference drawn here is written back to its attempt, in the same UPDATE: every
    # ticket's reference is its attempt's, which keeps reservations unique across both.
    drawn = [
        When(pk=attempt.pk, then=Value(ticket.reference))
        for attempt, ticket in zip(attempts, tickets, strict=True)
        if attempt.ticket_reference is None
    ]
    if drawn:
        done["ticket_reference"] = Case(*drawn, default=F("ticket_reference"))
    Attempt.objects.filter(pk__in=[attempt.pk for attempt in attempts]).update(**done)
    if getattr(attempts[0], "webhooks_on", True):  # read with the lock (_locked_escalations)
        webhooks.tickets_created_publish(attempts=attempts, tickets=tickets, agents=agents)
    signals.tickets_created.send(
        sender=Ticket,
        created=[
            (ticket.pk, agent is not None) for ticket, agent in zip(tickets, agents, strict=True)
        ],
    )
    return tickets


def _attachments_move(attempts: list[Attempt], first_messages: list[TicketEvent]) -> None:
    """Files sent with the requests (held by their attempts, tickets.services.attachments)
    go with each ticket's first message. One UPDATE for the batch, whether any attempt has
    files or not: asking first would be a statement too."""
    pairs = list(zip(attempts, first_messages, strict=True))
    Attachment.objects.filter(attempt__in=attempts, event__isnull=True).update(
        event_id=Case(*[When(attempt_id=a.pk, then=Value(m.pk)) for a, m in pairs]),
        ticket_id=Case(*[When(attempt_id=a.pk, then=Value(m.ticket_id)) for a, m in pairs]),
    )


# --- the escalation workers ------------------------------------------------------------------


def _awaiting(requested_before: datetime | None) -> QuerySet[Attempt]:
    awaiting = Attempt.objects.filter(awaiting_ticket=True, escalation_parked_at__isnull=True)
    if requested_before is not None:
        awaiting = awaiting.filter(escalation_requested_at__lte=requested_before)
    return awaiting.order_by("escalation_requested_at")


def _awaiting_claim(
    *, size: int, requested_before: datetime | None, failed: set[int]
) -> tuple[list[int], list[int]]:
    """Up to ``size`` escalations awaiting their ticket, oldest first, as (first tries,
    retries). The first tries' try is counted and committed before the work starts (a batch
    that kills its worker counts for each of them); a retry is counted when it is taken
    (escalation_delivery_record). Rows that another worker has locked are skipped, not waited
    for (PostgreSQL; SQLite runs one write transaction at a time); so are those that failed
    earlier in this run."""
    with transaction.atomic():
        waiting = list(
            _awaiting(requested_before)
            .exclude(pk__in=failed)
            .select_for_update(skip_locked=True)
            .values_list("pk", "escalation_deliveries")[:size]
        )
        first_tries = [pk for pk, tries in waiting if tries == 0]
        if first_tries:
            Attempt.objects.filter(pk__in=first_tries).update(escalation_deliveries=1)
    return first_tries, [pk for pk, tries in waiting if tries > 0]


def _batch_ticket(attempt_ids: list[int]) -> int:
    """Make the tickets of these claimed escalations in one transaction; how many it made.
    Another worker may hold some of them (it claimed them in the same instant): those are
    skipped, and so are the ones it has finished."""
    with transaction.atomic():
        attempts = list(
            _locked_escalations(skip_locked=True).filter(pk__in=attempt_ids, awaiting_ticket=True)
        )
        fresh = [attempt for attempt in attempts if attempt.ticket_made is None]  # type: ignore[attr-defined]
        _waits_no_more([attempt for attempt in attempts if attempt not in fresh])
        if not fresh:
            return 0
        return len(_tickets_create(fresh))


def escalations_ticket(
    *,
    requested_before: datetime | None = None,
    batch_size: int = ESCALATION_BATCH_SIZE,
    seconds: float = ESCALATION_RUN_SECONDS,
    gather: float = ESCALATION_GATHER_SECONDS,
) -> int:
    """Make the ticket of every escalation awaiting one; returns how many it made.

    First tries go in batches of ``batch_size``, each one transaction: per ticket, a burst
    costs a fraction of the statements (and of the ORM's work) that one ticket alone does.
    Escalations tried before (their batch failed, or killed its worker) go one at a time
    through escalation_delivery_record and ticket_create_from_attempt, so that one poisoned
    escalation is parked alone and does not take a batch of others with it.

    Stops when nothing is left or after ``seconds`` (well inside the task's time limit). A
    batch smaller than ``batch_size`` is followed by a pause of ``gather`` seconds, so that
    under a steady flow the next batch is not one or two escalations. A lost connection or a
    lock timeout is raised for the task to retry; any other failure is logged, and the
    escalations concerned are left to their next try.
    """
    deadline = time.monotonic() + seconds
    made = 0
    failed: set[int] = set()
    while time.monotonic() < deadline:
        first_tries, retries = _awaiting_claim(
            size=batch_size, requested_before=requested_before, failed=failed
        )
        if first_tries:
            try:
                made += _batch_ticket(first_tries)
            except TRANSIENT_DATABASE_ERRORS:
                raise
            except Exception:
                logger.exception(
                    "Escalation batch %s failed; each is tried alone next", first_tries
                )
            if len(first_tries) < batch_size:
                time.sleep(gather)
            continue
        if not retries:
            break
        attempt_id = retries[0]
        if not escalation_delivery_record(attempt_id=attempt_id):
            continue
        try:
            made += ticket_create_from_attempt(attempt_id=attempt_id) is not None
        except TRANSIENT_DATABASE_ERRORS:
            raise
        except Exception:
            failed.add(attempt_id)
            logger.exception("Could not create the ticket of attempt %s", attempt_id)
    return made


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
    _customer_notifications_resend(cutoff=cutoff, limit=limit)
    return escalations_ticket(requested_before=cutoff)
