"""The escalation path's e-mails: the customer's in their language with the status link and
what they tried, the assignee's with the SLA clocks, the supervisors' on a breach.

Personas: Layla writes in Arabic, Sam in English; Alice is an agent of the General queue;
Bob and Dana supervise it, Charlie supervises it too but has no e-mail address. In the reply
e-mails Alice is an agent (with the Agent role) of the ticket's queue.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import translation

from tests.factories import UserFactory, agent_in
from tests.helpers import STORIES, ticket_escalated
from tickets import notifications, services, tasks
from tickets.models import AgentProfile, Priority, Queue, SLAPolicy, Ticket, TicketEvent

ARABIC_LETTER = re.compile("[\u0621-\u064a]")


@pytest.fixture
def general_queue(db):
    """The fallback queue every unrouted escalation lands in, with an SLA and Alice in it."""
    queue = Queue.objects.create(name="General", slug="general", is_fallback=True)
    SLAPolicy.objects.create(
        queue=queue, priority=Priority.NORMAL, first_response_minutes=60, resolution_minutes=480
    )
    alice = UserFactory(username="alice", first_name="Alice", last_name="Agent")
    queue.members.add(AgentProfile.objects.create(user=alice))
    bob = UserFactory(username="bob")
    dana = UserFactory(username="dana")
    charlie = UserFactory(username="charlie", email="")
    queue.supervisors.add(bob, dana, charlie)
    return queue


def html_part(message) -> str:
    [(html, mimetype)] = message.alternatives
    assert mimetype == "text/html"
    return html


def status_url(ticket: Ticket) -> str:
    path = reverse(
        "tickets:status", kwargs={"reference": ticket.reference, "token": ticket.status_token()}
    )
    return f"{settings.SITE_URL}{path}"


# --- the customer ------------------------------------------------------------------------------


def test_it_writes_to_an_arabic_customer_in_arabic_right_to_left(db, mailoutbox):
    ticket = ticket_escalated(language="ar", name="ليلى", email="layla@customer.example")

    assert notifications.customer_ticket_created_send(ticket_id=ticket.pk) is True

    [message] = mailoutbox
    assert message.to == ["layla@customer.example"]
    assert message.from_email == settings.DEFAULT_FROM_EMAIL
    with translation.override("ar"):
        subject = translation.gettext("Request %(reference)s: a person will answer you")
    assert ARABIC_LETTER.search(subject)  # the catalogue really has it
    assert message.subject == subject % {"reference": ticket.reference}
    html = html_part(message)
    assert '<html lang="ar" dir="rtl">' in html
    assert 'lang="ar" dir="rtl"' in html.split("<body", 1)[1]  # webmail drops <html>'s
    for part in (message.body, html):
        assert ticket.reference in part
        assert status_url(ticket) in part
        assert "ليلى" in part
        assert "لم ينجح" in part  # "Didn't work", the outcome's label in Arabic
        assert "موظف دعم" in part  # a person will answer
        for title, _, note in STORIES["ar"]["steps"]:
            assert title in part
            assert note in part
    assert "did_not_work" not in message.body


def test_it_writes_to_an_english_customer_left_to_right(db, mailoutbox):
    ticket = ticket_escalated(language="en")

    assert notifications.customer_ticket_created_send(ticket_id=ticket.pk) is True

    [message] = mailoutbox
    assert message.to == ["sam@customer.example"]
    assert message.subject == f"Request {ticket.reference}: a person will answer you"
    assert message.extra_headers["Auto-Submitted"] == "auto-generated"
    html = html_part(message)
    assert '<html lang="en" dir="ltr">' in html
    link = f"{settings.SITE_URL}/tickets/{ticket.reference}/{ticket.status_token()}/"
    assert link == status_url(ticket)
    assert "will answer you by e-mail" in message.body
    assert f'href="{status_url(ticket)}"' in html
    assert "Check the card&#x27;s expiry date</strong>: Didn&#x27;t work" in html
    assert "It says &lt;declined&gt; &amp; nothing else" in html
    # The plain-text part is not HTML: nothing in it is escaped.
    assert "1. Check the card's expiry date: Didn't work — It says <declined> & nothing else" in (
        message.body
    )
    assert "2. Try another card: Couldn't do this" in message.body
    assert "I can't change my payment card" in message.body


def test_the_link_in_the_email_opens_the_status_page(db, mailoutbox, client):
    ticket = ticket_escalated(language="en")
    notifications.customer_ticket_created_send(ticket_id=ticket.pk)

    [link] = [line for line in mailoutbox[0].body.splitlines() if "/tickets/" in line]
    response = client.get(link.strip().removeprefix(settings.SITE_URL))

    assert response.status_code == 200
    assert ticket.reference in response.content.decode()


def test_it_sends_nothing_without_a_customer_address(db, mailoutbox):
    ticket = ticket_escalated(email="")

    assert notifications.customer_ticket_created_send(ticket_id=ticket.pk) is False
    assert mailoutbox == []


def test_it_sends_nothing_for_a_ticket_that_is_gone(db, mailoutbox):
    assert notifications.customer_ticket_created_send(ticket_id=987654) is False
    assert notifications.agent_assigned_send(ticket_id=987654) is False
    assert notifications.supervisors_breach_send(ticket_id=987654) is False
    assert mailoutbox == []


def test_the_task_sends_the_customer_email(db, mailoutbox):
    ticket = ticket_escalated(language="ar", email="layla@customer.example")

    assert tasks.notify_customer_ticket_created.apply(args=[ticket.pk]).get() is True
    assert mailoutbox[0].to == ["layla@customer.example"]


# --- the assignee ------------------------------------------------------------------------------


def test_it_tells_the_assignee_with_the_sla_due_times_and_the_admin_link(general_queue, mailoutbox):
    ticket = ticket_escalated(language="ar", email="layla@customer.example")
    assert ticket.assignee is not None and ticket.assignee.user.username == "alice"

    assert notifications.agent_assigned_send(ticket_id=ticket.pk) is True

    [message] = mailoutbox
    assert message.to == ["alice@helpdesk.example"]
    assert message.subject == f"Assigned to you: {ticket.reference} {ticket.subject}"
    admin_url = f"{settings.SITE_URL}/admin/tickets/ticket/{ticket.pk}/change/"
    due = ticket.first_response_due_at
    assert due is not None and ticket.resolution_due_at is not None
    html = html_part(message)
    assert '<html lang="en" dir="ltr">' in html  # staff read English, whatever the customer
    for part in (message.body, html):
        assert ticket.reference in part
        assert ticket.subject in part
        assert "General" in part
        assert "Normal" in part
        assert "Arabic" in part
        assert due.strftime("%Y-%m-%d %H:%M") in part
        assert ticket.resolution_due_at.strftime("%Y-%m-%d %H:%M") in part
        assert admin_url in part
    assert "First response due: " + due.strftime("%Y-%m-%d %H:%M UTC") in message.body


def test_it_writes_to_an_agent_who_works_in_arabic_in_arabic(general_queue, mailoutbox):
    AgentProfile.objects.filter(user__username="alice").update(languages=["ar", "en"])
    ticket = ticket_escalated(language="en", email="sam@customer.example")

    assert notifications.agent_assigned_send(ticket_id=ticket.pk) is True

    [message] = mailoutbox
    assert message.subject == f"أُسندت إليك: {ticket.reference} {ticket.subject}"
    assert '<html lang="ar" dir="rtl">' in html_part(message)


def test_it_tells_no_agent_when_the_ticket_is_unassigned(db, mailoutbox):
    ticket = ticket_escalated()  # no agent in the fallback queue
    assert ticket.assignee is None

    assert notifications.agent_assigned_send(ticket_id=ticket.pk) is False
    assert mailoutbox == []


def test_it_tells_no_agent_without_an_address(general_queue, mailoutbox):
    ticket = ticket_escalated()
    ticket.assignee.user.email = ""
    ticket.assignee.user.save(update_fields=["email"])

    assert notifications.agent_assigned_send(ticket_id=ticket.pk) is False
    assert mailoutbox == []


# --- a new ticket's two e-mails, in one task ---------------------------------------------------


def test_the_new_tickets_task_tells_the_customer_then_the_assignee(general_queue, mailoutbox):
    ticket = ticket_escalated(language="ar", email="layla@customer.example")

    assert tasks.notify_ticket_created.apply(args=[ticket.pk, True]).get() == 2

    assert [message.to for message in mailoutbox] == [
        ["layla@customer.example"],
        ["alice@helpdesk.example"],
    ]


def test_run_again_it_does_not_confirm_to_the_customer_twice(general_queue, mailoutbox):
    # As after a failed send to the assignee: the retry sends only what may not have gone.
    ticket = ticket_escalated(email="sam@customer.example")
    notifications.ticket_created_send(ticket_id=ticket.pk, assigned=True)
    mailoutbox.clear()

    assert notifications.ticket_created_send(ticket_id=ticket.pk, assigned=True) == 1
    assert [message.to for message in mailoutbox] == [["alice@helpdesk.example"]]


def test_an_unassigned_new_ticket_tells_the_customer_only(db, mailoutbox):
    ticket = ticket_escalated(email="sam@customer.example")  # no agent in the fallback queue

    assert notifications.ticket_created_send(ticket_id=ticket.pk, assigned=False) == 1
    assert [message.to for message in mailoutbox] == [["sam@customer.example"]]


# --- the supervisors ---------------------------------------------------------------------------


def test_it_alerts_the_supervisors_with_an_address_on_a_breach(general_queue, mailoutbox):
    ticket = ticket_escalated()
    # Past the first-response target (60 minutes) without a reply: the SLA sweep breaches it.
    services.tickets_sla_check(now=ticket.created_at + timedelta(minutes=90))
    ticket.refresh_from_db()
    assert ticket.first_response_breached and not ticket.resolution_breached

    assert notifications.supervisors_breach_send(ticket_id=ticket.pk) is True

    # One e-mail each, as each carries its reader's reply address; not Charlie's.
    assert [message.to for message in mailoutbox] == [
        ["bob@helpdesk.example"],
        ["dana@helpdesk.example"],
    ]
    assert mailoutbox[0].extra_headers["Message-ID"] != mailoutbox[1].extra_headers["Message-ID"]
    message = mailoutbox[0]
    assert message.subject == f"SLA missed: {ticket.reference} in General"
    html = html_part(message)
    for part in (message.body, html):
        assert ticket.reference in part
        assert "High" in part  # the priority the breach raised it to
        assert "Alice Agent" in part
        assert "missed" in part
        assert f"/admin/tickets/ticket/{ticket.pk}/change/" in part
    assert "(missed)" in message.body.split("First response due:")[1].splitlines()[0]
    assert "(missed)" not in message.body.split("Resolution due:")[1].splitlines()[0]


def test_it_alerts_nobody_when_no_supervisor_has_an_address(db, mailoutbox):
    ticket = ticket_escalated()
    ticket.queue.supervisors.add(UserFactory(username="charlie", email=""))
    ticket.queue.supervisors.add(UserFactory(username="eve", is_active=False))

    assert notifications.supervisors_breach_send(ticket_id=ticket.pk) is False
    assert mailoutbox == []


# --- an agent's reply --------------------------------------------------------------------------


def reply_by_alice(ticket: Ticket, body: str, *, public: bool = True):
    """Alice, an agent of the ticket's queue, answers (or notes) on the ticket."""
    alice = agent_in(ticket.queue, username="alice").user
    return services.ticket_reply(ticket=ticket, actor=alice, body=body, public=public)


