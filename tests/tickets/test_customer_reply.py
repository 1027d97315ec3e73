"""The customer answers on their status page: a pending ticket opens again, a recently solved
one reopens, an old or closed one offers a new request instead, and nothing breaks on bad input.

Personas: Sam (English) and Layla (Arabic) escalated; Alice is the agent of their queue.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from helpdesk import limits
from tests.factories import TicketFactory
from tests.helpers import ticket_escalated
from tickets import services
from tickets.models import AgentProfile, Ticket, TicketEvent

SAM = "198.51.100.7"
LAYLA = "192.0.2.10"  # another customer, on another connection


def status_path(ticket: Ticket) -> str:
    return reverse(
        "tickets:status",
        kwargs={"reference": ticket.reference, "token": ticket.status_token()},
    )


def customer_messages(ticket: Ticket) -> list[str]:
    return list(
        ticket.events.filter(kind=TicketEvent.Kind.CUSTOMER_MESSAGE)
        .order_by("created_at", "pk")
        .values_list("body", flat=True)
    )


@pytest.fixture
def sams_ticket(alice):
    ticket = ticket_escalated(language="en")
    ticket.queue.members.add(alice)  # Alice works the queue Sam's ticket was routed to
    return ticket


def solved_days_ago(ticket: Ticket, alice: AgentProfile, days: int) -> Ticket:
    services.ticket_transition(ticket=ticket, to_status="solved", actor=alice.user)
    Ticket.objects.filter(pk=ticket.pk).update(solved_at=timezone.now() - timedelta(days=days))
    ticket.refresh_from_db()
    return ticket


def test_it_opens_a_pending_ticket_and_shows_the_answer_after_a_redirect(
    client, sams_ticket, alice
):
    services.ticket_reply(
        ticket=sams_ticket,
        actor=alice.user,
        body="Which bank issued the card?",
        status_after=Ticket.Status.PENDING,
    )

    response = client.post(status_path(sams_ticket), {"body": "  The Northern Bank.  "})

    assert response.status_code == 303  # post/redirect/get
    assert response["Location"] == status_path(sams_ticket)
    sams_ticket.refresh_from_db()
    assert sams_ticket.status == Ticket.Status.OPEN
    assert customer_messages(sams_ticket)[-1] == "The Northern Bank."
    last_change = sams_ticket.events.filter(kind=TicketEvent.Kind.STATUS_CHANGED).last()
    assert last_change.change == {"from": "pending", "to": "open"}
    page = client.get(response["Location"]).content.decode()
    assert "Your message was sent. A person will read it soon." in page
    thread = page.split('id="thread-heading"')[1]
    assert thread.index("Which bank issued the card?") < thread.index("The Northern Bank.")


def test_it_reopens_a_ticket_solved_two_days_ago(client, sams_ticket, alice):
    solved_days_ago(sams_ticket, alice, days=2)
    page = client.get(status_path(sams_ticket)).content.decode()
    assert "If it is not, answer below and the request opens again." in page
    # Below, "I still need help" with its message (test_satisfaction.py); a reply posted as
    # before still reopens it.
    assert '<textarea name="message"' in page

    response = client.post(status_path(sams_ticket), {"body": "It fails again today."})

    assert response.status_code == 303  # post/redirect/get
    sams_ticket.refresh_from_db()
    assert sams_ticket.status == Ticket.Status.OPEN
    assert sams_ticket.solved_at is None
    assert customer_messages(sams_ticket)[-1] == "It fails again today."
    reopened = sams_ticket.events.filter(kind=TicketEvent.Kind.STATUS_CHANGED).last()
    assert reopened.change == {"from": "solved", "to": "open", "reopened": True}
    assert reopened.body == "Reopened: Solved → Open."


def test_a_ticket_solved_eight_days_ago_offers_a_new_request_instead(client, sams_ticket, alice):
    solved_days_ago(sams_ticket, alice, days=8)
    guide = sams_ticket.guide
    guide_path = reverse(
        "guides:guide-detail",
        kwargs={"company": guide.company.slug, "language": guide.language, "slug": guide.slug},
    )

    page = client.get(status_path(sams_ticket)).content.decode()

    assert '<textarea name="body"' not in page  # no reply form (the rating has its own)
    assert "This request is closed" in page
    assert f'<a class="button" href="{guide_path}">Start a new request</a>' in page


def test_a_post_to_a_ticket_past_its_reopen_window_is_refused_and_stores_nothing(
    client, sams_ticket, alice
):
    solved_days_ago(sams_ticket, alice, days=8)
    events_before = sams_ticket.events.count()

    response = client.post(status_path(sams_ticket), {"body": "Hello again?"})

    assert response.status_code == 409
    page = response.content.decode()
    assert "This request is closed, so your message was not sent." in page
    assert "Start a new request" in page
    sams_ticket.refresh_from_db()
    assert sams_ticket.status == Ticket.Status.SOLVED
    assert sams_ticket.events.count() == events_before
    assert "Hello again?" not in customer_messages(sams_ticket)


def test_a_closed_request_from_the_contact_form_links_to_the_contact_form(client, db):
    ticket = TicketFactory(
        attempt__guide=None,
        attempt__company=None,
        attempt__language="en",
        guide=None,
        company=None,
        status=Ticket.Status.CLOSED,
        closed_at=timezone.now(),
    )

    page = client.get(status_path(ticket)).content.decode()
    refused = client.post(status_path(ticket), {"body": "Anyone there?"})

    assert "<textarea" not in page
    assert f'<a class="button" href="{reverse("tickets:contact")}">' in page
    assert refused.status_code == 409
    assert "your message was not sent" in refused.content.decode()
    assert not ticket.events.exists()


def test_a_closed_guide_ticket_whose_guide_was_withdrawn_links_to_the_contact_form(
    client, sams_ticket, alice
):
    solved_days_ago(sams_ticket, alice, days=9)
    services.tickets_close_solved()
    sams_ticket.guide.status = "draft"
    sams_ticket.guide.save(update_fields=["status"])

    page = client.get(status_path(sams_ticket)).content.decode()

    assert "<strong>Closed</strong>" in page
    assert f'<a class="button" href="{reverse("tickets:contact")}">' in page


@pytest.mark.parametrize("body", ["", "   \n  "])
def test_an_empty_message_is_a_form_error(client, sams_ticket, body):
    response = client.post(status_path(sams_ticket), {"body": body})

    assert response.status_code == 200
    assert "Write your message first." in response.content.decode()
    assert response.context["form"].errors == {"body": ["Write your message first."]}
    assert customer_messages(sams_ticket) == ["Both cards are refused."]


def test_a_message_over_5000_characters_is_a_form_error(client, sams_ticket):
    response = client.post(status_path(sams_ticket), {"body": "x" * 5001})

    assert response.status_code == 200
    assert "at most 5000 characters" in response.content.decode()
    assert customer_messages(sams_ticket) == ["Both cards are refused."]


def test_it_needs_the_pages_csrf_token(sams_ticket):
    browser = Client(enforce_csrf_checks=True)
    browser.get(status_path(sams_ticket))  # sets the CSRF cookie

    forged = browser.post(status_path(sams_ticket), {"body": "From another site"})
    token = browser.cookies["csrftoken"].value
    genuine = browser.post(
        status_path(sams_ticket), {"body": "From the page", "csrfmiddlewaretoken": token}
    )

    assert forged.status_code == 403
    assert genuine.status_code == 303
    assert customer_messages(sams_ticket)[-1] == "From the page"
    assert "From another site" not in customer_messages(sams_ticket)


def test_a_post_with_a_wrong_link_is_a_404_and_stores_nothing(client, sams_ticket):
    path = reverse("tickets:status", args=[sams_ticket.reference, "0" * 40])

    assert client.post(path, {"body": "Let me in"}).status_code == 404
    assert "Let me in" not in customer_messages(sams_ticket)


def test_it_limits_the_replies_from_one_address(client, sams_ticket, settings):
    settings.STATUS_PAGE_REPLY_LIMIT = 2
    replies = limits.status_page_replies()
    replies.reset(SAM)
    replies.reset(LAYLA)

    sent = [
        client.post(status_path(sams_ticket), {"body": f"Message {n}"}, REMOTE_ADDR=SAM)
        for n in range(3)
    ]

    assert [response.status_code for response in sent] == [303, 303, 429]
    assert 3590 <= int(sent[2]["Retry-After"]) <= 3600
    assert "You sent many messages in a short time." in sent[2].content.decode()
    assert customer_messages(sams_ticket)[-2:] == ["Message 0", "Message 1"]
    # Reading the page is still fine, and so is writing from another address.
    assert client.get(status_path(sams_ticket), REMOTE_ADDR=SAM).status_code == 200
    assert (
        client.post(status_path(sams_ticket), {"body": "Hi"}, REMOTE_ADDR=LAYLA).status_code == 303
    )
    replies.reset(SAM)
    replies.reset(LAYLA)


def test_an_arabic_customer_is_answered_in_arabic(client, db):
    ticket = ticket_escalated(language="ar", email="layla@customer.example")

    page = client.get(status_path(ticket)).content.decode()
    empty = client.post(status_path(ticket), {"body": ""}).content.decode()
    sent = client.post(status_path(ticket), {"body": "ما زالت مرفوضة"}, follow=True)

    assert '<html lang="ar" dir="rtl">' in page
    assert '<label for="id_body">رسالتك</label>' in page  # "Your message"
    assert '<button type="submit">أرسل</button>' in page  # "Send"
    assert "اكتب رسالتك أولًا." in empty  # "Write your message first."
    assert "وصلتنا رسالتك" in sent.content.decode()  # "Your message was sent"
    assert customer_messages(ticket)[-1] == "ما زالت مرفوضة"
