"""Replies by e-mail through a provider: Mailgun posts the raw message to anymail's inbound
URL, signed with the webhook signing key (HMAC-SHA256 of its timestamp and token); a
signed post lands on the ticket, a forged or stale one is refused before anything is read.

Sam is the customer; his ticket is in Billing, which Alice works.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from base64 import b64encode

import pytest

from tests.factories import TicketFactory
from tests.mailserver import reply_mail
from tickets.inbound_webhook import webhook_posts
from tickets.models import InboundEmail, Ticket, TicketEvent
from tickets.reply_addresses import reply_address, reply_token

SIGNING_KEY = "key-test-only-0123456789abcdef"
URL = "/anymail/mailgun/inbound_mime/"


@pytest.fixture(autouse=True)
def provider(settings):
    settings.INBOUND_EMAIL_ADDRESS = "support@help.example"
    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}
    webhook_posts().reset("127.0.0.1")  # the test client's address, shared by the suite


@pytest.fixture
def ticket(alice) -> Ticket:
    return TicketFactory(queue=alice.queues.first(), requester_email="sam@customer.example")


def mailgun_post(ticket: Ticket, *, key: str = SIGNING_KEY, age: float = 0, **fields) -> dict:
    """The form Mailgun's forward() route posts for a raw-MIME URL, signed with ``key``."""
    address = reply_address(reply_token(ticket_id=ticket.pk))
    timestamp, token = str(int(time.time() - age)), secrets.token_hex(25)
    signature = hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256)
    return {
        "recipient": address,
        "sender": "sam@customer.example",
        "body-mime": reply_mail(to=f"Support <{address}>", body="Paid, thanks.").as_string(),
        "timestamp": timestamp,
        "token": token,
        "signature": signature.hexdigest(),
        **fields,
    }


def customer_messages(ticket: Ticket) -> list[str]:
    kind = TicketEvent.Kind.CUSTOMER_MESSAGE
    return list(ticket.events.filter(kind=kind).values_list("body", flat=True))


def test_a_signed_post_becomes_the_customers_message(client, ticket):
    response = client.post(URL, mailgun_post(ticket))
    assert response.status_code == 200
    assert customer_messages(ticket) == ["Paid, thanks."]
    inbound = InboundEmail.objects.get()
    assert (inbound.channel, inbound.outcome) == ("webhook", "accepted")
    assert b"Paid, thanks." in bytes(inbound.raw)


def test_the_provider_retrying_a_post_records_the_message_once(client, ticket):
    post = mailgun_post(ticket)
    assert client.post(URL, post).status_code == 200
    assert client.post(URL, {**post, "token": "other", "signature": "x"}).status_code == 400
    assert (
        client.post(URL, mailgun_post(ticket, **{"body-mime": post["body-mime"]})).status_code
        == 200
    )
    assert customer_messages(ticket) == ["Paid, thanks."]
    assert InboundEmail.objects.count() == 1


@pytest.mark.parametrize(
    "forgery",
    [
        {"key": "key-someone-elses"},
        {"age": 3600},  # a signature seen once, posted again an hour later
    ],
)
def test_a_forged_or_stale_post_is_refused_and_nothing_stored(client, ticket, forgery):
    response = client.post(URL, mailgun_post(ticket, **forgery))
    assert response.status_code == 400
    assert customer_messages(ticket) == []
    assert not InboundEmail.objects.exists()


def test_a_post_without_signature_is_refused(client, ticket):
    post = mailgun_post(ticket)
    del post["signature"]
    assert client.post(URL, post).status_code == 400
    assert not InboundEmail.objects.exists()


def test_with_a_webhook_secret_the_post_needs_basic_auth_too(client, ticket, settings):
    settings.ANYMAIL = {**settings.ANYMAIL, "WEBHOOK_SECRET": "mailgun:s3cret"}
    assert client.post(URL, mailgun_post(ticket)).status_code == 400
    credentials = b64encode(b"mailgun:s3cret").decode()
    response = client.post(URL, mailgun_post(ticket), HTTP_AUTHORIZATION=f"Basic {credentials}")
    assert response.status_code == 200
    assert customer_messages(ticket) == ["Paid, thanks."]


def test_without_a_signing_key_the_url_is_not_there(client, ticket, settings):
    settings.ANYMAIL = {}
    assert client.post(URL, mailgun_post(ticket, key="")).status_code == 404
    assert not InboundEmail.objects.exists()


def test_a_client_posting_too_often_is_told_to_wait(client, ticket, settings):
    settings.INBOUND_WEBHOOK_LIMIT = 2
    statuses = [client.post(URL, mailgun_post(ticket, key="wrong")).status_code for _ in range(3)]
    assert statuses == [400, 400, 429]
