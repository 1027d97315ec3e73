"""Who works a ticket: automatic assignment, claim next, assignment by a supervisor, agents'
availability, and the capacity count (AgentProfile.open_tickets) all of them keep.

Capacity is only ever changed by conditional UPDATEs (agent_claim_slot, _capacity_release,
_capacity_retake), never by reading the count and writing it back, so concurrent escalations
and claims cannot put an agent over capacity.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from tickets import events, signals
from tickets.models import OPEN_TICKET_STATUSES, AgentProfile, Queue, Ticket, TicketEvent
from tickets.selectors import (
    agent_profile_for,
    claim_next_candidate_params,
    claim_next_candidate_sql,
    claimable_tickets,
)
from tickets.services._common import _actor_check, _event, _ticket_locked
from tickets.services.exceptions import (
    AgentAtCapacity,
    AgentUnavailable,
    TicketError,
    TicketNotPermitted,
)

if TYPE_CHECKING:
    from tickets.services._common import Actor


# --- capacity --------------------------------------------------------------------------------


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


# --- automatic assignment --------------------------------------------------------------------


def _agents_with_room(queue: Queue) -> list[AgentProfile]:
    # With their users: the ASSIGNED event names the agent (str(agent)).
    return list(
        queue.members.filter(is_available=True, open_tickets__lt=F("capacity")).select_related(
            "user"
        )
    )


def _agent_pools_locked(queue_ids: set[int]) -> dict[int, list[AgentProfile]]:
    """The agents with room of each of these queues, their rows locked in the order of their
    ids (one statement; an agent in two of the queues is one object in both lists)."""
    pools: dict[int, list[AgentProfile]] = {queue_id: [] for queue_id in queue_ids}
    if not queue_ids:
        return pools
    rows = (
        AgentProfile.objects.filter(
            queues__in=queue_ids, is_available=True, open_tickets__lt=F("capacity")
        )
        .annotate(member_of=F("queues__id"))
        .select_related("user")
        .select_for_update(of=("self",))
        .order_by("pk")
    )
    agents: dict[int, AgentProfile] = {}
    for row in rows:
        pools[row.member_of].append(agents.setdefault(row.pk, row))
    return pools


def _speaks(agent: AgentProfile, language: str) -> bool:
    return not agent.languages or language in agent.languages


def _turn(agent: AgentProfile) -> tuple[int, datetime, int]:
    """Whose turn it is: fewest open tickets first; among equals, the one who has waited
    longest."""
    never = datetime.min.replace(tzinfo=timezone.get_current_timezone())
    return (agent.open_tickets, agent.last_assigned_at or never, agent.pk)


def _eligible_agents(
    *, queue: Queue, language: str, passed_over: int | None = None
) -> list[AgentProfile]:
    agents = [
        agent
        for agent in _agents_with_room(queue)
        if _speaks(agent, language) and agent.pk != passed_over
    ]
    return sorted(agents, key=_turn)


def ticket_assign(*, ticket: Ticket, now: datetime | None = None) -> AgentProfile | None:
    """Give an unassigned ticket to the best eligible agent of its queue, if any has room and
    the queue assigns automatically (in the others, agents claim their next ticket)."""
    if not ticket.queue.auto_assign:
        return None
    now = now or timezone.now()
    # Not back to the agent who handed it back; if nobody else can take it, it waits to be
    # claimed or assigned by a supervisor.
    agent = agent_pick(
        queue=ticket.queue, language=ticket.language, now=now,
        passed_over=ticket.handed_back_by_id,
    )  # fmt: skip
    if agent is None:
        return None
    # Only an unassigned ticket can be given away; a concurrent sweep may have done it.
    updated = Ticket.objects.filter(pk=ticket.pk, assignee__isnull=True).update(
        assignee=agent, updated_at=now
    )
    if not updated:
        _capacity_release(agent.pk)
        return None
    ticket.assignee = agent
    _event(ticket, TicketEvent.Kind.ASSIGNED, now=now, change=assigned_facts(agent))
    signals.ticket_assigned.send(sender=Ticket, ticket_id=ticket.pk)
    return agent


def agent_pick(
    *, queue: Queue, language: str, now: datetime, passed_over: int | None = None
) -> AgentProfile | None:
    """The best eligible agent of the queue, with one unit of their capacity already taken
    (agent_claim_slot); None when nobody has room. The caller gives them the ticket in the
    same transaction, so that a rollback gives the unit back."""
    for agent in _eligible_agents(queue=queue, language=language, passed_over=passed_over):
        if agent_claim_slot(agent_id=agent.pk, now=now):
            return agent
        # Someone else took their last slot meanwhile: next agent.
    return None


def agents_pick(*, wanted: Sequence[tuple[Queue, str]], now: datetime) -> list[AgentProfile | None]:
    """agent_pick for several new tickets at once, in order: one (queue, language) per ticket,
    None for a queue that does not assign automatically or has nobody with room.

    The agents of the queues are read and locked once, in the order of their ids, and the
    tickets shared out in memory by the rule of agent_pick (fewest open tickets, then longest
    waiting); then each agent's units are taken by one conditional UPDATE. Locking them all
    first, in one order, is what keeps two workers doing this at once from deadlocking: had
    they been locked only by the UPDATEs, a worker falling back to agent_pick (below) would
    lock agents in turn order, not id order. Where the read locks nothing (SQLite, which
    runs one write transaction at a time) an agent's room may still have shrunk meanwhile:
    when the UPDATE finds too little, none of those units is taken and those tickets go
    through agent_pick one by one, which may still give that agent what room is left.
    """
    pools = _agent_pools_locked({queue.pk for queue, _language in wanted if queue.auto_assign})
    picked: list[AgentProfile | None] = []
    for queue, language in wanted:
        candidates = [
            agent
            for agent in pools.get(queue.pk, ())
            if agent.open_tickets < agent.capacity and _speaks(agent, language)
        ]
        agent = min(candidates, key=_turn, default=None)
        if agent is not None:
            agent.open_tickets += 1
            agent.last_assigned_at = now
        picked.append(agent)
    taken = Counter(agent.pk for agent in picked if agent is not None)
    refused = {
        agent_id
        for agent_id, units in sorted(taken.items())
        if not AgentProfile.objects.filter(
            pk=agent_id, is_available=True, open_tickets__lte=F("capacity") - units
        ).update(open_tickets=F("open_tickets") + units, last_assigned_at=now)
    }
    if refused:
        for index, agent in enumerate(picked):
            if agent is not None and agent.pk in refused:
                queue, language = wanted[index]
                picked[index] = agent_pick(queue=queue, language=language, now=now)
    return picked


def assigned_facts(agent: AgentProfile) -> dict[str, Any]:
    """The ASSIGNED event's change for an automatic assignment."""
    return {"from": None, "to": agent.pk, "to_name": str(agent)}


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
    return assigned


# --- assignment by a person ------------------------------------------------------------------


@transaction.atomic
def ticket_assign_to(
    *, ticket: Ticket, agent: AgentProfile | None, actor: Actor | None = None
) -> Ticket:
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
        signals.ticket_assigned.send(sender=Ticket, ticket_id=ticket.pk)
    return ticket


@transaction.atomic
def agent_availability_set(*, agent: AgentProfile, available: bool, actor: Actor) -> AgentProfile:
    """Mark an agent available for new tickets or away (a break, the end of a shift). Away,
    automatic assignment passes them over and claim next refuses; the tickets they hold stay
    theirs. An agent sets their own; a supervisor anyone's."""
    if agent.user_id != actor.pk and not actor.has_perm("tickets.reassign_ticket"):
        raise TicketNotPermitted(_("Only a supervisor may change another agent's availability."))
    AgentProfile.objects.filter(pk=agent.pk).update(is_available=available)
    agent.is_available = available
    if available:
        # Back: waiting tickets may go to them.
        signals.capacity_freed.send(sender=AgentProfile)
    return agent


# --- claim next ------------------------------------------------------------------------------


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
