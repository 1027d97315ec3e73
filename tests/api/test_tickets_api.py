"""Agents, supervisors and integrations work tickets through the API with a token.

Personas: Alice is an agent of Billing, Bob an agent of Returns (he must never see Billing's
tickets), Sue the supervisor (every queue), Ann an author (guides only, no tickets).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tests.factories import TicketFactory, agent_in, token_for
from tests.helpers import client_for
from tickets import services
from tickets.models import (
    STAFF_MESSAGE_MAX_LENGTH,
    ApiToken,
    Priority,
    Ticket,
    TicketEvent,
)


@pytest.fixture
def ticket(billing) -> Ticket:
    return TicketFactory(queue=billing, subject="Card declined at checkout")


def url(ticket: Ticket, action: str = "") -> str:
    return f"/api/v1/tickets/{ticket.reference}/" + (f"{action}/" if action else "")


# --- who gets in ---------------------------------------------------------------------------


def test_it_needs_a_token(ticket):
    response = APIClient().get("/api/v1/tickets/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Token")


@pytest.mark.parametrize("header", ["Token hd_wrong", "Bearer nope", "Token a b", "Token"])
def test_it_refuses_a_wrong_token_with_401(ticket, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/v1/tickets/")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_it_refuses_a_revoked_token_and_one_of_an_inactive_user(alice, ticket):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(alice.user, revoked=True)}")
    assert client.get("/api/v1/tickets/").status_code == 401

    key = token_for(alice.user)
    alice.user.is_active = False
    alice.user.save(update_fields=["is_active"])
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/tickets/").status_code == 401


def test_it_accepts_bearer_and_records_last_use_at_most_once_a_minute(alice, ticket):
    client = client_for(alice.user, scheme="Bearer")
    assert client.get("/api/v1/tickets/").status_code == 200
    token = ApiToken.objects.get(user=alice.user)
    first_use = token.last_used_at
    assert first_use is not None

    assert client.get("/api/v1/tickets/").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at == first_use  # within the minute: no write

    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first_use - timedelta(minutes=2))
    assert client.get("/api/v1/tickets/").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at > first_use - timedelta(minutes=2)


def test_an_author_gets_403_everywhere(ann, ticket):
    client = client_for(ann)
    assert client.get("/api/v1/tickets/").status_code == 403
    assert client.get(url(ticket)).status_code == 403
    assert client.post(url(ticket, "notes"), {"body": "hi"}).status_code == 403
    assert client.post("/api/v1/tickets/claim-next/").status_code == 403


def test_the_session_works_for_the_browsable_api_but_writes_need_csrf(alice, ticket):
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(alice.user)
    assert client.get("/api/v1/tickets/").status_code == 200
    response = client.post(url(ticket, "notes"), {"body": "hi"})
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert not TicketEvent.objects.filter(kind=TicketEvent.Kind.INTERNAL_NOTE).exists()


# --- the agent sees their queues only ----------------------------------------------------------


def test_the_agent_lists_only_their_queues_and_the_supervisor_all(alice, bob, sue, returns):
    mine = TicketFactory(queue=alice.queues.get())
    theirs = TicketFactory(queue=returns)

    listed = client_for(alice.user).get("/api/v1/tickets/").json()["results"]
    assert [t["reference"] for t in listed] == [mine.reference]
    listed = client_for(bob.user).get("/api/v1/tickets/").json()["results"]
    assert [t["reference"] for t in listed] == [theirs.reference]
    listed = client_for(sue).get("/api/v1/tickets/").json()["results"]
    assert {t["reference"] for t in listed} == {mine.reference, theirs.reference}


@pytest.mark.parametrize(
    ("action", "body"),
    [
        ("", None),
        ("reply", {"body": "Hello"}),
        ("notes", {"body": "Looks like fraud"}),
        ("transition", {"status": "open"}),
        ("reassign", {"agent": None}),
        ("priority", {"priority": 4}),
        ("move", {"queue": "returns"}),
    ],
)
def test_a_ticket_outside_the_agents_queues_is_404_for_every_operation(bob, ticket, action, body):
    client = client_for(bob.user)
    before = ticket.events.count()
    response = client.get(url(ticket)) if body is None else client.post(url(ticket, action), body)
    assert response.status_code == 404
    assert response.json() == {"status": 404, "code": "not_found", "detail": "Not found."}
    assert ticket.events.count() == before
    ticket.refresh_from_db()
    assert (ticket.status, ticket.priority, ticket.queue.slug) == ("new", 2, "billing")


def test_an_unknown_reference_is_404(alice):
    assert client_for(alice.user).get("/api/v1/tickets/ZZZZZZZZZZ/").status_code == 404


# --- the detail ------------------------------------------------------------------------------


def test_it_shows_the_ticket_with_the_snapshot_and_the_whole_thread(alice, ticket):
    services.ticket_reply(ticket=ticket, actor=alice.user, body="Try again please")
    services.ticket_note(ticket=ticket, actor=alice.user, body="Customer is VIP")

    data = client_for(alice.user).get(url(ticket)).json()

    assert data["reference"] == ticket.reference
    assert data["status"] == "open"
    assert data["queue"] == {
        "id": ticket.queue_id, "slug": "billing", "name": "Billing", "time_zone": None
    }  # fmt: skip
    assert data["direction"] == "ltr"
    assert [s["title"] for s in data["tried_steps"]] == ["Update the card", "Try another card"]
    assert data["tried_steps"][0]["outcome"] == "did_not_work"
    kinds = [m["kind"] for m in data["messages"]]
    assert kinds == ["agent_reply", "status_changed", "internal_note"]
    assert data["messages"][0]["author"] == "Alice"
    assert data["messages"][1]["change"] == {"from": "new", "to": "open"}
    assert data["messages"][2]["body"] == "Customer is VIP"


# --- actions -----------------------------------------------------------------------------------


def test_it_replies_and_moves_the_status_on(alice, ticket):
    response = client_for(alice.user).post(
        url(ticket, "reply"), {"body": "Which card?", "status_after": "pending"}
    )
    assert response.status_code == 201
    assert response.json()["status"] == "pending"
    ticket.refresh_from_db()
    assert ticket.status == "pending"
    assert ticket.first_responded_at is not None
    reply = ticket.events.get(kind=TicketEvent.Kind.AGENT_REPLY)
    assert (reply.body, reply.author) == ("Which card?", alice.user)


def test_it_adds_a_note(alice, ticket):
    response = client_for(alice.user).post(url(ticket, "notes"), {"body": "Called the bank"})
    assert response.status_code == 201
    note = ticket.events.get(kind=TicketEvent.Kind.INTERNAL_NOTE)
    assert (note.body, note.author) == ("Called the bank", alice.user)
    ticket.refresh_from_db()
    assert ticket.status == "new"  # a note is not an answer


def test_it_changes_the_status_along_the_workflow_with_an_event(alice, ticket):
    client = client_for(alice.user)
    for to_status in ["open", "pending", "solved", "closed"]:
        response = client.post(url(ticket, "transition"), {"status": to_status, "note": "ok"})
        assert response.status_code == 200, response.json()
        assert response.json()["status"] == to_status
    changes = [e.change for e in ticket.events.filter(kind=TicketEvent.Kind.STATUS_CHANGED)]
    assert [c["to"] for c in changes] == ["open", "pending", "solved", "closed"]


def test_a_refused_transition_is_409_with_the_reason(alice, ticket):
    response = client_for(alice.user).post(url(ticket, "transition"), {"status": "closed"})
    assert response.status_code == 409
    assert response.json() == {
        "status": 409,
        "code": "transition_not_allowed",
        "detail": "A new ticket cannot become closed (allowed: open, pending, solved).",
    }
    ticket.refresh_from_db()
    assert ticket.status == "new"


def test_a_reply_on_a_closed_ticket_is_409(alice, ticket):
    for to_status in ["solved", "closed"]:
        services.ticket_transition(ticket=ticket, to_status=to_status)
    response = client_for(alice.user).post(url(ticket, "reply"), {"body": "Hello?"})
    assert response.status_code == 409
    assert response.json()["code"] == "ticket_closed"


def test_the_agent_takes_a_ticket_and_hands_it_back_and_the_supervisor_takes_it_away(
    alice, sue, billing, ticket
):
    response = client_for(alice.user).post(url(ticket, "reassign"), {"agent": alice.pk})
    assert response.status_code == 200
    assert response.json()["assignee"] == {"id": alice.pk, "name": "Alice"}
    # An agent may hand their own ticket back to the queue, not someone else's.
    response = client_for(alice.user).post(url(ticket, "reassign"), {"agent": None})
    assert response.status_code == 200
    assert response.json()["assignee"] is None
    carol = agent_in(billing, username="carol")
    client_for(carol.user).post(url(ticket, "reassign"), {"agent": carol.pk})
    response = client_for(alice.user).post(url(ticket, "reassign"), {"agent": None})
    assert response.status_code == 403
    response = client_for(sue).post(url(ticket, "reassign"), {"agent": None})
    assert response.json()["assignee"] is None
    kinds = list(ticket.events.values_list("kind", flat=True))
    assert kinds == [
        TicketEvent.Kind.ASSIGNED, TicketEvent.Kind.UNASSIGNED,
        TicketEvent.Kind.ASSIGNED, TicketEvent.Kind.UNASSIGNED,
    ]  # fmt: skip


def test_only_the_supervisor_gives_a_ticket_to_someone_else(alice, sue, billing, ticket):
    carol = agent_in(billing, username="carol")
    response = client_for(alice.user).post(url(ticket, "reassign"), {"agent": carol.pk})
    assert response.status_code == 403
    assert response.json()["code"] == "not_permitted"

    response = client_for(sue).post(url(ticket, "reassign"), {"agent": carol.pk})
    assert response.status_code == 200
    ticket.refresh_from_db()
    assert ticket.assignee == carol


def test_reassigning_to_an_agent_outside_the_queue_or_at_capacity_is_refused(
    sue, bob, billing, ticket
):
    client = client_for(sue)
    response = client.post(url(ticket, "reassign"), {"agent": bob.pk})
    assert response.status_code == 400
    assert response.json()["errors"] == {"agent": ["Bob is not a member of the queue Billing."]}

    full = agent_in(billing, username="full", capacity=0)
    response = client.post(url(ticket, "reassign"), {"agent": full.pk})
    assert response.status_code == 409
    assert response.json()["code"] == "agent_at_capacity"
    ticket.refresh_from_db()
    assert ticket.assignee is None


def test_it_changes_the_priority_with_an_event(alice, ticket):
    response = client_for(alice.user).post(url(ticket, "priority"), {"priority": 4})
    assert response.status_code == 200
    assert response.json()["priority"] == Priority.URGENT
    event = ticket.events.get(kind=TicketEvent.Kind.PRIORITY_CHANGED)
    assert event.change == {"from": 2, "to": 4}


def test_the_supervisor_moves_a_ticket_and_the_agent_may_not(alice, sue, returns, ticket):
    response = client_for(alice.user).post(url(ticket, "move"), {"queue": "returns"})
    assert response.status_code == 403

    response = client_for(sue).post(url(ticket, "move"), {"queue": "returns"})
    assert response.status_code == 200
    assert response.json()["queue"]["slug"] == "returns"
    assert ticket.events.get(kind=TicketEvent.Kind.REROUTED).change["to"] == returns.pk


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        ("reply", {}, "body"),
        ("reply", {"body": "   "}, "body"),
        ("reply", {"body": 5}, "body"),
        # The admin's limit: the API takes no longer message than the reply form.
        ("reply", {"body": "x" * (STAFF_MESSAGE_MAX_LENGTH + 1)}, "body"),
        ("notes", {"body": "x" * (STAFF_MESSAGE_MAX_LENGTH + 1)}, "body"),
        ("reply", {"body": "ok", "status_after": "archived"}, "status_after"),
        ("notes", {"body": ""}, "body"),
        ("transition", {"status": "archived"}, "status"),
        ("transition", {}, "status"),
        ("reassign", {}, "agent"),
        ("reassign", {"agent": "alice"}, "agent"),
        ("reassign", {"agent": 999_999}, "agent"),
        ("priority", {"priority": 9}, "priority"),
        ("priority", {"priority": "4"}, "priority"),
        ("priority", {"priority": True}, "priority"),
        ("move", {"queue": "nowhere"}, "queue"),
    ],
)
def test_bad_input_is_400_with_field_messages(sue, ticket, action, body, field):
    before = ticket.events.count()
    response = client_for(sue).post(url(ticket, action), body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert list(response.json()["errors"]) == [field]
    assert ticket.events.count() == before


# --- claim next ----------------------------------------------------------------------------


def test_claim_next_gives_the_most_urgent_then_nothing(alice, billing):
    calm = TicketFactory(queue=billing, priority=Priority.LOW)
    urgent = TicketFactory(queue=billing, priority=Priority.URGENT)
    client = client_for(alice.user)

    first = client.post("/api/v1/tickets/claim-next/")
    second = client.post("/api/v1/tickets/claim-next/")
    third = client.post("/api/v1/tickets/claim-next/")

    assert (first.status_code, first.json()["reference"]) == (200, urgent.reference)
    assert first.json()["assignee"]["id"] == alice.pk
    assert (second.status_code, second.json()["reference"]) == (200, calm.reference)
    assert third.status_code == 204
    alice.refresh_from_db()
    assert alice.open_tickets == 2


def test_claim_next_at_capacity_is_409(billing):
    busy = agent_in(billing, username="busy", capacity=0)
    TicketFactory(queue=billing)
    response = client_for(busy.user).post("/api/v1/tickets/claim-next/")
    assert response.status_code == 409
    assert response.json()["code"] == "agent_at_capacity"
    assert Ticket.objects.get().assignee is None


def test_claim_next_needs_an_agent_profile(sue):
    response = client_for(sue).post("/api/v1/tickets/claim-next/")
    assert response.status_code == 403


# --- the list: filters and pages -------------------------------------------------------------


@pytest.fixture
def worklist(alice, sue, billing, returns):
    """Tickets across queues, statuses, priorities, languages and SLA states."""
    now = timezone.now()
    made = {
        "mine": TicketFactory(queue=billing, assignee=alice, status="open",
                              requester_email="Dana@Example.com"),
        "breached": TicketFactory(queue=billing, sla_breached=True, priority=Priority.HIGH),
        "at_risk": TicketFactory(queue=returns, sla_at_risk_at=now, subject="Refund missing"),
        "pending": TicketFactory(queue=returns, status="pending", priority=Priority.URGENT),
    }  # fmt: skip
    for offset, ticket in enumerate(made.values()):
        Ticket.objects.filter(pk=ticket.pk).update(created_at=now - timedelta(hours=offset))
    return made


def listed(client: APIClient, query: str) -> list[str]:
    response = client.get(f"/api/v1/tickets/?{query}")
    assert response.status_code == 200, response.json()
    return [ticket["reference"] for ticket in response.json()["results"]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ["mine", "breached", "at_risk", "pending"]),
        ("queue=returns", ["at_risk", "pending"]),
        ("status=new&status=pending", ["breached", "at_risk", "pending"]),
        ("priority=3&priority=4", ["breached", "pending"]),
        ("assignee=none", ["breached", "at_risk", "pending"]),
        ("sla=breached", ["breached"]),
        ("sla=at_risk", ["at_risk"]),
        ("sla=on_track", ["mine", "pending"]),
        ("language=en", ["mine", "breached", "at_risk", "pending"]),
        ("language=ar", []),
        ("q=dana@example.COM", ["mine"]),
        ("q=refund", ["at_risk"]),
        # Breached first, then priority, then oldest.
        ("ordering=work", ["breached", "pending", "at_risk", "mine"]),
    ],
)
def test_the_supervisor_filters_the_list(sue, worklist, query, expected):
    assert listed(client_for(sue), query) == [worklist[name].reference for name in expected]


def test_solved_tickets_have_met_or_breached_their_targets_as_in_the_admin(sue, billing):
    in_time = TicketFactory(queue=billing, status="solved", sla_at_risk_at=timezone.now())
    late = TicketFactory(queue=billing, status="closed", sla_breached=True)
    client = client_for(sue)

    assert listed(client, "sla=met") == [in_time.reference]
    assert listed(client, "sla=breached") == [late.reference]
    assert listed(client, "sla=at_risk") == listed(client, "sla=on_track") == []
    states = {t["reference"]: t["sla"] for t in client.get("/api/v1/tickets/").json()["results"]}
    assert states == {in_time.reference: "met", late.reference: "breached"}


def test_a_reference_shaped_word_is_searched_in_subjects_when_no_reference_matches(sue, billing):
    word = TicketFactory(queue=billing, subject="Strawberry plan charged twice")
    assert listed(client_for(sue), "q=strawberry") == [word.reference]
    assert listed(client_for(sue), f"q={word.reference}") == [word.reference]


def test_filters_by_queue_id_company_reference_and_me(alice, sue, worklist, billing):
    client = client_for(sue)
    assert len(listed(client, f"queue={billing.pk}")) == 2
    company = worklist["mine"].company
    assert listed(client, f"company={company.slug}") == [worklist["mine"].reference]
    assert listed(client, f"q={worklist['pending'].reference.lower()}") == [
        worklist["pending"].reference
    ]
    assert listed(client, f"assignee={alice.pk}") == [worklist["mine"].reference]
    assert listed(client_for(alice.user), "assignee=me") == [worklist["mine"].reference]
    assert listed(client, "assignee=me") == []  # Sue works no tickets herself


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=archived", "status"),
        ("priority=9", "priority"),
        ("assignee=someone", "assignee"),
        ("sla=late", "sla"),
        ("language=xx", "language"),
        ("company=not a slug", "company"),
        ("queue=a/b", "queue"),
        ("ordering=random", "ordering"),
        ("ordering=", "ordering"),
        ("page_size=0", "page_size"),
        ("page_size=101", "page_size"),
        ("page_size=ten", "page_size"),
        ("cursor=bm90LWEtY3Vyc29y", "cursor"),
        ("cursor=%25%25", "cursor"),
    ],
)
def test_a_bad_filter_is_400_naming_it(sue, worklist, query, field):
    response = client_for(sue).get(f"/api/v1/tickets/?{query}")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]


@pytest.mark.parametrize("ordering", ["newest", "work"])
def test_cursor_pages_walk_every_ticket_once_both_ways(sue, billing, ordering):
    now = timezone.now()
    for number in range(7):
        ticket = TicketFactory(queue=billing, priority=1 + number % 4, sla_breached=number == 3)
        # Equal creation times for some: the id breaks the tie.
        Ticket.objects.filter(pk=ticket.pk).update(created_at=now - timedelta(hours=number // 2))
    client = client_for(sue)
    expected = listed(client, f"ordering={ordering}&page_size=100")
    assert len(expected) == 7

    pages, link = [], f"/api/v1/tickets/?ordering={ordering}&page_size=3"
    while link:
        page = client.get(link).json()
        pages.append(page)
        link = page["next"]
    assert [t["reference"] for p in pages for t in p["results"]] == expected
    assert [len(p["results"]) for p in pages] == [3, 3, 1]
    assert pages[0]["previous"] is None

    back = client.get(pages[-1]["previous"]).json()
    assert back["results"] == pages[1]["results"]
    assert client.get(back["previous"]).json()["results"] == pages[0]["results"]