def test_it_emails_an_agents_reply_to_an_arabic_customer_in_arabic(db, mailoutbox):
    ticket = ticket_escalated(language="ar", name="ليلى", email="layla@customer.example")
    reply = reply_by_alice(ticket, "هل جرّبت بطاقة من مصرف آخر؟\nأخبرينا بالنتيجة.")

    assert notifications.customer_reply_send(event_id=reply.pk) is True

    [message] = mailoutbox
    assert message.to == ["layla@customer.example"]
    assert message.extra_headers["Auto-Submitted"] == "auto-generated"
    with translation.override("ar"):
        subject = translation.gettext("Request %(reference)s: a new reply")
    assert ARABIC_LETTER.search(subject)
    assert message.subject == subject % {"reference": ticket.reference}
    html = html_part(message)
    assert '<html lang="ar" dir="rtl">' in html
    assert 'lang="ar" dir="rtl"' in html.split("<body", 1)[1]
    assert '<blockquote dir="auto"' in html
    assert "هل جرّبت بطاقة من مصرف آخر؟<br>أخبرينا بالنتيجة." in html
    assert "هل جرّبت بطاقة من مصرف آخر؟\nأخبرينا بالنتيجة." in message.body
    for part in (message.body, html):
        assert status_url(ticket) in part
        assert ticket.reference in part
        assert "ليلى" in part
        assert "صفحة طلبك" in part  # "your request's page", where to answer


