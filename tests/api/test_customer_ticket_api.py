"""Customers read and answer their own ticket with its secret, and nothing else."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tests.factories import TicketFactory
from tests.helpers import throttle_forget
from tickets import services
from tickets.api.views import CustomerTicketThrottle
from tickets.models import CUSTOMER_MESSAGE_MAX_LENGTH, Ticket, TicketEvent


@pytest.fixture
def ticket(billing) -> Ticket:
    return TicketFactory(queue=billing, subject="Card declined")


def customer(ticket: Ticket, secret: str | None = None, **extra) -> APIClient:
    client = APIClient(**extra)
    client.credentials(HTTP_X_TICKET_SECRET=secret or ticket.status_token())
    return client


def url(ticket: Ticket, replies: bool = False) -> str:
    return f"/api/v1/customer/tickets/{ticket.reference}/" + ("replies/" if replies else "")


def test_it_shows_the_customer_their_ticket_and_the_public_thread_only(alice, ticket):
    services.ticket_reply(ticket=ticket, actor=alice.user, body="Which card did you use?")
    services.ticket_note(ticket=ticket, actor=alice.user, body="Probably fraud, check")

    response = customer(ticket).get(url(ticket))

    assert response.status_code == 200
    data = response.json()
    assert (data["reference"], data["status"], data["subject"]) == (
        ticket.reference, "open", "Card declined",
    )  # fmt: skip
    assert data["can_reply"] is True
    assert [s["title"] for s in data["tried_steps"]] == ["Update the card", "Try another card"]
    assert data["messages"] == [
        {"sender": "support", "body": "Which card did you use?",
         "created_at": data["messages"][0]["created_at"], "attachments": []},
    ]  # fmt: skip
    text = response.content.decode()
    assert "fraud" not in text  # the note
    assert "alice" not in text.lower()  # no agent names or addresses
    assert "status_changed" not in text


def test_another_tickets_secret_or_an_unknown_reference_is_the_same_bare_404(ticket):
    other = TicketFactory(queue=ticket.queue)
    not_found = {"status": 404, "code": "not_found", "detail": "Not found."}

    response = customer(ticket, secret=other.status_token()).get(url(ticket))
    assert (response.status_code, response.json()) == (404, not_found)
    response = customer(ticket).get("/api/v1/customer/tickets/ZZZZZZZZZZ/")
    assert (response.status_code, response.json()) == (404, not_found)
    response = customer(ticket, secret="x" * 40).post(url(ticket, True), {"body": "hi"})
    assert response.status_code == 404
    assert not TicketEvent.objects.exists()


def test_a_missing_secret_is_400_naming_the_header(ticket):
    response = APIClient().get(url(ticket))
    assert response.status_code == 400
    assert response.json()["errors"] == {"X-Ticket-Secret": ["This header is required."]}


def test_a_rotated_secret_no_longer_opens_the_ticket(ticket):
    old = ticket.status_token()
    Ticket.objects.filter(pk=ticket.pk).update(status_key_version=2)
    assert customer(ticket, secret=old).get(url(ticket)).status_code == 404


def test_a_customer_reply_on_a_pending_ticket_opens_it(alice, ticket):
    services.ticket_reply(
        ticket=ticket, actor=alice.user, body="Which card?", status_after="pending"
    )

    response = customer(ticket).post(url(ticket, True), {"body": "The Visa one"})

    assert response.status_code == 201
    assert response.json()["status"] == "open"
    assert response.json()["messages"][-1] == {
        "sender": "customer", "body": "The Visa one",
        "created_at": response.json()["messages"][-1]["created_at"], "attachments": [],
    }  # fmt: skip
    ticket.refresh_from_db()
    assert ticket.status == "open"
    assert ticket.events.filter(kind=TicketEvent.Kind.CUSTOMER_MESSAGE).count() == 1


def test_a_customer_reply_reopens_a_recently_solved_ticket(ticket):
    services.ticket_transition(ticket=ticket, to_status="solved")
    response = customer(ticket).post(url(ticket, True), {"body": "It broke again"})
    assert response.status_code == 201
    assert response.json()["status"] == "open"


@pytest.mark.parametrize("closed", ["closed", "solved_long_ago"])
def test_a_reply_on_a_closed_ticket_is_409_with_the_message(ticket, closed):
    services.ticket_transition(ticket=ticket, to_status="solved")
    if closed == "closed":
        services.ticket_transition(ticket=ticket, to_status="closed")
    else:
        Ticket.objects.filter(pk=ticket.pk).update(solved_at=timezone.now() - timedelta(days=8))

    assert customer(ticket).get(url(ticket)).json()["can_reply"] is False
    response = customer(ticket).post(url(ticket, True), {"body": "Hello?"})

    assert response.status_code == 409
    assert response.json() == {
        "status": 409,
        "code": "ticket_closed",
        "detail": "This request is closed. If the problem is back, please send a new request.",
    }
    assert not ticket.events.filter(kind=TicketEvent.Kind.CUSTOMER_MESSAGE).exists()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"body": ""},
        {"body": "  "},
        {"body": 42},
        {"body": "a\x00b"},
        # The status page's limit: the API takes no longer message than the page.
        {"body": "x" * (CUSTOMER_MESSAGE_MAX_LENGTH + 1)},
    ],
)
def test_a_bad_reply_is_400_on_the_body(ticket, body):
    response = customer(ticket).post(url(ticket, True), body, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["body"]


def test_guessing_is_throttled_per_address(ticket, monkeypatch):
    monkeypatch.setattr(
        CustomerTicketThrottle, "THROTTLE_RATES", {"customer_ticket": "3/minute"}, raising=False
    )
    throttle_forget("throttle_customer_ticket_203.0.113.99", "3/minute")
    throttle_forget("throttle_customer_ticket_203.0.113.100", "3/minute")
    guesser = customer(ticket, secret="0" * 40, REMOTE_ADDR="203.0.113.99")

    codes = [guesser.get(url(ticket)).status_code for _ in range(4)]

    assert codes == [404, 404, 404, 429]
    response = customer(ticket, REMOTE_ADDR="203.0.113.99").get(url(ticket))
    assert response.status_code == 429  # the right secret waits too, from that address
    assert int(response["Retry-After"]) > 0
    assert response.json()["code"] == "throttled"
    assert customer(ticket, REMOTE_ADDR="203.0.113.100").get(url(ticket)).status_code == 200


def test_a_forged_forwarded_for_header_does_not_escape_the_throttle(ticket, monkeypatch):
    # No proxy is trusted by default, so X-Forwarded-For is the client's own text. (DRF's
    # default would have counted each new header value as a new client.)
    monkeypatch.setattr(
        CustomerTicketThrottle, "THROTTLE_RATES", {"customer_ticket": "3/minute"}, raising=False
    )
    throttle_forget("throttle_customer_ticket_203.0.113.98", "3/minute")

    codes = [
        customer(
            ticket, secret="0" * 40, REMOTE_ADDR="203.0.113.98",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{n}",
        ).get(url(ticket)).status_code
        for n in range(4)
    ]  # fmt: skip

    assert codes == [404, 404, 404, 429]
