"""The agent workspace: status changes, replies and notes, the customer's replies, priority and
queue moves, and the fix of a solved ticket proposed as a step of its guide.

Every change an agent, a supervisor, an integration or the customer makes to a ticket goes
through one of these functions, whichever door it came in by (admin page, bulk action, API,
status page): each locks the ticket row, checks the actor may do it, changes the row with
update_fields, writes the event in the same transaction, and announces follow-up work
(tickets.signals) that is sent after commit.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from guides.models import StepProposal
from guides.services import step_proposal_submit
from helpdesk.text import one_line, plain_text
from tickets import signals
from tickets.calendars import schedule_calendar_read
from tickets.models import (
    OPEN_TICKET_STATUSES,
    TICKET_TRANSITIONS,
    Priority,
    Queue,
    Ticket,
    TicketEvent,
)
from tickets.services._common import _actor_check, _event, _ticket_locked
from tickets.services.assignment import _capacity_release, _capacity_retake, ticket_assign_to
from tickets.services.exceptions import (
    TicketClosedForReplies,
    TicketError,
    TicketNotSolved,
    TransitionNotAllowed,
)
from tickets.services.sla_time import sla_at_risk_from, sla_time_add, sla_time_between

if TYPE_CHECKING:
    from tickets.services._common import Actor


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
    paused_at, due = ticket.sla_paused_at, ticket.resolution_due_at
    ticket.sla_paused_at = None
    fields = ["resolution_due_at", "sla_paused_at"]
    # _ticket_locked joined the queue: a read only for a queue with a business schedule.
    calendar = schedule_calendar_read(ticket.queue.schedule_id)
    if calendar is None:
        ticket.resolution_due_at = due + (now - paused_at)  # the wall time it stood
    else:
        # The working time that was left when the clock stopped is left again from now: the
        # paused stretch, weekends and holidays in it included, does not count.
        ticket.resolution_due_at = sla_time_add(
            calendar, now, sla_time_between(calendar, paused_at, due)
        )
    risk = ticket.resolution_at_risk_from
    if risk is None:
        return fields
    if calendar is None:
        # Around the clock "at risk" is a share of creation → due (sla_target_at_risk).
        ticket.resolution_at_risk_from = sla_at_risk_from(
            None, ticket.created_at, ticket.resolution_due_at
        )
    elif risk > paused_at:
        ticket.resolution_at_risk_from = sla_time_add(
            calendar, now, sla_time_between(calendar, paused_at, risk)
        )
    else:
        return fields
    fields.append("resolution_at_risk_from")
    return fields


def _status_label(status: str) -> str:
    return str(Ticket.Status(status).label)


@transaction.atomic
def ticket_transition(
    *,
    ticket: Ticket | int,
    to_status: str,
    actor: Actor | None = None,
    note: str = "",
    by_customer: bool = False,
    tell_customer: bool = True,
) -> Ticket:
    """Move a ticket along the status workflow (tickets.models.TICKET_TRANSITIONS).

    Leaving the open statuses (solved) frees the assignee's capacity and stops the resolution
    clock; coming back (reopen) takes it again. Pending pauses the resolution clock: when the
    ticket leaves pending, the (working) time that was left is left again from then. The
    event records from and to, and ``by_customer`` when the customer did it on their status
    page. A solve is e-mailed to the customer with the rating links (signals.ticket_solved),
    unless ``tell_customer`` is False: they did it themselves, or a reply e-mail that
    carries the links is on its way.
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
        signals.capacity_freed.send(sender=Ticket)  # room for waiting tickets
    elif will_be_open and not was_open:
        _capacity_retake(ticket.assignee_id)
    change: dict[str, Any] = {"from": current, "to": to_status}
    if current == Ticket.Status.SOLVED and will_be_open:
        change["reopened"] = True
    if by_customer:
        change["by_customer"] = True
    # The note lives in a JSON column, which no plain-text field cleans (helpdesk.text).
    note = plain_text(note).strip()
    if note:
        change["note"] = note
    _event(ticket, TicketEvent.Kind.STATUS_CHANGED, actor=actor, now=now, change=change)
    if to_status == Ticket.Status.SOLVED and tell_customer and ticket.requester_email:
        signals.ticket_solved.send(sender=Ticket, ticket_id=ticket.pk)
    return ticket


