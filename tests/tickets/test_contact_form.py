"""A customer who found no guide: suggestions first, then the same escalation path."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from guides.models import Attempt, Guide
from tickets import services
from tickets.models import Queue, RoutingRule

CONTACT = "/tickets/new/"
PROBLEM = "The payment card is refused when I change it"


@pytest.fixture
def demo(db):
    call_command("import_guides", str(Path("guides/demo_guides")), verbosity=0)


def form(**extra) -> dict:
    return {"description": PROBLEM, "email": "nour@example.com", "name": "Nour", **extra}


def test_it_suggests_matching_guides_before_offering_a_person(client, demo):
    response = client.post(CONTACT, form(company="spotify", action="suggest"))

    assert response.status_code == 200
    suggestions = response.context["suggestions"]
    assert suggestions
    assert suggestions[0].company.slug == "spotify"
    body = response.content.decode()
    assert reverse("tickets:contact-guide-open", args=[suggestions[0].pk]) in body
    assert 'value="send"' in body
    assert not Attempt.objects.exists()  # nothing sent yet


def test_opening_a_suggestion_is_recorded_and_sending_escalates(client, demo):
    spotify = Guide.objects.get(company__slug="spotify", language="en")
    opened = client.get(reverse("tickets:contact-guide-open", args=[spotify.pk]))
    assert opened.status_code == 302
    assert opened["Location"].endswith(f"/guides/spotify/en/{spotify.slug}/")

    response = client.post(CONTACT, form(company="spotify", action="send"))

    assert response.status_code == 303  # post/redirect/get, onto the request's status page
    attempt = Attempt.objects.get()
    assert response["Location"].startswith(f"/tickets/{attempt.ticket_reference}/")
    assert "nour@example.com" in client.get(response["Location"]).content.decode()
    assert attempt.guide is None
    assert attempt.company.slug == "spotify"
    assert attempt.status == "escalated"
    assert list(attempt.opened_guides.all()) == [spotify]


def test_the_request_becomes_a_ticket_through_the_same_path(client, demo):
    billing = Queue.objects.create(name="Billing", slug="billing")
    RoutingRule.objects.create(position=1, name="Refused cards", keywords="refused", queue=billing)
    spotify = Guide.objects.get(company__slug="spotify", language="en")
    client.get(reverse("tickets:contact-guide-open", args=[spotify.pk]))
    client.post(CONTACT, form(company="spotify", action="send"))
    attempt = Attempt.objects.get()

    ticket = services.ticket_create_from_attempt(attempt_id=attempt.pk)

    assert services.ticket_create_from_attempt(attempt_id=attempt.pk) == ticket  # once
    assert ticket.guide is None
    assert ticket.company.slug == "spotify"
    assert ticket.subject == PROBLEM
    assert ticket.tried_steps == []
    assert ticket.queue == billing
    assert "keyword “refused”" in ticket.routing_reason
    created = ticket.events.get(kind="created").body
    assert spotify.title in created


def test_without_a_company_or_opened_guide(client, demo):
    client.post(CONTACT, form(action="send", description="Something odd"))
    ticket = services.ticket_create_from_attempt(attempt_id=Attempt.objects.get().pk)
    assert ticket.company is None
    assert ticket.queue.is_fallback
    assert "no suggested guide was opened" in ticket.events.get(kind="created").body


def test_bad_input_is_a_form_error(client, demo):
    response = client.post(CONTACT, {"description": "", "email": "nope", "action": "send"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "This field is required." in body
    assert "Enter a valid email address." in body
    assert not Attempt.objects.exists()


def test_the_status_page_and_emails_work_without_a_guide(client, demo, mailoutbox):
    from tickets import notifications

    client.post(CONTACT, form(action="send"))
    ticket = services.ticket_create_from_attempt(attempt_id=Attempt.objects.get().pk)
    assert notifications.customer_ticket_created_send(ticket_id=ticket.pk) is True
    page = client.get(reverse("tickets:status", args=[ticket.reference, ticket.status_token()]))
    assert page.status_code == 200
    assert PROBLEM in page.content.decode()