def test_it_emails_an_agents_reply_to_an_english_customer(db, mailoutbox):
    ticket = ticket_escalated(language="en")
    reply = reply_by_alice(ticket, "Please try the card <again> & tell us what it says.")

    assert notifications.customer_reply_send(event_id=reply.pk) is True

    [message] = mailoutbox
    assert message.to == ["sam@customer.example"]
    assert message.subject == f"Request {ticket.reference}: a new reply"
    assert "Please try the card <again> & tell us what it says." in message.body
    assert "To answer, write on your request's page:\n" + status_url(ticket) in message.body
    html = html_part(message)
    assert '<html lang="en" dir="ltr">' in html
    assert "Please try the card &lt;again&gt; &amp; tell us what it says." in html
    assert f'href="{status_url(ticket)}"' in html
    assert "<script" not in html


def test_it_never_emails_an_internal_note_or_a_system_event(db, mailoutbox):
    ticket = ticket_escalated(language="en")
    note = reply_by_alice(ticket, "Looks like fraud screening", public=False)
    routed = ticket.events.get(kind=TicketEvent.Kind.ROUTED)

    assert notifications.customer_reply_send(event_id=note.pk) is False
    assert notifications.customer_reply_send(event_id=routed.pk) is False
    assert notifications.customer_reply_send(event_id=987654) is False
    assert mailoutbox == []


def test_it_emails_no_reply_without_a_customer_address(db, mailoutbox):
    ticket = ticket_escalated(email="")
    reply = reply_by_alice(ticket, "Which bank issued the card?")

    assert notifications.customer_reply_send(event_id=reply.pk) is False
    assert mailoutbox == []


def test_the_task_emails_the_reply_and_its_link_opens_the_page(db, mailoutbox, client):
    ticket = ticket_escalated(language="en")
    reply = reply_by_alice(ticket, "Which bank issued the card?")

    assert tasks.notify_customer_reply.apply(args=[reply.pk]).get() is True

    [link] = [line for line in mailoutbox[0].body.splitlines() if "/tickets/" in line]
    page = client.get(link.strip().removeprefix(settings.SITE_URL)).content.decode()
    assert "Which bank issued the card?" in page
