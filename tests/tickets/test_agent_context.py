"""What the work page tells Alice (agent, Billing) beyond the ticket: Sam's other tickets, and
that Emma (agent, Billing) has the same ticket open or is typing a reply on it."""

from __future__ import annotations

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.factories import TicketFactory
from tickets import presence, selectors
from tickets.models import Ticket


def page_of(ticket: Ticket) -> str:
    return reverse("admin:tickets_ticket_change", args=[ticket.pk])


def beat(client: Client, ticket: Ticket, **data) -> dict:
    response = client.post(reverse("admin:tickets_ticket_presence", args=[ticket.pk]), data)
    assert response.status_code == 200
    return response.json()


# --- the customer's other tickets ---


def test_it_lists_the_customers_other_tickets_whatever_the_case(billing, returns, alice):
    ticket = TicketFactory(queue=billing, requester_email="sam@example.com")
    older = TicketFactory(queue=billing, requester_email="SAM@example.COM", status="solved")
    TicketFactory(queue=billing, requester_email="lee@example.com")
    TicketFactory(queue=returns, requester_email="sam@example.com")  # not Alice's queue

    others = selectors.customer_other_tickets(ticket=ticket, user=alice.user)

    assert others == [older]


def test_the_list_costs_one_query_whatever_its_length(billing, alice):
    ticket = TicketFactory(queue=billing, requester_email="sam@example.com")
    selectors.customer_other_tickets(ticket=ticket, user=alice.user)  # permissions now cached
    counts = []
    for extra in (1, 12):
        for _ in range(extra):
            TicketFactory(queue=billing, requester_email="sam@example.com")
        with CaptureQueriesContext(connection) as queries:
            others = selectors.customer_other_tickets(ticket=ticket, user=alice.user)
            [(t.reference, t.status, t.subject) for t in others]
        counts.append(len(queries))
    assert len(others) == selectors.CUSTOMER_OTHER_TICKETS
    assert counts == [1, 1]


def test_the_work_page_links_the_other_tickets_with_their_status(client, billing, alice):
    ticket = TicketFactory(queue=billing, requester_email="sam@example.com")
    other = TicketFactory(queue=billing, requester_email="sam@example.com", status="pending")
    client.force_login(alice.user)

    body = client.get(page_of(ticket)).content.decode()

    section = body.split('class="side-box other-tickets"')[1].split("</section>")[0]
    assert page_of(other) in section and other.reference in section
    assert 'class="status status-pending"' in section


# --- collision warning ---


def test_two_agents_on_one_ticket_see_each_other(billing, alice, emma):
    ticket = TicketFactory(queue=billing)
    alices, emmas = Client(), Client()
    alices.force_login(alice.user)
    emmas.force_login(emma.user)

    assert beat(alices, ticket) == {"others": []}
    assert beat(emmas, ticket) == {
        "others": [{"name": "Alice", "typing": False, "text": "Alice is viewing"}]
    }
    assert beat(alices, ticket, typing="1")["others"][0]["text"] == "Emma is viewing"
    assert beat(emmas, ticket)["others"] == [
        {"name": "Alice", "typing": True, "text": "Alice is typing a reply"}
    ]
    # The page shows it at once too, before any script runs.
    body = emmas.get(page_of(ticket)).content.decode()
    assert "Alice is typing a reply" in body

    beat(alices, ticket, left="1")
    assert beat(emmas, ticket) == {"others": []}


def test_an_agent_who_stopped_beating_is_gone_after_the_expiry(billing, alice, emma):
    ticket = TicketFactory(queue=billing)
    presence.presence_beat(
        ticket_id=ticket.pk, user_id=alice.user.pk, name="Alice", typing=True, now=1000.0
    )

    seen = presence.presence_others(ticket_id=ticket.pk, user_id=emma.user.pk, now=1010.0)
    gone = presence.presence_others(
        ticket_id=ticket.pk, user_id=emma.user.pk, now=1000.0 + presence.PRESENCE_EXPIRY_SECONDS
    )

    assert [p.name for p in seen] == ["Alice"] and gone == []


def test_the_beat_is_for_staff_who_may_see_the_ticket_only(client, billing, bob, alice):
    ticket = TicketFactory(queue=billing)
    url = reverse("admin:tickets_ticket_presence", args=[ticket.pk])

    assert client.post(url).status_code == 302  # to the admin's sign-in
    client.force_login(bob.user)  # Returns only
    assert client.post(url).status_code == 404
    client.force_login(alice.user)
    assert client.get(url).status_code == 405


def test_the_beat_needs_the_csrf_token(billing, alice):
    ticket = TicketFactory(queue=billing)
    checked = Client(enforce_csrf_checks=True)
    checked.force_login(alice.user)

    response = checked.post(reverse("admin:tickets_ticket_presence", args=[ticket.pk]))

    assert response.status_code == 403
