"""Replies by e-mail, through the service both doors call (tickets.services.inbound_email):
the signed reply address in every e-mail, the customer's reply that reopens a solved ticket,
the agent's reply by e-mail, and what is refused: forged and unknown addresses, automatic
replies and loops, a second delivery, a sender's flood.

Personas: Sam is the customer (sam@customer.example); Alice works Billing, where his ticket
is, and Bob works Returns; Mallory writes from elsewhere.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from email.utils import make_msgid
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from tests.factories import TicketFactory
from tests.helpers import at_once, png_bytes, skip_unless_row_locks
from tests.mailserver import reply_mail
from tickets import notifications, services
from tickets.models import Attachment, InboundEmail, Ticket, TicketEvent
from tickets.reply_addresses import (
    ForgedToken,
    reply_address,
    reply_token,
    reply_token_read,
    thread_root_id,
)

SAM = "sam@customer.example"


@pytest.fixture(autouse=True)
def inbound_mailbox(settings):
    settings.INBOUND_EMAIL_ADDRESS = "Support <support@help.example>"
    settings.DEFAULT_FROM_EMAIL = "Helpdesk <helpdesk@help.example>"


@pytest.fixture
def ticket(alice) -> Ticket:
    ticket = TicketFactory(queue=alice.queues.first(), requester_email=SAM, assignee=alice)
    return ticket


def customer_address(ticket: Ticket) -> str:
    address = reply_address(reply_token(ticket_id=ticket.pk))
    assert address is not None
    return address


def receive(message, **kwargs) -> InboundEmail:
    inbound, _created = services.inbound_email_receive(message=message, channel="imap", **kwargs)
    return inbound


def messages(ticket: Ticket) -> list[tuple[str, str]]:
    kinds = [TicketEvent.Kind.CUSTOMER_MESSAGE, TicketEvent.Kind.AGENT_REPLY]
    return list(ticket.events.filter(kind__in=kinds).values_list("kind", "body"))


# --- the reply address -------------------------------------------------------------------------


def test_it_signs_the_reply_token_and_refuses_any_change_to_it():
    token = reply_token(ticket_id=42)
    assert reply_token_read(token).ticket_id == 42
    assert reply_token_read(token).agent_user_id is None
    assert reply_token_read(token.upper()) == reply_token_read(token)  # a server folding case
    agent_token = reply_token(ticket_id=42, agent_user_id=7)
    assert reply_token_read(agent_token).agent_user_id == 7
    mac = token.rsplit("-", 1)[1]
    for forged in (
        token[:-1] + ("0" if token[-1] != "0" else "1"),  # one digit of the signature
        f"t43-c-{mac}",  # another ticket, same signature
        f"t42-a7-{mac}",  # the customer's signature as an agent's
    ):
        with pytest.raises(ForgedToken):
            reply_token_read(forged)
    assert reply_token_read("hello") is None


def test_every_email_names_its_reader_in_reply_to_and_threads_the_ticket(ticket, alice, mailoutbox):
    notifications.customer_ticket_created_send(ticket_id=ticket.pk)
    notifications.agent_assigned_send(ticket_id=ticket.pk)
    customer_mail, agent_mail = mailoutbox
    assert customer_mail.reply_to == [customer_address(ticket)]
    assert customer_mail.reply_to[0].startswith("support+t")
    [agent_reply_to] = agent_mail.reply_to
    agent_token = agent_reply_to.split("+", 1)[1].split("@")[0]
    assert reply_token_read(agent_token).agent_user_id == alice.user_id
    # Not the status link's secret: the reply address cannot open the status page.
    assert ticket.status_token() not in customer_mail.reply_to[0]
    ids = {mail.extra_headers["Message-ID"] for mail in mailoutbox}
    assert len(ids) == 2 and all(i.endswith("@help.example>") for i in ids)
    for mail in mailoutbox:
        assert mail.extra_headers["In-Reply-To"] == thread_root_id(ticket.pk)
        assert mail.extra_headers["References"] == thread_root_id(ticket.pk)
        assert mail.message()["Reply-To"] == mail.reply_to[0]


def test_without_an_inbound_mailbox_there_is_no_reply_to_but_still_a_thread(
    ticket, settings, mailoutbox
):
    settings.INBOUND_EMAIL_ADDRESS = ""
    notifications.customer_ticket_created_send(ticket_id=ticket.pk)
    [mail] = mailoutbox
    assert mail.reply_to == []
    assert mail.extra_headers["In-Reply-To"].endswith("@help.example>")


# --- the customer ------------------------------------------------------------------------------


QUOTED_REPLY = (
    "It works now, thank you!\n\n"
    "I only had to log out first.\n\n"
    "-- \n"  # the signature's delimiter, with its space
    "Sam Customer\n"
    "Head of Everything\n\n"
    "On Mon, 30 Nov 2026 at 10:00, Helpdesk <helpdesk@help.example> wrote:\n"
    "> Hello Sam, please log out and in again.\n"
)


def test_a_customer_reply_reopens_the_solved_ticket_with_quotes_and_signature_stripped(ticket):
    services.ticket_transition(ticket=ticket, to_status=Ticket.Status.SOLVED)
    mail = reply_mail(to=customer_address(ticket), body=QUOTED_REPLY)
    inbound = receive(mail, raw=mail.as_bytes())
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.OPEN
    expected = "It works now, thank you!\n\nI only had to log out first."
    assert messages(ticket) == [(TicketEvent.Kind.CUSTOMER_MESSAGE, expected)]
    assert inbound.outcome == InboundEmail.Outcome.ACCEPTED
    assert inbound.event.body == expected
    assert bytes(inbound.raw) == mail.as_bytes()  # the original, quotes and all
    assert b"Head of Everything" in bytes(inbound.raw)


def test_a_reply_to_a_ticket_solved_too_long_ago_is_refused(ticket):
    services.ticket_transition(ticket=ticket, to_status=Ticket.Status.SOLVED)
    Ticket.objects.filter(pk=ticket.pk).update(solved_at=timezone.now() - timedelta(days=30))
    inbound = receive(reply_mail(to=customer_address(ticket)))
    assert (inbound.outcome, inbound.reason) == ("refused", InboundEmail.Reason.CLOSED)
    assert messages(ticket) == []
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.SOLVED


def test_a_reply_that_lost_the_address_is_taken_by_its_references_from_the_customer_only(
    ticket, mailoutbox
):
    notifications.customer_ticket_created_send(ticket_id=ticket.pk)
    ours = mailoutbox[0].extra_headers["Message-ID"]
    # The customer's mail program answered to the From address but kept the thread.
    taken = receive(reply_mail(to="helpdesk@help.example", In_Reply_To=ours, References=ours))
    assert taken.outcome == "accepted" and taken.ticket == ticket
    other = receive(
        reply_mail(to="helpdesk@help.example", sender="mallory@elsewhere.example", References=ours)
    )
    assert (other.outcome, other.reason) == ("refused", InboundEmail.Reason.SENDER_MISMATCH)
    assert len(messages(ticket)) == 1


def test_an_html_only_reply_is_taken_without_its_quoted_block(ticket):
    mail = reply_mail(to=customer_address(ticket))
    mail.set_content(
        "<html><body><p>Done &amp; dusted.</p><div class='gmail_quote'>On Monday you wrote:"
        "<blockquote>old text</blockquote></div></body></html>",
        subtype="html",
    )
    receive(mail)
    assert messages(ticket) == [(TicketEvent.Kind.CUSTOMER_MESSAGE, "Done & dusted.")]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Yes.\n\n-----Original Message-----\nFrom: Helpdesk\nold", "Yes."),
        ("Yes.\n________________________________\nFrom: Helpdesk\nSent: today\nold", "Yes."),
        ("Yes.\n\nFrom: Helpdesk <h@help.example>\nSent: Monday\nTo: Sam\n\nold", "Yes."),
        ("Yes.\n\nSent from my iPhone", "Yes."),
        ("نعم، شكراً.\n\nفي ٣٠ نوفمبر ٢٠٢٦، كتب الدعم:\n> قديم", "نعم، شكراً."),
        ("Le lun. 30 nov., Helpdesk a écrit :\n> vieux", ""),
        ("On Mon, Helpdesk wrote:\n> Did it work?\n\nIt did.\n\n-- \nSam", "It did."),
        ("Yes.\n> quoted\nand more.", "Yes.\nand more."),
        (
            "On the first try it failed.\nThen it worked.",
            "On the first try it failed.\nThen it worked.",
        ),
    ],
)
def test_it_keeps_only_what_the_sender_wrote(text, expected):
    assert services.reply_text(text) == expected


def test_the_files_are_stored_with_the_message_and_a_refused_one_is_left_out(ticket, caplog):
    mail = reply_mail(to=customer_address(ticket), body="Screenshot attached.")
    mail.add_attachment(png_bytes(), maintype="image", subtype="png", filename="error.png")
    # A page named as a picture: refused by its content, as on the forms.
    mail.add_attachment(b"<html><script>alert(1)</script></html>", maintype="image",
                        subtype="png", filename="also.png")  # fmt: skip
    assert [name for name, _type, _content in services.inbound_attachments(mail)] == [
        "error.png", "also.png",
    ]  # fmt: skip

    with caplog.at_level(logging.WARNING, logger="tickets.services.inbound_email"):
        inbound = receive(mail)

    assert messages(ticket) == [(TicketEvent.Kind.CUSTOMER_MESSAGE, "Screenshot attached.")]
    stored = list(Attachment.objects.filter(event=inbound.event))
    assert [(a.name, a.content_type) for a in stored] == [("error.png", "image/png")]
    assert stored[0].file.read() == png_bytes()
    assert "also.png" in caplog.text


# --- the agent ---------------------------------------------------------------------------------


def agent_address(ticket: Ticket, agent) -> str:
    address = reply_address(reply_token(ticket_id=ticket.pk, agent_user_id=agent.user_id))
    assert address is not None
    return address


def test_an_agent_answering_her_email_replies_to_the_customer(ticket, alice, mailoutbox):
    mail = reply_mail(
        to=agent_address(ticket, alice), sender=alice.user.email, body="Try logging out.\n\n--\nA"
    )
    inbound = receive(mail)
    assert messages(ticket) == [(TicketEvent.Kind.AGENT_REPLY, "Try logging out.")]
    event = ticket.events.get(kind=TicketEvent.Kind.AGENT_REPLY)
    assert event.author == alice.user
    assert inbound.agent == alice.user
    ticket.refresh_from_db()
    assert ticket.first_responded_at is not None


def test_an_agent_email_starting_with_note_is_an_internal_note(ticket, alice):
    mail = reply_mail(
        to=agent_address(ticket, alice), sender=alice.user.email, body="#note Customer is VIP."
    )
    receive(mail)
    assert messages(ticket) == []
    note = ticket.events.get(kind=TicketEvent.Kind.INTERNAL_NOTE)
    assert (note.body, note.author) == ("Customer is VIP.", alice.user)


def test_an_agent_address_used_from_another_address_is_refused(ticket, alice, bob):
    forwarded = reply_mail(to=agent_address(ticket, alice), sender="mallory@elsewhere.example")
    assert receive(forwarded).reason == InboundEmail.Reason.SENDER_MISMATCH
    # Bob's own address, but not his ticket: he may not work Billing.
    bobs = reply_mail(to=agent_address(ticket, bob), sender=bob.user.email)
    assert receive(bobs).reason == InboundEmail.Reason.NOT_PERMITTED
    assert messages(ticket) == []


# --- refused -----------------------------------------------------------------------------------


def test_an_unknown_or_forged_address_is_refused_and_logged(ticket, caplog):
    caplog.set_level(logging.WARNING, logger="tickets.services.inbound_email")
    token = reply_token(ticket_id=ticket.pk)
    forged = f"support+t{ticket.pk}-c-{'0' * 24}@help.example"
    other_ticket = f"support+t{ticket.pk + 1000}-c-{token.rsplit('-', 1)[1]}@help.example"
    assert receive(reply_mail(to="support@help.example")).reason == "no_token"
    assert receive(reply_mail(to=forged)).reason == "forged_token"
    assert receive(reply_mail(to=other_ticket)).reason == "forged_token"
    missing = reply_address(reply_token(ticket_id=ticket.pk + 1000))
    assert receive(reply_mail(to=missing)).reason == "unknown_ticket"
    assert messages(ticket) == []
    assert InboundEmail.objects.filter(outcome="refused").count() == 4
    assert "refused: forged_token" in caplog.text


@pytest.mark.parametrize(
    "headers, sender",
    [
        ({"Auto_Submitted": "auto-replied"}, SAM),
        ({"Precedence": "bulk"}, SAM),
        ({"Precedence": "junk"}, SAM),
        ({"X_Autoreply": "yes"}, SAM),
        ({}, "MAILER-DAEMON@customer.example"),
        ({}, "helpdesk@help.example"),  # our own From address
        ({}, "support@help.example"),
    ],
)
def test_automatic_replies_and_loops_are_refused(ticket, headers, sender):
    inbound = receive(reply_mail(to=customer_address(ticket), sender=sender, **headers))
    assert inbound.outcome == "refused"
    assert inbound.reason in ("auto_reply", "loop")
    assert messages(ticket) == []


def test_our_own_email_coming_back_is_refused_as_a_loop(ticket, mailoutbox):
    notifications.customer_ticket_created_send(ticket_id=ticket.pk)
    ours = mailoutbox[0].message()
    del ours["To"]
    ours["To"] = customer_address(ticket)
    ours.replace_header("From", SAM)  # a forwarding rule sending it straight back
    assert receive(ours).reason == "auto_reply"  # it says Auto-Submitted: auto-generated
    del ours["Auto-Submitted"]  # a relay that drops it: our Message-ID still tells
    InboundEmail.objects.all().delete()
    inbound = receive(ours)
    assert (inbound.outcome, inbound.reason) == ("refused", "loop")


def test_a_human_reply_that_says_auto_submitted_no_is_taken(ticket):
    inbound = receive(reply_mail(to=customer_address(ticket), Auto_Submitted="no"))
    assert inbound.outcome == "accepted"


def test_the_same_message_delivered_twice_is_stored_and_recorded_once(ticket):
    mail = reply_mail(to=customer_address(ticket), message_id="<same-1@customer.example>")
    first, created = services.inbound_email_receive(message=mail, channel="webhook")
    again, created_again = services.inbound_email_receive(message=mail, channel="imap")
    assert (created, created_again) == (True, False)
    assert again.pk == first.pk
    assert InboundEmail.objects.get().message_id == "same-1@customer.example"
    assert len(messages(ticket)) == 1


def test_a_message_without_message_id_is_told_apart_by_its_bytes(ticket):
    mail = reply_mail(to=customer_address(ticket))
    del mail["Message-ID"]
    receive(mail)
    receive(mail)
    assert InboundEmail.objects.get().message_id.startswith("sha256:")
    assert len(messages(ticket)) == 1


def test_one_sender_past_the_limit_is_refused(ticket, settings):
    settings.INBOUND_EMAIL_SENDER_LIMIT = 2
    outcomes = [receive(reply_mail(to=customer_address(ticket))).reason for _ in range(4)]
    assert outcomes == ["", "", "too_many", "too_many"]
    assert len(messages(ticket)) == 2
    other = reply_mail(to=customer_address(ticket), sender="sam.home@customer.example")
    assert receive(other).outcome == "accepted"


@pytest.mark.django_db(transaction=True)
def test_two_deliveries_of_one_message_at_the_same_instant_record_it_once(alice):
    skip_unless_row_locks()
    ticket = TicketFactory(queue=alice.queues.first(), requester_email=SAM)
    mail = reply_mail(to=customer_address(ticket), message_id=make_msgid())
    results: list[bool] = []

    def deliver() -> None:
        results.append(services.inbound_email_receive(message=mail, channel="webhook")[1])

    assert at_once(deliver, deliver) == []
    assert sorted(results) == [False, True]
    assert InboundEmail.objects.count() == 1
    assert len(messages(ticket)) == 1


def test_supervisors_read_the_received_emails_in_the_admin_and_agents_do_not(
    client, ticket, sue, alice
):
    receive(reply_mail(to="support@help.example", sender="mallory@elsewhere.example"))
    url = "/admin/tickets/inboundemail/"
    client.force_login(sue)
    response = client.get(url)
    assert response.status_code == 200
    assert "mallory@elsewhere.example" in response.content.decode()
    inbound = InboundEmail.objects.get()
    assert client.get(f"{url}{inbound.pk}/change/").status_code == 200
    client.force_login(alice.user)
    assert client.get(url).status_code == 403


def test_a_saved_message_handed_to_the_command_is_recorded_once(ticket, tmp_path):
    eml = tmp_path / "reply.eml"
    eml.write_bytes(reply_mail(to="support@help.example", body="From a file.").as_bytes())
    out = StringIO()
    call_command("receive_email", str(eml), f"--recipient={customer_address(ticket)}", stdout=out)
    call_command("receive_email", str(eml), stdout=out)
    assert out.getvalue().splitlines() == [
        f"accepted — {ticket.reference}",
        f"accepted — {ticket.reference} (received before)",
    ]
    assert messages(ticket) == [(TicketEvent.Kind.CUSTOMER_MESSAGE, "From a file.")]
    assert InboundEmail.objects.get().channel == "pipe"
