"""The customer side of the API closes the loop too, with the ticket's secret: "it's solved",
"I still need help", and the rating of a solved ticket."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from helpdesk import limits
from tests.factories import TicketFactory
from tickets import services
from tickets.models import Ticket, TicketEvent, TicketRating


@pytest.fixture(autouse=True)
def no_guesses_yet() -> None:
    """This client's wrong links counted from zero (the cache outlives a test)."""
    limits.ticket_link_guesses().reset("127.0.0.1")


@pytest.fixture
def ticket(billing) -> Ticket:
    return TicketFactory(queue=billing, subject="Card declined", status="open")


def customer(ticket: Ticket, secret: str | None = None) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_TICKET_SECRET=secret or ticket.status_token())
    return client


def url(ticket: Ticket, action: str) -> str:
    return f"/api/v1/customer/tickets/{ticket.reference}/{action}/"


def test_the_customer_solves_then_rates_then_changes_the_rating(ticket):
    solved = customer(ticket).post(url(ticket, "solve"))

    assert solved.status_code == 200
    assert solved.json()["status"] == "solved"
    assert solved.json()["can_rate"] is True and solved.json()["rating"] is None

    rated = customer(ticket).post(url(ticket, "rating"), {"score": "bad", "comment": "Slow"})
    changed = customer(ticket).post(url(ticket, "rating"), {"score": "good"}, format="json")

    assert rated.status_code == changed.status_code == 200
    assert rated.json()["rating"]["score"] == "bad"
    assert changed.json()["rating"]["score"] == "good"
    rating = TicketRating.objects.get(ticket=ticket)
    assert (rating.score, rating.source) == ("good", "api")
    assert ticket.events.filter(kind=TicketEvent.Kind.RATED).count() == 2


def test_an_open_ticket_cannot_be_rated_and_says_why(ticket):
    response = customer(ticket).post(url(ticket, "rating"), {"score": "good"})

    assert response.status_code == 409
    assert response.json()["code"] == "rating_not_open"


def test_bad_input_is_a_400_with_the_fields(ticket):
    services.ticket_customer_solve(ticket=ticket)

    response = customer(ticket).post(url(ticket, "rating"), {"score": "meh"}, format="json")

    assert response.status_code == 400
    assert "score" in response.json()["errors"]


def test_still_needing_help_reopens_a_solved_ticket(ticket):
    services.ticket_customer_solve(ticket=ticket)

    response = customer(ticket).post(url(ticket, "still-need-help"), {"message": "Not yet"})

    assert response.status_code == 200
    assert response.json()["status"] == "open"
    assert response.json()["messages"][-1]["body"] == "Not yet"


def test_solving_twice_is_a_409(ticket):
    customer(ticket).post(url(ticket, "solve"))

    assert customer(ticket).post(url(ticket, "solve")).status_code == 409


@pytest.mark.parametrize("action", ["solve", "rating", "still-need-help"])
def test_a_wrong_secret_is_a_404_that_counts_as_a_guess(ticket, action, settings):
    settings.STATUS_PAGE_GUESS_LIMIT = 1

    wrong = customer(ticket, secret="0" * 40).post(url(ticket, action), {"score": "good"})
    right = customer(ticket).post(url(ticket, action), {"score": "good"})

    assert wrong.status_code == 404
    assert right.status_code == 429
    assert not TicketRating.objects.exists()


def test_still_needing_help_without_a_message_on_an_open_ticket_is_a_409(ticket):
    response = customer(ticket).post(url(ticket, "still-need-help"), {"message": ""})

    assert response.status_code == 409
