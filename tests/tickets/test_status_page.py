"""The customer's status page: only the link's holder sees it, in the ticket's language, with
what they tried and the public thread, never the staff's notes.

Personas: Sam (English) and Layla (Arabic) escalated; Alice is the agent of their queue who
answers; Mallory guesses links from another address. The reply form is in
test_customer_reply.py.
"""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from helpdesk import limits
from tests.helpers import STORIES, ticket_escalated, trust_proxies
from tickets import services
from tickets.models import AgentProfile, Ticket, TicketEvent


def status_path(ticket: Ticket, token: str | None = None) -> str:
    return reverse(
        "tickets:status",
        kwargs={"reference": ticket.reference, "token": token or ticket.status_token()},
    )


def alice_answering(ticket: Ticket, alice: AgentProfile):
    """Alice, made an agent of the queue the ticket was routed to; her user."""
    ticket.queue.members.add(alice)
    return alice.user


def test_it_shows_the_ticket_what_was_tried_and_the_public_thread(client, alice):
    ticket = ticket_escalated(language="en")
    alice = alice_answering(ticket, alice)
    services.ticket_reply(ticket=ticket, actor=alice, body="Which bank issued the card?")
    services.ticket_reply(
        ticket=ticket, actor=alice, body="Looks like fraud screening", public=False
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
    reply_form = body.split('id="reply-heading"')[1]
    assert '<form method="post"' in reply_form
    assert 'name="csrfmiddlewaretoken"' in reply_form
    assert '<textarea name="body"' in reply_form and 'dir="auto"' in reply_form
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


def test_it_answers_no_other_method(client, db):
    path = status_path(ticket_escalated())
    assert client.put(path).status_code == 405
    assert client.delete(path).status_code == 405


@pytest.mark.parametrize("replies", [1, 10])
def test_it_reads_the_page_in_three_queries_whatever_the_thread(
    client, alice, django_assert_num_queries, replies
):
    ticket = ticket_escalated()
    alice = alice_answering(ticket, alice)
    for n in range(replies):
        services.ticket_reply(ticket=ticket, actor=alice, body=f"Reply {n}")

    # The ticket with its company and guide, the public thread, the thread's attachments.
    with django_assert_num_queries(3):
        response = client.get(status_path(ticket))
    assert response.content.decode().count("Reply ") == replies


# --- guessing links ----------------------------------------------------------------------------

MALLORY = "203.0.113.66"  # guesses links
SAM = "198.51.100.7"  # holds the right one, from another address


@pytest.fixture
def guess_limit(settings):
    """Three wrong links per ten minutes; the counters of the test addresses start at zero
    (the cache lives as long as the test run)."""
    settings.STATUS_PAGE_GUESS_LIMIT = 3
    settings.STATUS_PAGE_GUESS_WINDOW = 600
    guesses = limits.ticket_link_guesses()
    for address in (MALLORY, SAM):
        guesses.reset(address)
    yield guesses
    for address in (MALLORY, SAM):
        guesses.reset(address)


def test_it_refuses_an_address_after_too_many_wrong_links_even_the_right_one(
    client, db, guess_limit
):
    ticket = ticket_escalated()
    wrong = [status_path(ticket, token=f"{n:040d}") for n in range(3)]

    assert [client.get(path, REMOTE_ADDR=MALLORY).status_code for path in wrong] == [404] * 3
    refused = client.get(status_path(ticket), REMOTE_ADDR=MALLORY)
    refused_post = client.post(status_path(ticket), {"body": "Hi"}, REMOTE_ADDR=MALLORY)
    unknown = client.get(reverse("tickets:status", args=["ZZZZ", "0"]), REMOTE_ADDR=MALLORY)

    assert refused.status_code == refused_post.status_code == unknown.status_code == 429
    assert 590 <= int(refused["Retry-After"]) <= 600
    assert refused.content == unknown.content  # says nothing about the link
    assert ticket.reference not in refused.content.decode()
    assert "Too many wrong links" in refused.content.decode()
    assert "try again in 10 minutes" in refused.content.decode()
    assert ticket.events.filter(body="Hi").exists() is False
    # Sam, on another connection, is not punished for Mallory's guesses.
    assert client.get(status_path(ticket), REMOTE_ADDR=SAM).status_code == 200


def test_behind_a_trusted_proxy_each_customer_is_counted_on_their_own(
    client, db, guess_limit, settings
):
    trust_proxies(settings, 1)
    ticket = ticket_escalated()
    via_proxy = {"REMOTE_ADDR": "10.0.0.5"}  # every request comes from the load balancer

    for n in range(3):
        wrong = status_path(ticket, token=f"{n:040d}")
        assert client.get(wrong, HTTP_X_FORWARDED_FOR=MALLORY, **via_proxy).status_code == 404

    assert (
        client.get(status_path(ticket), HTTP_X_FORWARDED_FOR=MALLORY, **via_proxy).status_code
        == 429
    )
    assert client.get(status_path(ticket), HTTP_X_FORWARDED_FOR=SAM, **via_proxy).status_code == 200
    # Mallory cannot start afresh by sending a header of her own: the proxy appends hers.
    forged = f"192.0.2.1, {MALLORY}"
    assert (
        client.get(status_path(ticket), HTTP_X_FORWARDED_FOR=forged, **via_proxy).status_code == 429
    )


def test_right_links_do_not_count_as_guesses(client, db, guess_limit):
    ticket = ticket_escalated()

    for _ in range(5):
        assert client.get(status_path(ticket), REMOTE_ADDR=SAM).status_code == 200
    client.get(status_path(ticket, token="0" * 40), REMOTE_ADDR=SAM)
    client.get(status_path(ticket, token="1" * 40), REMOTE_ADDR=SAM)

    assert client.get(status_path(ticket), REMOTE_ADDR=SAM).status_code == 200


def test_the_penalty_ends_with_the_window(client, db, guess_limit):
    ticket = ticket_escalated()
    for n in range(3):
        client.get(status_path(ticket, token=f"{n:040d}"), REMOTE_ADDR=MALLORY)
    assert client.get(status_path(ticket), REMOTE_ADDR=MALLORY).status_code == 429

    guess_limit.reset(MALLORY)  # what the cache does when the window's keys expire

    assert client.get(status_path(ticket), REMOTE_ADDR=MALLORY).status_code == 200


# --- one guess budget for the status page and the customer ticket API -------------------------


def api_get(ticket: Ticket, secret: str, address: str):
    client = APIClient(REMOTE_ADDR=address)
    client.credentials(HTTP_X_TICKET_SECRET=secret)
    return client.get(f"/api/v1/customer/tickets/{ticket.reference}/")


def test_wrong_links_on_the_page_and_wrong_secrets_on_the_api_share_one_budget(
    client, db, guess_limit
):
    ticket = ticket_escalated()
    page_guesses = [status_path(ticket, token=f"{n:040d}") for n in range(2)]

    assert [client.get(path, REMOTE_ADDR=MALLORY).status_code for path in page_guesses] == [404] * 2
    assert api_get(ticket, "9" * 40, MALLORY).status_code == 404  # the third guess

    page = client.get(status_path(ticket), REMOTE_ADDR=MALLORY)
    api = api_get(ticket, ticket.status_token(), MALLORY)
    assert page.status_code == api.status_code == 429
    assert 590 <= int(page["Retry-After"]) <= 600
    assert 590 <= int(api["Retry-After"]) <= 600
    assert api.json()["code"] == "throttled"
    assert ticket.reference not in api.content.decode()
    # Sam's budget is his own.
    assert api_get(ticket, ticket.status_token(), SAM).status_code == 200


def test_guesses_on_the_api_close_the_status_page_too(client, db, guess_limit):
    ticket = ticket_escalated()

    codes = [api_get(ticket, f"{n:040d}", MALLORY).status_code for n in range(4)]

    assert codes == [404, 404, 404, 429]
    refused = client.get(status_path(ticket), REMOTE_ADDR=MALLORY)
    assert refused.status_code == 429
    assert "Too many wrong links" in refused.content.decode()
    assert client.get(status_path(ticket), REMOTE_ADDR=SAM).status_code == 200
