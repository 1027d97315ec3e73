"""Agents see the customer's rating on the ticket's page; supervisors see the share of good
ratings over a period and the latest bad comments in the overview."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from tests.factories import TicketFactory
from tickets.models import TicketRating

OVERVIEW = reverse("admin:tickets_ticket_overview")


def rated(queue, score: str, comment: str = "", *, days_ago: float = 0) -> TicketRating:
    ticket = TicketFactory(queue=queue, status="solved", solved_at=timezone.now())
    when = timezone.now() - timedelta(days=days_ago)
    return TicketRating.objects.create(
        ticket=ticket, score=score, comment=comment, source="status_page", created_at=when,
        updated_at=when,
    )  # fmt: skip


def test_the_agent_sees_the_rating_on_the_ticket_page(client, billing, alice):
    rating = rated(billing, "bad", "Nobody answered for two days")
    client.force_login(alice.user)

    page = client.get(reverse("admin:tickets_ticket_change", args=[rating.ticket_id]))

    body = page.content.decode()
    assert page.status_code == 200
    assert "Customer&#x27;s rating" in body or "Customer's rating" in body
    assert 'class="rating-bad"' in body
    assert '<blockquote dir="auto">Nobody answered for two days</blockquote>' in body


def test_an_unrated_solved_ticket_says_so(client, billing, alice):
    ticket = TicketFactory(queue=billing, status="solved", solved_at=timezone.now())
    client.force_login(alice.user)

    body = client.get(reverse("admin:tickets_ticket_change", args=[ticket.pk])).content.decode()

    assert "Not rated yet" in body


def test_the_overview_shows_the_share_of_good_ratings_and_the_latest_bad_comments(
    client, billing, sue
):
    for _good in range(3):
        rated(billing, "good")
    rated(billing, "bad", "Too slow")
    rated(billing, "bad")  # no comment: counted, not listed
    rated(billing, "bad", "Years ago", days_ago=100)  # outside the period
    client.force_login(sue)

    body = client.get(OVERVIEW).content.decode()
    year = client.get(OVERVIEW, {"days": 365}).content.decode()

    assert "60 % good, of 5 ratings." in body
    assert "Too slow" in body and "Years ago" not in body
    assert "50 % good, of 6 ratings." in year and "Years ago" in year


def test_the_overview_without_ratings_says_so(client, sue):
    client.force_login(sue)

    body = client.get(OVERVIEW, {"days": "nonsense"}).content.decode()

    assert "No ratings in this period." in body