@transaction.atomic
def ticket_reply(
    *,
    ticket: Ticket,
    actor: Actor | None,
    body: str,
    public: bool = True,
    status_after: str | None = None,
) -> TicketEvent:
    """An agent's public reply (e-mailed to the customer; stops the first-response clock and
    opens a new ticket) or internal note. ``status_after`` moves the ticket on in the same
    transaction, e.g. to pending when the reply asks the customer something."""
    body = plain_text(body).strip()
    if not body:
        raise TicketError(_("Write something first."))
    ticket = _ticket_locked(ticket)
    _actor_check(actor, ticket)
    if public and ticket.status == Ticket.Status.CLOSED:
        raise TicketClosedForReplies(
            _("The ticket is closed; the customer cannot be answered here.")
        )
    now = timezone.now()
    kind = TicketEvent.Kind.AGENT_REPLY if public else TicketEvent.Kind.INTERNAL_NOTE
    event = _event(ticket, kind, actor=actor, body=body, now=now)
    if public:
        fields = ["updated_at"]
        if ticket.first_responded_at is None:
            ticket.first_responded_at = now
            fields.append("first_responded_at")
        ticket.updated_at = now
        ticket.save(update_fields=fields)
        if ticket.status == Ticket.Status.NEW and status_after is None:
            status_after = Ticket.Status.OPEN
        signals.agent_replied.send(sender=TicketEvent, event_id=event.pk)
    if status_after is not None and status_after != ticket.status:
        # A public reply that solves is e-mailed with the rating links: no second e-mail.
        ticket_transition(
            ticket=ticket, to_status=status_after, actor=actor, tell_customer=not public
        )
    return event


def ticket_note(*, ticket: Ticket, actor: Actor | None, body: str) -> TicketEvent:
    return ticket_reply(ticket=ticket, actor=actor, body=body, public=False)


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
    if not ticket.accepts_customer_replies(now=now):
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
def ticket_priority_change(*, ticket: Ticket, priority: int, actor: Actor | None = None) -> Ticket:
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
def ticket_move_queue(*, ticket: Ticket, queue: Queue, actor: Actor | None = None) -> Ticket:
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


# A ticket's fix is what solved it: proposed once the ticket is solved (or closed since).
FIX_STATUSES = (Ticket.Status.SOLVED, Ticket.Status.CLOSED)


@transaction.atomic
def ticket_fix_propose(
    *, ticket: Ticket, actor: Actor | None, title: str, body: str, same_as: int | None = None
) -> StepProposal:
    """The fix that solved a ticket, proposed as an alternative step of the guide the customer
    followed, in the ticket's language (guides.services.step_proposal_submit). It joins the
    guide's open proposal of the same fix (``same_as``, or the same title) or opens one; each
    ticket counts once. The thread records it."""
    ticket = _ticket_locked(ticket)
    _actor_check(actor, ticket)
    guide = ticket.guide
    if guide is None:
        raise TicketError(
            _("This ticket came from the contact form: there is no guide to add a step to.")
        )
    if ticket.status not in FIX_STATUSES:
        raise TicketNotSolved(_("Solve the ticket first: its fix is the reply that solved it."))
    proposal = step_proposal_submit(
        guide=guide, language=ticket.language, title=title, body=body,
        ticket_id=ticket.pk, ticket_reference=ticket.reference, proposed_by=actor,
        same_as=same_as,
    )  # fmt: skip
    change = {"proposal": proposal.pk, "title": one_line(title), "guide": proposal.guide_id}
    if proposal.sources.count() > 1:
        change["joined"] = True
    _event(ticket, TicketEvent.Kind.FIX_PROPOSED, actor=actor, change=change)
    return proposal
