"""Merging a duplicate ticket into the one the desk keeps working on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tickets import signals
from tickets.models import OPEN_TICKET_STATUSES, Ticket, TicketEvent
from tickets.services._common import _actor_check, _event
from tickets.services.assignment import _capacity_release
from tickets.services.exceptions import TicketError, TicketStateRefusal

if TYPE_CHECKING:
    from tickets.services._common import Actor

# What the duplicate's thread brings along; system events (routing, SLA, assignment) stay
# with the ticket they happened to.
MERGED_KINDS = (
    TicketEvent.Kind.CUSTOMER_MESSAGE,
    TicketEvent.Kind.AGENT_REPLY,
    TicketEvent.Kind.INTERNAL_NOTE,
)


class TicketMergeRefused(TicketStateRefusal):
    code = "merge_refused"


def _tried_steps_combined(target: list, source: list, reference: str) -> list:
    """Both lists in the order the steps were tried; the duplicate's are marked with its
    reference. A step both lists hold (the same walk copied twice) is kept once."""
    seen = {(s.get("title"), s.get("outcome"), s.get("recorded_at")) for s in target}
    added = [
        {**step, "merged_from": reference}
        for step in source
        if isinstance(step, dict)
        and (step.get("title"), step.get("outcome"), step.get("recorded_at")) not in seen
    ]
    combined = [s for s in target if isinstance(s, dict)] + added
    return sorted(combined, key=lambda step: str(step.get("recorded_at") or ""))


@transaction.atomic
def ticket_merge(*, source: Ticket | int, target: Ticket | int, actor: Actor | None) -> Ticket:
    """Merge the duplicate ``source`` into ``target``; returns the target.

    The duplicate's messages, replies and notes are copied into the target's thread at their
    own times (the duplicate keeps its thread as it was, for the record), its tried steps join
    the target's, and it is closed with ``merged_into`` pointing at the target: outside the
    status workflow, as a duplicate is not solved. Its assignee gets the capacity back. Both
    threads say what happened, and the duplicate's customer is told by e-mail where their
    request continues.

    Refused: a ticket into itself, a closed or merged ticket on either side, and tickets of
    different customers or companies (the target's customer would read the duplicate's
    messages on their status page).
    """
    source_id = source if isinstance(source, int) else source.pk
    target_id = target if isinstance(target, int) else target.pk
    if source_id == target_id:
        raise TicketError(_("A ticket cannot be merged into itself."))
    # Both rows locked, in id order: two agents merging A into B and B into A at once must
    # not each hold one lock and wait for the other.
    locked = {
        ticket.pk: ticket
        for ticket in Ticket.objects.select_for_update(of=("self",))
        .select_related("queue", "assignee__user")
        .filter(pk__in=[source_id, target_id])
        .order_by("pk")
    }
    if len(locked) != 2:
        raise TicketError(_("No such ticket."))
    source, target = locked[source_id], locked[target_id]
    _actor_check(actor, source)
    _actor_check(actor, target)
    if source.status == Ticket.Status.CLOSED:
        raise TicketMergeRefused(
            _("%(reference)s is closed already.") % {"reference": source.reference}
        )
    if target.status == Ticket.Status.CLOSED:
        raise TicketMergeRefused(
            _("%(reference)s is closed: merge into a ticket that is still worked on.")
            % {"reference": target.reference}
        )
    if source.requester_email.casefold() != target.requester_email.casefold():
        raise TicketMergeRefused(
            _("Only a duplicate from the same customer can be merged: %(reference)s is another "
              "customer's request.") % {"reference": target.reference}
        )  # fmt: skip
    if source.company_id != target.company_id:
        raise TicketMergeRefused(
            _("%(reference)s belongs to another company.") % {"reference": target.reference}
        )
    now = timezone.now()
    messages = list(source.events.filter(kind__in=MERGED_KINDS).order_by("created_at", "pk"))
    TicketEvent.objects.bulk_create(
        TicketEvent(
            ticket=target,
            kind=event.kind,
            author_id=event.author_id,
            body=event.body,
            change={"merged_from": source.reference},
            created_at=event.created_at,
        )
        for event in messages
    )
    steps_before = len(target.tried_steps)
    target.tried_steps = _tried_steps_combined(
        target.tried_steps, source.tried_steps, source.reference
    )
    target.updated_at = now
    target.save(update_fields=["tried_steps", "updated_at"])
    was_open = source.status in OPEN_TICKET_STATUSES
    previous_status = source.status
    source.status, source.closed_at, source.updated_at = Ticket.Status.CLOSED, now, now
    source.merged_into = target
    source.sla_paused_at = None
    source.save(update_fields=["status", "closed_at", "updated_at", "merged_into", "sla_paused_at"])
    if was_open:
        _capacity_release(source.assignee_id)
        signals.capacity_freed.send(sender=Ticket)
    _event(
        source, TicketEvent.Kind.MERGED_INTO, actor=actor, now=now,
        change={"to": target.reference, "to_id": target.pk, "from_status": previous_status},
    )  # fmt: skip
    _event(
        target, TicketEvent.Kind.MERGED_FROM, actor=actor, now=now,
        change={
            "from": source.reference, "from_id": source.pk, "messages": len(messages),
            "steps": len(target.tried_steps) - steps_before,
        },
    )  # fmt: skip
    if source.requester_email:
        signals.ticket_merged.send(sender=Ticket, ticket_id=source.pk)
    return target
