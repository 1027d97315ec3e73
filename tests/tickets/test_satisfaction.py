"""The customer closes the loop on their status page: "it's solved", "I still need help", and
a satisfaction rating after a solve, also from the e-mail's signed links, which open a page
to confirm (a GET never records: mail scanners fetch every link).

Personas: Sam (English) escalated; Alice works his queue; Mallory tampers with links.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from helpdesk import limits
from tests.helpers import ticket_escalated
from tickets import notifications, services
from tickets.models import RatingScore, Ticket, TicketEvent, TicketRating
from tickets.services.satisfaction import RATING_LINK_SALT

MALLORY = "203.0.113.66"


@pytest.fixture(autouse=True)
def no_guesses_yet() -> None:
    """Wrong links and status-page writes counted from zero (the cache outlives a test)."""
    for address in ("127.0.0.1", MALLORY):
        limits.ticket_link_guesses().reset(address)
        limits.status_page_replies().reset(address)


@pytest.fixture
def sams_ticket(alice):
    ticket = ticket_escalated(language="en")
    ticket.queue.members.add(alice)
    return ticket


def solved(ticket: Ticket, alice, *, days_ago: float = 0) -> Ticket:
    services.ticket_transition(ticket=ticket, to_status="solved", actor=alice.user)
    if days_ago:
        Ticket.objects.filter(pk=ticket.pk).update(
            solved_at=timezone.now() - timedelta(days=days_ago)
        )
    ticket.refresh_from_db()
    return ticket


def status_path(ticket: Ticket) -> str:
    return reverse(
        "tickets:status", kwargs={"reference": ticket.reference, "token": ticket.status_token()}
    )


def rate_path(ticket: Ticket, score: str) -> str:
    token = services.rating_link_token(ticket=ticket, score=score)
    return reverse("tickets:rate", kwargs={"token": token})


# --- services ----------------------------------------------------------------------------------


def test_the_customer_solves_their_ticket_and_the_history_says_so(sams_ticket, mailoutbox):
    services.ticket_customer_solve(ticket=sams_ticket)

    sams_ticket.refresh_from_db()
    assert sams_ticket.status == Ticket.Status.SOLVED
    event = sams_ticket.events.filter(kind=TicketEvent.Kind.STATUS_CHANGED).last()
    assert event.change == {"from": "new", "to": "solved", "by_customer": True}
    assert event.author is None
    assert "The customer marked it solved." in event.body
    with pytest.raises(services.TicketError):
        services.ticket_customer_solve(ticket=sams_ticket)  # solved already


def test_still_needing_help_reopens_a_solved_ticket_with_the_message(sams_ticket, alice):
    solved(sams_ticket, alice)

    services.ticket_customer_still_needs_help(ticket=sams_ticket, message="Refused again")

    sams_ticket.refresh_from_db()
    assert sams_ticket.status == Ticket.Status.OPEN
    last = list(sams_ticket.events.order_by("created_at", "pk"))[-2:]
    assert (last[0].kind, last[0].body) == (TicketEvent.Kind.CUSTOMER_MESSAGE, "Refused again")
    assert last[1].change["by_customer"] and last[1].change["reopened"]
    assert last[1].body == "The customer still needs help: reopened."


def test_still_needing_help_on_an_open_ticket_needs_a_message(sams_ticket):
    with pytest.raises(services.TicketError) as refused:
        services.ticket_customer_still_needs_help(ticket=sams_ticket, message="  ")
    assert refused.value.status == 409  # the ticket's state, not the input

    services.ticket_customer_still_needs_help(ticket=sams_ticket, message="Still refused")

    assert sams_ticket.events.last().body == "Still refused"


def test_a_rating_is_one_per_ticket_changeable_and_each_change_an_event(sams_ticket, alice):
    solved(sams_ticket, alice)

    services.ticket_rate(ticket=sams_ticket, score="bad", comment="Took a week")
    services.ticket_rate(ticket=sams_ticket, score="bad", comment="Took a week")  # again: no-op
    services.ticket_rate(ticket=sams_ticket, score="good")

    rating = TicketRating.objects.get(ticket=sams_ticket)
    assert (rating.score, rating.comment) == ("good", "")
    rated = sams_ticket.events.filter(kind=TicketEvent.Kind.RATED).order_by("pk")
    assert [event.change for event in rated] == [
        {"score": "bad", "note": "Took a week"},
        {"score": "good", "from": "bad"},
    ]


def test_the_database_keeps_one_rating_per_ticket_and_known_scores(sams_ticket, alice):
    solved(sams_ticket, alice)
    services.ticket_rate(ticket=sams_ticket, score="good")

    with pytest.raises(IntegrityError), transaction.atomic():
        TicketRating.objects.create(ticket=sams_ticket, score="bad", source="api")
    TicketRating.objects.all().delete()
    with pytest.raises(IntegrityError), transaction.atomic():
        TicketRating.objects.create(ticket=sams_ticket, score="meh", source="api")


def test_a_ticket_is_rated_only_after_a_solve_and_within_the_window(sams_ticket, alice):
    with pytest.raises(services.RatingNotOpen):
        services.ticket_rate(ticket=sams_ticket, score="good")
    solved(sams_ticket, alice, days_ago=15)
    with pytest.raises(services.RatingNotOpen):
        services.ticket_rate(ticket=sams_ticket, score="good")
    assert not TicketRating.objects.exists()


# --- the status page ---------------------------------------------------------------------------


def test_it_solves_from_the_status_page_then_asks_for_a_rating(client, sams_ticket):
    page = client.get(status_path(sams_ticket)).content.decode()
    assert 'value="solved"' in page and "Rate the help you got" not in page

    response = client.post(status_path(sams_ticket), {"action": "solved"})

    assert response.status_code == 303
    after = client.get(response["Location"]).content.decode()
    assert "Thank you. We marked your request as solved." in after
    assert "Rate the help you got" in after and 'name="score"' in after
    assert "I still need help" in after

    rated = client.post(
        status_path(sams_ticket), {"action": "rate", "score": "good", "comment": "Quick"}
    )
    assert rated.status_code == 303
    assert TicketRating.objects.get(ticket=sams_ticket).source == "status_page"
    page = client.get(status_path(sams_ticket)).content.decode()
    assert 'data-rating="good"' in page and "Change my rating" in page
    assert client.get(status_path(sams_ticket)).status_code == 200  # a reload writes nothing
    assert sams_ticket.events.filter(kind=TicketEvent.Kind.RATED).count() == 1


def test_i_still_need_help_reopens_from_the_status_page(client, sams_ticket, alice):
    solved(sams_ticket, alice)

    response = client.post(status_path(sams_ticket), {"action": "still_need_help"})

    assert response.status_code == 303
    sams_ticket.refresh_from_db()
    assert sams_ticket.status == Ticket.Status.OPEN


def test_a_rating_without_a_choice_is_shown_again_with_the_error(client, sams_ticket, alice):
    solved(sams_ticket, alice)

    response = client.post(status_path(sams_ticket), {"action": "rate", "comment": "Hmm"})

    assert response.status_code == 200
    assert "Choose good or bad." in response.content.decode()
    assert not TicketRating.objects.exists()


def test_status_page_writes_share_the_clients_budget(client, sams_ticket, alice, settings):
    settings.STATUS_PAGE_REPLY_LIMIT = 1
    solved(sams_ticket, alice)
    path = status_path(sams_ticket)

    first = client.post(path, {"action": "rate", "score": "good"}, REMOTE_ADDR=MALLORY)
    second = client.post(path, {"action": "rate", "score": "bad"}, REMOTE_ADDR=MALLORY)

    assert (first.status_code, second.status_code) == (303, 429)
    assert second["Retry-After"]
    assert TicketRating.objects.get().score == "good"


# --- the e-mails and their signed links -----------------------------------------------------------


def test_an_agents_solve_is_mailed_with_the_rating_links(
    sams_ticket, alice, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        solved(sams_ticket, alice)
    assert any("notify_customer_solved" in repr(callback) for callback in callbacks)

    assert notifications.customer_solved_send(ticket_id=sams_ticket.pk) is True

    message = mailoutbox[-1]
    assert message.subject == f"Request {sams_ticket.reference} is solved"
    html = message.alternatives[0][0]
    for score in RatingScore.values:
        assert rate_path(sams_ticket, score).rsplit(":", 1)[0] in message.body  # signed, timed
    assert "one click" in message.body.lower() and "/tickets/rate/" in html


def test_a_reply_that_solves_carries_the_links_and_sends_no_second_e_mail(
    sams_ticket, alice, django_capture_on_commit_callbacks, mailoutbox
):
    with django_capture_on_commit_callbacks() as callbacks:
        reply = services.ticket_reply(
            ticket=sams_ticket, actor=alice.user, body="Fixed: try now", status_after="solved"
        )
    assert notifications.customer_reply_send(event_id=reply.pk) is True
    assert "/tickets/rate/" in mailoutbox[-1].body
    queued = [repr(callback) for callback in callbacks]
    assert any("notify_customer_reply" in task for task in queued)
    assert not any("notify_customer_solved" in task for task in queued)  # the reply has them
    sams_ticket.refresh_from_db()
    assert notifications.rating_links(sams_ticket)


def test_the_signed_link_opens_a_page_that_records_nothing_until_confirmed(
    client, sams_ticket, alice
):
    solved(sams_ticket, alice)
    link = rate_path(sams_ticket, "bad")

    opened = client.get(link)  # what a mail scanner does too

    assert opened.status_code == 200
    page = opened.content.decode()
    assert 'value="bad" checked' in page.replace("\n", " ") or "checked" in page
    assert "Confirm my rating" in page
    assert not TicketRating.objects.exists()

    confirmed = client.post(link, {"score": "bad", "comment": "Too slow"})

    assert confirmed.status_code == 303
    assert confirmed["Location"] == status_path(sams_ticket)
    rating = TicketRating.objects.get()
    assert (rating.score, rating.comment, rating.source) == ("bad", "Too slow", "email")


def test_a_tampered_link_is_refused_and_counts_as_a_guess(client, sams_ticket, alice, settings):
    settings.STATUS_PAGE_GUESS_LIMIT = 1
    solved(sams_ticket, alice)
    forged = signing.dumps([sams_ticket.pk, 1, "good"], salt="another salt")
    link = rate_path(sams_ticket, "good")

    assert (
        client.get(reverse("tickets:rate", args=[forged]), REMOTE_ADDR=MALLORY).status_code == 404
    )
    assert client.get(link[:-3] + "xyz/", REMOTE_ADDR=MALLORY).status_code == 429
    assert client.get(link).status_code == 200  # someone else


def test_an_expired_link_is_refused_with_a_page_that_says_so(client, sams_ticket, alice):
    solved(sams_ticket, alice)
    old = signing.dumps([sams_ticket.pk, 1, "good"], salt=RATING_LINK_SALT)
    later = timezone.now() + timedelta(days=15)

    from unittest import mock

    with mock.patch("time.time", return_value=later.timestamp()):
        response = client.post(reverse("tickets:rate", args=[old]), {"score": "good"})

    assert response.status_code == 410
    assert "This link has expired" in response.content.decode()
    assert not TicketRating.objects.exists()


def test_a_revoked_status_link_revokes_its_rating_links(client, sams_ticket, alice):
    solved(sams_ticket, alice)
    link = rate_path(sams_ticket, "good")
    Ticket.objects.filter(pk=sams_ticket.pk).update(status_key_version=2)

    assert client.get(link).status_code == 404
