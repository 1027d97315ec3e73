"""Replies by e-mail from a mailbox: a real IMAP server (dovecot, started on a free loopback
port), messages put in it with APPEND as a mail server delivers them, and beat's poll.

Sam is the customer; his ticket is in Billing, which Alice works.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.brokers import free_port
from tests.factories import QueueFactory, TicketFactory
from tests.mailserver import Mailbox, dovecot, reply_mail
from tests.processes import (
    configured_broker_env,
    process_env,
    running,
    test_database_url,
    wait_for,
    worker_args,
)
from tickets import services, tasks
from tickets.models import InboundEmail, Ticket, TicketEvent
from tickets.reply_addresses import reply_address, reply_token

INBOUND = "support@help.example"


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    with dovecot() as server:
        yield server


@pytest.fixture(autouse=True)
def mailbox_settings(settings, mailbox):
    settings.INBOUND_EMAIL_ADDRESS = INBOUND
    settings.INBOUND_IMAP_URL = mailbox.url
    # One module's server for every test: each starts from an empty inbox.
    with mailbox.client() as client:
        for folder in ("INBOX", "Done"):
            status, count = client.select(folder)
            if status == "OK" and count[0] != b"0":
                client.store("1:*", "+FLAGS.SILENT", r"(\Deleted)")
                client.expunge()


@pytest.fixture
def ticket(alice) -> Ticket:
    return TicketFactory(queue=alice.queues.first(), requester_email="sam@customer.example")


def to_ticket(ticket: Ticket) -> str:
    address = reply_address(reply_token(ticket_id=ticket.pk))
    assert address is not None
    return address


def customer_messages(ticket: Ticket) -> list[str]:
    kind = TicketEvent.Kind.CUSTOMER_MESSAGE
    return list(ticket.events.filter(kind=kind).values_list("body", flat=True))


def test_the_poll_takes_the_unseen_messages_and_marks_them_seen(ticket, mailbox):
    mailbox.append(
        reply_mail(to=to_ticket(ticket), body="First."),
        reply_mail(to="support@help.example", body="To nobody in particular."),
        reply_mail(to=to_ticket(ticket), body="Second.\n\n> quoted"),
    )
    assert tasks.poll_inbound_mailbox() == 3
    assert customer_messages(ticket) == ["First.", "Second."]
    # The refused one is read too, and stored with its reason: it is not read again.
    assert sorted(InboundEmail.objects.values_list("outcome", "reason")) == [
        ("accepted", ""),
        ("accepted", ""),
        ("refused", "no_token"),
    ]
    assert all(r"\Seen" in flags for flags in mailbox.flags())
    assert tasks.poll_inbound_mailbox() == 0


def test_a_message_seen_twice_is_recorded_once(ticket, mailbox):
    """A poll that died between recording a message and marking it seen reads it again."""
    mail = reply_mail(to=to_ticket(ticket))
    mailbox.append(mail)
    assert services.inbound_mailbox_poll() == 1
    mailbox.append(mail)  # the same message, unseen again
    assert services.inbound_mailbox_poll() == 1
    assert customer_messages(ticket) == ["Thanks, it works now."]
    assert InboundEmail.objects.count() == 1


def test_the_poll_moves_what_it_read_when_told_a_folder(ticket, mailbox, settings):
    settings.INBOUND_IMAP_DONE_FOLDER = "Done"
    with mailbox.client() as client:
        client.create("Done")
    mailbox.append(reply_mail(to=to_ticket(ticket)))
    assert services.inbound_mailbox_poll() == 1
    assert mailbox.flags("INBOX") == []
    assert len(mailbox.flags("Done")) == 1


def test_the_poll_reads_at_most_a_batch(ticket, mailbox, settings):
    settings.INBOUND_IMAP_BATCH = 2
    mailbox.append(*(reply_mail(to=to_ticket(ticket), body=f"Note {n}.") for n in range(3)))
    assert services.inbound_mailbox_poll() == 2
    assert services.inbound_mailbox_poll() == 1
    assert customer_messages(ticket) == ["Note 0.", "Note 1.", "Note 2."]


def test_a_mailbox_that_is_down_or_refuses_is_logged_and_left_for_the_next_poll(
    ticket, mailbox, settings, caplog
):
    caplog.set_level(logging.WARNING, logger="tickets.services.inbound_mailbox")
    settings.INBOUND_IMAP_URL = f"imap://support:secret@127.0.0.1:{free_port()}/INBOX"
    assert services.inbound_mailbox_poll() is None
    assert "not reachable" in caplog.text
    settings.INBOUND_IMAP_URL = mailbox.url.replace(":secret@", ":wrong@")
    assert services.inbound_mailbox_poll() is None
    settings.INBOUND_IMAP_URL = mailbox.url
    mailbox.append(reply_mail(to=to_ticket(ticket)))
    assert services.inbound_mailbox_poll() == 1


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_worker_runs_the_beat_task_against_the_mailbox(mailbox, tmp_path: Path, settings):
    ticket = TicketFactory(queue=QueueFactory(), requester_email="sam@customer.example")
    mailbox.append(reply_mail(to=to_ticket(ticket), body="From the worker."))
    env = process_env(
        tmp_path,
        DATABASE_URL=test_database_url(),
        INBOUND_EMAIL_ADDRESS=INBOUND,
        INBOUND_IMAP_URL=mailbox.url,
        # The reply address was signed with this process's key.
        SECRET_KEY=settings.SECRET_KEY,
        **configured_broker_env(),
    )
    log = tmp_path / "worker.log"
    with running(worker_args(), env, log):
        tasks.poll_inbound_mailbox.delay()
        wait_for(lambda: customer_messages(ticket), timeout=60, what="the polled message", log=log)
    assert customer_messages(ticket) == ["From the worker."]
