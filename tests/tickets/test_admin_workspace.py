"""The work page of a ticket and the buttons around it: Alice (agent, Billing) reads what the
customer tried, answers, notes, moves the status along; Sue (supervisor) reassigns and moves
queues; refusals come back as the service's own words, never as an error page."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from tests.factories import TicketFactory, agent_in
from tests.helpers import CHANGELIST
from tickets import services
from tickets.models import STAFF_MESSAGE_MAX_LENGTH, AgentProfile, Priority, Ticket, TicketEvent


def page_of(ticket: Ticket) -> str:
    return reverse("admin:tickets_ticket_change", args=[ticket.pk])


def work(client, ticket: Ticket, action: str, data: dict):
    """Press a button of the work page and land back on it; returns (page, messages)."""
    response = client.post(
        reverse("admin:tickets_ticket_work", args=[ticket.pk, action]), data, follow=True
    )
    assert response.redirect_chain == [(page_of(ticket), 302)]
    return response, [str(m) for m in response.context["messages"]]


def test_it_puts_what_the_customer_tried_above_the_thread(client, desk):
    ticket = TicketFactory(
        queue=desk.billing, requester_name="Layla", requester_email="layla@example.com",
        language="ar", subject="البطاقة <b>مرفوضة</b>",
    )  # fmt: skip
    services.ticket_customer_reply(ticket=ticket, body="Any news? <script>x()</script>")
    services.ticket_note(ticket=ticket, actor=desk.alice.user, body="Bank outage, I think")
    client.force_login(desk.alice.user)

    response = client.get(page_of(ticket))

    assert response.status_code == 200
    body = response.content.decode()
    assert body.index('<ol class="tried-steps">') < body.index('<ol class="thread">')
    assert "Update the card" in body and "The page froze." in body
    assert "Layla" in body and "layla@example.com" in body and "Arabic" in body
    assert escape(ticket.guide.title) in body
    assert '<bdi dir="auto" class="ticket-subject">البطاقة &lt;b&gt;مرفوضة&lt;/b&gt;</bdi>' in body
    assert "<script>x()</script>" not in body
    assert '<div class="event-body" dir="auto">Any news? &lt;script&gt;' in body
    assert 'class="event event-customer"' in body
    assert 'class="event event-note"' in body
    # The moves the workflow allows from "new", and no others.
    assert 'name="to_status" value="open"' in body
    assert 'name="to_status" value="closed"' not in body
    assert "style=" not in body.split('id="content-main"')[1]  # the CSP forbids inline styles


def test_it_sends_a_reply_and_sets_the_status_asked_for(client, desk):
    ticket = TicketFactory(queue=desk.billing, assignee=desk.alice)
    client.force_login(desk.alice.user)

    page, messages = work(
        client, ticket, "reply", {"body": "Which bank issued it?", "status_after": "pending"}
    )

    assert messages == ["Reply sent to the customer."]
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.PENDING
    assert ticket.first_responded_at is not None
    reply = ticket.events.get(kind=TicketEvent.Kind.AGENT_REPLY)
    assert (reply.body, reply.author) == ("Which bank issued it?", desk.alice.user)
    assert "Which bank issued it?" in page.content.decode()


def test_it_adds_an_internal_note(client, desk):
    ticket = TicketFactory(queue=desk.billing)
    client.force_login(desk.alice.user)

    _, messages = work(client, ticket, "note", {"body": "Customer called twice"})

    assert messages == ["Internal note added."]
    note = ticket.events.get()
    assert (note.kind, note.body) == (TicketEvent.Kind.INTERNAL_NOTE, "Customer called twice")
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.NEW  # a note answers nobody


def test_it_refuses_an_empty_reply_and_keeps_nothing(client, desk):
    ticket = TicketFactory(queue=desk.billing)
    client.force_login(desk.alice.user)

    _, messages = work(client, ticket, "reply", {"body": "   "})

    assert messages == ["Reply to the customer: This field is required."]
    assert not ticket.events.exists()


def test_it_refuses_a_reply_longer_than_the_api_takes(client, desk):
    ticket = TicketFactory(queue=desk.billing)
    client.force_login(desk.alice.user)

    _, messages = work(client, ticket, "reply", {"body": "x" * (STAFF_MESSAGE_MAX_LENGTH + 1)})

    assert messages == [
        f"Reply to the customer: Ensure this value has at most {STAFF_MESSAGE_MAX_LENGTH} "
        f"characters (it has {STAFF_MESSAGE_MAX_LENGTH + 1})."
    ]
    assert not ticket.events.exists()


def test_it_moves_the_status_along_the_workflow_with_an_event(client, desk):
    ticket = TicketFactory(queue=desk.billing, assignee=desk.alice)
    client.force_login(desk.alice.user)

    _, opened = work(client, ticket, "status", {"to_status": "open"})
    _, solved = work(client, ticket, "status", {"to_status": "solved"})

    assert opened == ["Status is now Open."] and solved == ["Status is now Solved."]
    changes = list(ticket.events.values_list("change", flat=True))
    assert changes == [{"from": "new", "to": "open"}, {"from": "open", "to": "solved"}]


def test_it_shows_the_services_reason_for_a_refused_transition(client, desk):
    ticket = TicketFactory(queue=desk.billing)
    client.force_login(desk.alice.user)

    _, messages = work(client, ticket, "status", {"to_status": "closed"})
    _, nonsense = work(client, ticket, "status", {"to_status": "exploded"})

    assert messages == ["A new ticket cannot become closed (allowed: open, pending, solved)."]
    assert nonsense == ["Select a valid choice. exploded is not one of the available choices."]
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.NEW
    assert not ticket.events.exists()


def test_an_arabic_speaking_agent_reads_the_refusal_in_arabic(client, desk):
    ticket = TicketFactory(queue=desk.billing)
    client.force_login(desk.alice.user)

    response = client.post(
        reverse("admin:tickets_ticket_work", args=[ticket.pk, "status"]),
        {"to_status": "closed"}, follow=True, HTTP_ACCEPT_LANGUAGE="ar",
    )  # fmt: skip

    [message] = [str(m) for m in response.context["messages"]]
    assert (
        message == "لا يمكن نقل تذكرة حالتها «جديدة» إلى «مغلقة» (المسموح: مفتوحة، معلّقة، محلولة)."
    )


def test_it_keeps_a_refused_reply_in_the_form(client, desk):
    ticket = TicketFactory(queue=desk.billing, status=Ticket.Status.CLOSED)
    client.force_login(desk.alice.user)

    page, messages = work(client, ticket, "reply", {"body": "Sorry for the wait"})

    assert messages == ["The ticket is closed; the customer cannot be answered here."]
    assert "Sorry for the wait</textarea>" in page.content.decode()
    # Shown once: the next visit starts empty.
    assert "Sorry for the wait" not in client.get(page_of(ticket)).content.decode()


def test_it_lets_an_agent_take_a_ticket_but_not_give_it_away(client, desk):
    ticket = TicketFactory(queue=desk.billing)
    carol = agent_in(desk.billing, username="carol")
    client.force_login(desk.alice.user)

    _, taken = work(client, ticket, "assign", {"assignee": "me"})
    _, given = work(client, ticket, "assign", {"assignee": str(carol.pk)})

    assert taken == ["Assigned to Alice."]
    assert given == ["Only a supervisor may assign tickets to someone else."]
    ticket.refresh_from_db()
    assert ticket.assignee == desk.alice
    assert AgentProfile.objects.get(pk=desk.alice.pk).open_tickets == 1


def test_it_lets_a_supervisor_reassign_unassign_and_move_queues(client, desk):
    ticket = TicketFactory(queue=desk.billing)
    client.force_login(desk.sue)

    _, assigned = work(client, ticket, "assign", {"assignee": str(desk.alice.pk)})
    _, outsider = work(client, ticket, "assign", {"assignee": str(desk.bob.pk)})
    _, moved = work(client, ticket, "queue", {"queue": desk.returns.pk})

    assert assigned == ["Assigned to Alice."]
    assert outsider == ["Bob is not a member of the queue Billing."]
    assert moved == ["Moved to the queue Returns."]
    ticket.refresh_from_db()
    # Alice is not in Returns: the ticket went back unassigned, her capacity with it.
    assert (ticket.queue, ticket.assignee) == (desk.returns, None)
    assert AgentProfile.objects.get(pk=desk.alice.pk).open_tickets == 0
    kinds = list(ticket.events.values_list("kind", flat=True))
    assert kinds == ["assigned", "unassigned", "rerouted"]


def test_it_changes_the_priority_with_an_event(client, desk):
    ticket = TicketFactory(queue=desk.billing)
    client.force_login(desk.alice.user)

    _, messages = work(client, ticket, "priority", {"priority": Priority.URGENT})
    _, garbage = work(client, ticket, "priority", {"priority": "soon"})

    assert messages == ["Priority is now Urgent."]
    assert garbage[0].startswith("Priority: Select a valid choice.")
    event = ticket.events.get()
    assert event.change == {"from": Priority.NORMAL, "to": Priority.URGENT}


def test_it_answers_get_on_a_work_button_with_405(client, desk):
    ticket = TicketFactory(queue=desk.billing)
    client.force_login(desk.alice.user)

    note = reverse("admin:tickets_ticket_work", args=[ticket.pk, "note"])
    unknown = reverse("admin:tickets_ticket_work", args=[ticket.pk, "delete"])

    assert client.get(note).status_code == 405
    assert client.post(page_of(ticket), {"priority": 4}).status_code == 405
    assert client.post(unknown).status_code == 404


def test_it_reads_a_ticket_in_the_same_number_of_queries_however_long_its_thread(
    client, desk, django_assert_num_queries
):
    ticket = TicketFactory(queue=desk.billing, assignee=desk.alice)
    client.force_login(desk.sue)
    services.ticket_note(ticket=ticket, actor=desk.alice.user, body="First")
    services.ticket_customer_reply(ticket=ticket, body="Hello?")
    client.get(page_of(ticket))  # content types and the like, cached from then on
    with CaptureQueriesContext(connection) as queries:
        assert client.get(page_of(ticket)).status_code == 200
    short_thread = [q["sql"] for q in queries.captured_queries]
    # Session, user, permissions, the ticket with its queue, assignee, company and guide (its
    # visibility in the same query), the thread with its authors, the queue's members and the
    # queues.
    assert 6 < len(short_thread) < 15, short_thread
    for number in range(18):
        services.ticket_note(ticket=ticket, actor=desk.sue, body=f"Note {number}")

    with django_assert_num_queries(len(short_thread)):
        body = client.get(page_of(ticket)).content.decode()

    assert "Note 17" in body


# --- claim next ------------------------------------------------------------------------------


def claim(client):
    response = client.post(reverse("admin:tickets_ticket_claim_next"), follow=True)
    return response, [str(m) for m in response.context["messages"]]


def test_it_claims_the_most_urgent_waiting_ticket(client, desk):
    TicketFactory(queue=desk.billing, priority=Priority.NORMAL)
    urgent = TicketFactory(queue=desk.billing, priority=Priority.URGENT)
    TicketFactory(queue=desk.returns, priority=Priority.URGENT, sla_breached=True)
    client.force_login(desk.alice.user)
    assert "Claim next ticket" in client.get(CHANGELIST).content.decode()

    response, messages = claim(client)

    assert response.redirect_chain == [(page_of(urgent), 302)]
    assert messages == [f"You claimed {urgent.reference}: {urgent.subject}."]
    urgent.refresh_from_db()
    assert urgent.assignee == desk.alice
    assert urgent.events.get().kind == TicketEvent.Kind.ASSIGNED


def test_it_says_so_when_there_is_nothing_to_claim(client, desk):
    TicketFactory(queue=desk.billing, language="ar")  # Alice reads English only
    client.force_login(desk.alice.user)

    response, messages = claim(client)

    assert response.redirect_chain == [(CHANGELIST, 302)]
    assert messages == ["Nothing to claim: your queues have no waiting ticket in your languages."]
    assert AgentProfile.objects.get(pk=desk.alice.pk).open_tickets == 0


def test_it_says_so_when_the_agent_is_at_capacity(client, desk):
    TicketFactory(queue=desk.billing)
    AgentProfile.objects.filter(pk=desk.alice.pk).update(capacity=2, open_tickets=2)
    client.force_login(desk.alice.user)

    _, messages = claim(client)

    assert messages == ["You have 2 open tickets, your capacity: solve one first."]


def test_it_tells_a_supervisor_without_a_profile_that_only_agents_claim(client, desk):
    TicketFactory(queue=desk.billing)
    client.force_login(desk.sue)

    _, messages = claim(client)

    assert messages == ["Only agents claim tickets: you have no agent profile."]
    assert client.get(reverse("admin:tickets_ticket_claim_next")).status_code == 405


# --- bulk actions ----------------------------------------------------------------------------


def bulk(client, action: str, tickets, **extra):
    response = client.post(
        CHANGELIST + "?view=all",
        {"action": action, ACTION_CHECKBOX_NAME: [t.pk for t in tickets], "index": 0, **extra},
        follow=True,
    )
    return response, [str(m) for m in response.context["messages"]]


def test_it_assigns_selected_tickets_to_me_and_reports_refusals(client, desk):
    first, second = TicketFactory.create_batch(2, queue=desk.billing)
    AgentProfile.objects.filter(pk=desk.alice.pk).update(capacity=1)
    client.force_login(desk.alice.user)

    _, messages = bulk(client, "assign_to_me", [first, second])

    assert messages == [
        f"1 ticket done, 1 refused: {second.reference}: Alice has no room (capacity 1)."
    ]
    assert Ticket.objects.filter(assignee=desk.alice).count() == 1


def test_it_asks_which_agent_then_assigns_the_selection(client, desk):
    tickets = TicketFactory.create_batch(2, queue=desk.billing)
    client.force_login(desk.sue)

    asking, _ = bulk(client, "assign_to_agent", tickets)
    _, messages = bulk(client, "assign_to_agent", tickets, apply="yes", agent=desk.alice.pk)

    assert asking.status_code == 200
    assert "Assign tickets to an agent" in asking.content.decode()
    assert messages == ["2 tickets done"]
    assert set(Ticket.objects.values_list("assignee", flat=True)) == {desk.alice.pk}


def test_it_changes_priority_moves_and_solves_the_selection(client, desk):
    tickets = TicketFactory.create_batch(2, queue=desk.billing)
    client.force_login(desk.sue)

    _, prioritised = bulk(client, "change_priority", tickets, apply="yes", priority=Priority.HIGH)
    _, moved = bulk(client, "move_to_queue", tickets, apply="yes", queue=desk.returns.pk)
    _, solved = bulk(client, "solve", tickets)
    _, again = bulk(client, "solve", tickets[:1])

    assert prioritised == moved == solved == ["2 tickets done"]
    assert again == [
        f"0 tickets done, 1 refused: {tickets[0].reference}: The ticket is already solved."
    ]
    assert set(Ticket.objects.values_list("priority", "queue", "status")) == {
        (Priority.HIGH, desk.returns.pk, "solved")
    }
    kinds = TicketEvent.objects.filter(ticket=tickets[0]).values_list("kind", flat=True)
    assert list(kinds) == ["priority_changed", "rerouted", "status_changed"]


def test_it_refuses_an_agents_post_of_a_supervisor_action(client, desk):
    ticket = TicketFactory(queue=desk.billing)
    client.force_login(desk.alice.user)

    response, messages = bulk(client, "move_to_queue", [ticket], apply="yes", queue=desk.returns.pk)

    assert response.status_code == 200
    assert messages == ["No action selected."]
    ticket.refresh_from_db()
    assert ticket.queue == desk.billing


def test_it_answers_a_malformed_selection_with_a_message(client, desk):
    client.force_login(desk.alice.user)

    response = client.post(
        CHANGELIST, {"action": "solve", ACTION_CHECKBOX_NAME: ["1; DROP"], "index": 0}, follow=True
    )

    assert response.status_code == 200
    assert [str(m) for m in response.context["messages"]] == ["Tickets are selected by number."]


def test_it_shows_sla_clocks_in_the_header(client, desk):
    now = timezone.now()
    ticket = TicketFactory(
        queue=desk.billing, first_response_due_at=now - timedelta(minutes=5),
        resolution_due_at=now + timedelta(hours=3), first_response_breached=True,
        sla_breached=True,
    )  # fmt: skip
    client.force_login(desk.alice.user)

    body = client.get(page_of(ticket)).content.decode()

    assert '<span class="sla sla-breached">First response: breached' in body
    assert '<span class="sla sla-ok">Resolution: 2h 59m left' in body
    arabic = client.get(page_of(ticket), HTTP_ACCEPT_LANGUAGE="ar").content.decode()
    assert "متبقٍّ 2 س 59 د" in arabic


def test_a_pending_tickets_resolution_clock_shows_as_paused_where_it_stopped(client, desk):
    now = timezone.now()
    ticket = TicketFactory(
        queue=desk.billing, status="pending", first_responded_at=now - timedelta(hours=2),
        resolution_due_at=now + timedelta(hours=2), sla_paused_at=now - timedelta(hours=1),
    )  # fmt: skip
    client.force_login(desk.alice.user)

    body = client.get(page_of(ticket)).content.decode()

    # Due in two hours, but stopped an hour ago with three left: three it stays.
    assert '<span class="sla sla-paused">Resolution: paused · 3h 00m left</span>' in body


def test_an_arabic_speaking_agent_reads_system_events_in_arabic(client, desk):
    ticket = TicketFactory(queue=desk.billing, assignee=desk.alice)
    services.ticket_transition(ticket=ticket, to_status="open", actor=desk.alice.user)
    client.force_login(desk.alice.user)

    arabic = client.get(page_of(ticket), HTTP_ACCEPT_LANGUAGE="ar").content.decode()
    english = client.get(page_of(ticket), HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert "الحالة: جديدة" in arabic and "Status: New" not in arabic
    assert "Status: New → Open." in english
    # The stored body stays English, whoever made the change and in whatever language.
    assert ticket.events.get(kind=TicketEvent.Kind.STATUS_CHANGED).body == "Status: New → Open."
