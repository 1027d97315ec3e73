"""What every ticket service shares: the acting user's type, the event writer, the row lock
and the check that the actor may work the ticket. Private to the package."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeAlias, cast

from django.utils import timezone
from django.utils.translation import gettext as _

from tickets import events
from tickets.models import Ticket, TicketEvent
from tickets.selectors import ticket_visible_to
from tickets.services import webhooks
from tickets.services.exceptions import TicketNotPermitted

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

    # The acting user, as a request carries it (``request.user``). An anonymous user has no
    # permission, so _actor_check refuses them; ``None`` instead of an actor is the system
    # itself (a Celery task, the sweeper, the customer through their status link).
    Actor: TypeAlias = User | AnonymousUser


def _event(
    ticket: Ticket,
    kind: str,
    *,
    actor: Actor | None = None,
    body: str = "",
    change: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> TicketEvent:
    # System events: ``change`` holds the facts and the body is their English sentence
    # (tickets.events), so the workspace can say it again in the agent's language.
    if change is not None and not body:
        body = events.event_body(kind, change, note=change.get("note", ""))
    # Only a signed-in user gets this far: _actor_check refuses an anonymous one first.
    author = cast("User | None", actor)
    event = TicketEvent.objects.create(
        ticket=ticket, kind=kind, author=author, body=body, change=change or {},
        created_at=now or timezone.now(),
    )  # fmt: skip
    # In the same transaction: what integrations hear about is recorded with the change.
    webhooks.ticket_event_publish(event=event, ticket=ticket)
    return event


def _ticket_locked(ticket: Ticket | int) -> Ticket:
    pk = ticket if isinstance(ticket, int) else ticket.pk
    # of=("self",): PostgreSQL refuses FOR UPDATE on the nullable side of an outer join.
    # webhooks_on: whether the ticket's events may have a webhook to record, read here rather
    # than in a statement of its own (tickets.services.webhooks).
    return (
        Ticket.objects.select_for_update(of=("self",))
        .select_related("queue", "assignee__user")
        .annotate(webhooks_on=webhooks.webhooks_active())
        .get(pk=pk)
    )


def _actor_check(
    actor: Actor | None, ticket: Ticket, *, permission: str = "tickets.change_ticket"
) -> None:
    """Refuse an actor who may not work this ticket. ``actor`` None is the system itself."""
    if actor is None:
        return
    if not actor.has_perm(permission) or not ticket_visible_to(user=actor, ticket=ticket):
        raise TicketNotPermitted(_("You may not work on this ticket."))
