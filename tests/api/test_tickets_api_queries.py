"""The ticket API reads cost a fixed number of SQL queries, whatever the rows or the thread."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from tests.factories import (
    CompanyFactory,
    TicketFactory,
    agent_in,
)
from tests.helpers import client_for
from tickets import services


def fill(queue, count: int, agents) -> None:
    """Tickets of different companies, half of them assigned, spread over the agents."""
    for number in range(count):
        TicketFactory(
            queue=queue,
            company=CompanyFactory(),
            assignee=agents[number % len(agents)] if number % 2 else None,
        )


def count_queries(client: APIClient, path: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path)
    assert response.status_code == 200, response.content
    return len(queries)


@pytest.mark.parametrize("path", ["/api/v1/tickets/", "/api/v1/tickets/?ordering=work&status=new"])
def test_it_lists_3_or_30_tickets_in_the_same_queries(billing, alice, path):
    queue = billing
    agents = [alice, *(agent_in(queue, username=f"agent{n}") for n in range(2))]
    client = client_for(agents[0])
    fill(queue, 3, agents)
    # The first request also records the token's last use; count from the second.
    client.get(path)
    small = count_queries(client, path)
    fill(queue, 27, agents)

    assert count_queries(client, path + ("&" if "?" in path else "?") + "page_size=100") == small
    # token (with its user), the user's and the groups' permissions, the agent's queue ids,
    # the page with its joins
    assert small == 5


@pytest.mark.parametrize(
    ("query", "lookups"),
    [
        # Columns of the ticket itself: no lookup first, and no SELECT DISTINCT.
        ("status=new&status=open&priority=2&priority=3", 0),
        # The slug and "me" are resolved to an id first, one small query each.
        ("queue=billing", 1),
        ("assignee=me", 1),
        ("queue=billing&assignee=me&ordering=work", 2),
    ],
)
def test_it_filters_3_or_30_tickets_in_the_same_queries_by_column(billing, alice, query, lookups):
    queue = billing
    agents = [alice, *(agent_in(queue, username=f"agent{n}") for n in range(2))]
    client = client_for(agents[0])
    fill(queue, 3, agents)
    path = f"/api/v1/tickets/?{query}"
    client.get(path)
    with CaptureQueriesContext(connection) as small:
        assert client.get(path).status_code == 200
    fill(queue, 27, agents)

    assert count_queries(client, path + "&page_size=100") == len(small) == 5 + lookups
    page = small.captured_queries[-1]["sql"]
    where = page.split(" WHERE ", 1)[1]
    assert "DISTINCT" not in page
    assert '"tickets_queue"."slug"' not in where
    if "queue=" in query:
        assert f'"tickets_ticket"."queue_id" = {queue.pk}' in where
    if "assignee=me" in query:
        assert f'"tickets_ticket"."assignee_id" = {agents[0].pk}' in where


def test_a_supervisor_without_a_profile_gets_no_ticket_query_for_assignee_me(billing, alice, sue):
    fill(billing, 3, [alice])
    client = client_for(sue)
    client.get("/api/v1/tickets/?assignee=me")

    with CaptureQueriesContext(connection) as queries:
        response = client.get("/api/v1/tickets/?assignee=me")

    assert response.status_code == 200 and response.json()["results"] == []
    assert not any('FROM "tickets_ticket"' in q["sql"] for q in queries.captured_queries)


def test_it_shows_a_ticket_with_2_or_20_events_in_the_same_queries(billing, alice, sue):
    ticket = TicketFactory(queue=billing, assignee=alice)
    client = client_for(alice)
    path = f"/api/v1/tickets/{ticket.reference}/"
    services.ticket_reply(ticket=ticket, actor=alice.user, body="Hello")  # + status change
    client.get(path)
    small = count_queries(client, path)
    for number in range(9):
        author = (alice.user, sue)[number % 2]
        services.ticket_note(ticket=ticket, actor=author, body=f"Note {number}")
        services.ticket_priority_change(ticket=ticket, priority=1 + number % 4, actor=sue)

    assert ticket.events.count() >= 19
    # token, the two permission reads, the ticket with its joins, the thread with its authors,
    # the thread's attachments
    assert count_queries(client, path) == small == 6


def test_the_customer_reads_2_or_20_messages_in_the_same_queries(billing, alice):
    ticket = TicketFactory(queue=billing)
    client = APIClient()
    client.credentials(HTTP_X_TICKET_SECRET=ticket.status_token())
    path = f"/api/v1/customer/tickets/{ticket.reference}/"
    services.ticket_reply(ticket=ticket, actor=alice.user, body="Hello")
    services.ticket_customer_reply(ticket=ticket, body="Hi")
    small = count_queries(client, path)
    for number in range(9):
        services.ticket_reply(ticket=ticket, actor=alice.user, body=f"Reply {number}")
        services.ticket_customer_reply(ticket=ticket, body=f"Answer {number}")

    assert count_queries(client, path) == small == 3  # ticket, public thread, attachments
