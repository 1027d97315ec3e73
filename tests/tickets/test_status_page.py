"""The customer's status page: only the link's holder sees it, in the ticket's language, with
what they tried and the public thread, never the staff's notes.

Personas: Sam (English) and Layla (Arabic) escalated; Alice is the agent who answers.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.factories import UserFactory
from tests.tickets import STORIES, ticket_escalated
from tickets import services
from tickets.models import Ticket, TicketEvent


def status_path(ticket: Ticket, token: str | None = None) -> str:
    return reverse(
        "tickets:status",
        kwargs={"reference": ticket.reference, "token": token or ticket.status_token()},
    )


@pytest.fixture
def alice(db):
    return UserFactory(username="alice")


def test_it_shows_the_ticket_what_was_tried_and_the_public_thread(client, alice):
    ticket = ticket_escalated(language="en")
    services.ticket_reply(ticket=ticket, author=alice, body="Which bank issued the card?")
    services.ticket_reply(
        ticket=ticket, author=alice, body="Looks like fraud screening", public=False
    )
    TicketEvent.objects.create(
        ticket=ticket, kind=TicketEvent.Kind.INTERNAL_NOTE, body="Customer sounds upset"
    )

    response = client.get(status_path(ticket))

    assert response.status_code == 200
    body = response.content.decode()
    assert '<html lang="en" dir="ltr">' in body
    assert ticket.reference in body
    assert "I can&#x27;t change my payment card" in body
    assert "<strong>Open</strong>" in body  # the public reply opened it
    assert f'datetime="{ticket.created_at.isoformat()}"' in body
    # What was tried: position, title, the outcome's label and the note, in order.
    tried = body.split('id="tried-heading"')[1].split('id="thread-heading"')[0]
    assert tried.index("Check the card&#x27;s expiry date") < tried.index("Try another card")
    assert '<span class="step-number">1</span>' in tried
    assert "<strong>Didn&#x27;t work</strong>" in tried
    assert "<strong>Couldn&#x27;t do this</strong>" in tried
    assert '<q dir="auto">It says &lt;declined&gt; &amp; nothing else</q>' in tried
    # The thread: the customer's words and the public reply, in order, and nothing else.
    thread = body.split('id="thread-heading"')[1]
    assert thread.index("Both cards are refused.") < thread.index("Which bank issued the card?")
    assert thread.count("<li ") == 2
    assert "fraud screening" not in body
    assert "sounds upset" not in body
    assert "no rule matched" not in body  # the routing event is the staff's business
    assert "Escalated from self-help" not in body
    assert "<form" not in body.split('id="content"')[1]  # no reply form yet
    assert "style=" not in body and "<script" not in body  # the strict CSP allows neither


def test_an_arabic_ticket_is_shown_in_arabic_right_to_left(client, db):
    ticket = ticket_escalated(language="ar", email="layla@customer.example")

    response = client.get(status_path(ticket))

    body = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="ar" dir="rtl">' in body
    assert '<h2 id="tried-heading">ما جرّبته</h2>' in body  # "What you tried"
    assert "<strong>جديدة</strong>" in body  # the status, "New"
    assert "<strong>لم ينجح</strong>" in body  # the outcome, "Didn't work"
    assert "<strong>أنت</strong>" in body  # who wrote the first message, "You"
    for title, _, note in STORIES["ar"]["steps"]:
        assert title in body
        assert note in body
    assert STORIES["ar"]["description"] in body


def test_a_wrong_token_and_an_unknown_reference_get_the_same_bare_404(client, db):
    ticket = ticket_escalated()
    other = ticket_escalated(email="someone@customer.example")

    wrong_token = client.get(status_path(ticket, token="0" * 40))
    others_token = client.get(status_path(ticket, token=other.status_token()))
    unknown = client.get(reverse("tickets:status", args=["ZZZZZZZZZZ", ticket.status_token()]))

    assert wrong_token.status_code == others_token.status_code == unknown.status_code == 404
    assert wrong_token.content == others_token.content == unknown.content
    assert ticket.reference.encode() not in wrong_token.content


def test_a_rotated_key_revokes_the_old_link(client, db):
    ticket = ticket_escalated()
    old_path = status_path(ticket)
    Ticket.objects.filter(pk=ticket.pk).update(status_key_version=2)
    ticket.refresh_from_db()

    assert client.get(old_path).status_code == 404
    assert client.get(status_path(ticket)).status_code == 200


def test_the_page_is_kept_out_of_caches_and_search_engines(client, db):
    response = client.get(status_path(ticket_escalated()))

    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]
    assert response["X-Robots-Tag"] == "noindex, nofollow"
    assert "Content-Security-Policy" in response


def test_it_takes_only_reads(client, db):
    path = status_path(ticket_escalated())
    assert client.post(path).status_code == 405


@pytest.mark.parametrize("replies", [1, 10])
def test_it_reads_the_page_in_two_queries_whatever_the_thread(
    client, alice, django_assert_num_queries, replies
):
    ticket = ticket_escalated()
    for n in range(replies):
        services.ticket_reply(ticket=ticket, author=alice, body=f"Reply {n}")

    with django_assert_num_queries(2):  # the ticket with its company, the public thread
        response = client.get(status_path(ticket))
    assert response.content.decode().count("Reply ") == replies
