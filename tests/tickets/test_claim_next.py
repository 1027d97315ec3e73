"""Claim next: the most urgent unassigned ticket of my queues, in my languages, mine alone."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from django.db import close_old_connections, connection
from django.utils import timezone

from tests.factories import QueueFactory, TicketFactory, agent_in
from tickets import selectors, services
from tickets.models import AgentProfile, Priority, Ticket, TicketEvent


def test_it_claims_breached_first_then_priority_then_the_oldest(billing, alice):
    assert alice.capacity == 10
    now = timezone.now()
    old_normal = TicketFactory(queue=billing, created_at=now - timedelta(hours=5))
    new_urgent = TicketFactory(queue=billing, priority=Priority.URGENT, created_at=now)
    older_urgent = TicketFactory(
        queue=billing, priority=Priority.URGENT, created_at=now - timedelta(hours=1)
    )
    breached_low = TicketFactory(queue=billing, priority=Priority.LOW, sla_breached=True)

    claimed = [services.ticket_claim_next(agent=alice) for _ in range(5)]

    assert claimed == [breached_low, older_urgent, new_urgent, old_normal, None]


def test_it_claims_only_from_my_queues_and_in_my_languages(billing, returns, karim, emma):
    TicketFactory(queue=returns)  # not my queue
    english = TicketFactory(queue=billing)
    assert english.language == "en"
    assigned = TicketFactory(queue=billing, attempt__language="ar", assignee=emma)
    solved = TicketFactory(queue=billing, attempt__language="ar", status="solved")
    arabic = TicketFactory(queue=billing, attempt__language="ar")

    assert services.ticket_claim_next(agent=karim) == arabic
    assert services.ticket_claim_next(agent=karim) is None
    assert {assigned.pk, solved.pk, english.pk}.isdisjoint(
        Ticket.objects.filter(assignee=karim).values_list("pk", flat=True)
    )


def test_it_writes_an_event_and_counts_the_ticket_against_my_capacity(billing, alice):
    alice.capacity = 1
    alice.save(update_fields=["capacity"])
    first = TicketFactory(queue=billing)
    TicketFactory(queue=billing)

    assert services.ticket_claim_next(agent=alice) == first
    event = first.events.get()
    assert (event.kind, event.author, event.change["to"], event.body) == (
        "assigned",
        alice.user,
        alice.pk,
        "Claimed by Alice.",
    )

    with pytest.raises(services.AgentAtCapacity, match="capacity"):
        services.ticket_claim_next(agent=alice)
    alice.refresh_from_db()
    assert alice.open_tickets == 1


def test_only_agents_claim(billing):
    TicketFactory(queue=billing)
    no_role = agent_in(billing, username="carl", role=None)
    with pytest.raises(services.TicketNotPermitted):
        services.ticket_claim_next(agent=no_role)
    assert not Ticket.objects.filter(assignee__isnull=False).exists()


def test_an_unavailable_agent_is_told_so_and_claims_nothing(billing):
    TicketFactory(queue=billing)
    away = agent_in(billing, username="away")
    away.is_available = False
    away.save(update_fields=["is_available"])

    with pytest.raises(services.AgentUnavailable, match="away"):
        services.ticket_claim_next(agent=away)

    away.refresh_from_db()
    assert away.open_tickets == 0
    assert not Ticket.objects.filter(assignee__isnull=False).exists()


def test_nothing_to_claim_gives_the_capacity_back(billing, alice):
    assert services.ticket_claim_next(agent=alice) is None
    alice.refresh_from_db()
    assert alice.open_tickets == 0


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("capacity", "expected_claims", "candidates_per_pair"),
    [
        (6, 100, selectors.CLAIM_CANDIDATES_PER_PAIR),
        (3, 60, selectors.CLAIM_CANDIDATES_PER_PAIR),
        # One candidate per queue and language: most claims find it held by another agent
        # and go through the fallback query; still exactly once each.
        (6, 100, 1),
    ],
)
def test_twenty_agents_claiming_at_once_each_get_different_tickets(
    capacity, expected_claims, candidates_per_pair, monkeypatch
):
    if connection.vendor != "postgresql":
        pytest.skip(
            "claim races are a PostgreSQL property (FOR UPDATE SKIP LOCKED); SQLite runs one "
            "writer at a time, so threads prove nothing there"
        )
    monkeypatch.setattr(selectors, "CLAIM_CANDIDATES_PER_PAIR", candidates_per_pair)
    queue = QueueFactory(name="Billing", slug="billing")
    agents = [agent_in(queue, username=f"agent{n}", capacity=capacity) for n in range(20)]
    tickets = TicketFactory.create_batch(100, queue=queue)
    start = threading.Barrier(len(agents))
    claims: dict[int, list[int]] = {agent.pk: [] for agent in agents}
    errors: list[BaseException] = []

    def claim_until_done(agent: AgentProfile) -> None:
        try:
            start.wait(timeout=30)
            while True:
                try:
                    ticket = services.ticket_claim_next(agent=agent)
                except services.AgentAtCapacity:
                    return
                if ticket is None:
                    return
                claims[agent.pk].append(ticket.pk)
        except BaseException as error:  # surfaced below, not lost in the thread
            errors.append(error)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=claim_until_done, args=(agent,)) for agent in agents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not errors, errors
    claimed = [pk for pks in claims.values() for pk in pks]
    assert len(claimed) == expected_claims
    assert len(set(claimed)) == len(claimed), "a ticket was claimed twice"
    # The database agrees with what the threads saw: one assignee and one event per ticket.
    assigned = dict(Ticket.objects.filter(assignee__isnull=False).values_list("pk", "assignee"))
    assert len(assigned) == expected_claims
    assert all(assigned[pk] == agent_pk for agent_pk, pks in claims.items() for pk in pks)
    events = Counter(TicketEvent.objects.filter(kind="assigned").values_list("ticket", flat=True))
    assert set(events.values()) == {1}
    for agent in AgentProfile.objects.all():
        assert agent.open_tickets == len(claims[agent.pk]) <= capacity
    assert Ticket.objects.filter(assignee__isnull=True).count() == len(tickets) - expected_claims
