"""The status workflow and the agent's actions on a ticket, through the services every door
(admin, API, status page) calls. Alice works Billing; Bob works Shipping; Sue supervises."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import QueueFactory, TicketFactory, agent_in, staff_user
from tickets import roles, services
from tickets.models import TICKET_TRANSITIONS, Priority, Ticket, TicketEvent, TicketStatus

pytestmark = pytest.mark.django_db

ALL_PAIRS = [(a, b) for a in TicketStatus.values for b in TicketStatus.values if a != b]
ALLOWED = [(a, b) for a, b in ALL_PAIRS if b in TICKET_TRANSITIONS[a]]
REFUSED = [(a, b) for a, b in ALL_PAIRS if b not in TICKET_TRANSITIONS[a]]


def ticket_in(status: str, *, queue, assignee=None, **fields) -> Ticket:
    """A ticket put straight into ``status``, its assignee's capacity counted as the services
    would have counted it."""
    ticket = TicketFactory(queue=queue, assignee=assignee, status=status, **fields)
    if assignee is not None and status in ("new", "open", "pending"):
        assignee.open_tickets += 1
        assignee.save(update_fields=["open_tickets"])
    return ticket


def test_the_workflow_is_the_documented_one():
    assert TICKET_TRANSITIONS == {
        "new": ("open", "pending", "solved"),
        "open": ("pending", "solved"),
        "pending": ("open", "solved"),
        "solved": ("open", "closed"),
        "closed": (),
    }


@pytest.mark.parametrize(("current", "target"), ALLOWED)
def test_it_moves_along_every_allowed_transition_and_writes_an_event(
    current, target, billing, alice
):
    solved_at = timezone.now() if current in ("solved", "closed") else None
    ticket = ticket_in(current, queue=billing, assignee=alice, solved_at=solved_at)

    services.ticket_transition(ticket=ticket, to_status=target, actor=alice.user)

    ticket.refresh_from_db()
    assert ticket.status == target
    event = ticket.events.get(kind=TicketEvent.Kind.STATUS_CHANGED)
    reopened = current == "solved" and target in ("open", "pending")
    assert event.change == {
        "from": current,
        "to": target,
        **({"reopened": True} if reopened else {}),
    }
    assert event.body.startswith("Reopened: " if reopened else "Status: ")
    assert event.author == alice.user
    assert (ticket.solved_at is not None) == (target in ("solved", "closed"))
    if target == "closed":
        assert ticket.closed_at is not None


@pytest.mark.parametrize(("current", "target"), REFUSED)
def test_it_refuses_every_other_transition_with_a_clear_message(current, target, billing, alice):
    ticket = ticket_in(current, queue=billing, assignee=alice)

    with pytest.raises(services.TransitionNotAllowed) as refused:
        services.ticket_transition(ticket=ticket, to_status=target, actor=alice.user)

    assert f"cannot become {TicketStatus(target).label.lower()}" in refused.value.message
    ticket.refresh_from_db()
    assert ticket.status == current
    assert not ticket.events.exists()


def test_it_refuses_the_same_status_and_unknown_ones(billing, alice):
    ticket = ticket_in("open", queue=billing, assignee=alice)
    with pytest.raises(services.TransitionNotAllowed, match="already open"):
        services.ticket_transition(ticket=ticket, to_status="open", actor=alice.user)
    with pytest.raises(services.TransitionNotAllowed, match="Unknown status"):
        services.ticket_transition(ticket=ticket, to_status="archived", actor=alice.user)


def test_solving_frees_capacity_and_reopening_takes_it_back(billing, alice):
    ticket = ticket_in("open", queue=billing, assignee=alice)

    services.ticket_transition(ticket=ticket, to_status="solved", actor=alice.user)
    alice.refresh_from_db()
    assert alice.open_tickets == 0

    services.ticket_transition(ticket=ticket, to_status="open", actor=alice.user)
    alice.refresh_from_db()
    ticket.refresh_from_db()
    assert alice.open_tickets == 1
    assert ticket.solved_at is None
    assert "Reopened" in ticket.events.filter(kind="status_changed").last().body


def test_an_agent_cannot_work_a_ticket_outside_their_queues(billing, alice):
    shipping = QueueFactory(name="Shipping", slug="shipping")
    foreign = ticket_in("open", queue=shipping)

    for action in (
        lambda: services.ticket_transition(ticket=foreign, to_status="solved", actor=alice.user),
        lambda: services.ticket_reply(ticket=foreign, actor=alice.user, body="Hi"),
        lambda: services.ticket_note(ticket=foreign, actor=alice.user, body="Hi"),
        lambda: services.ticket_priority_change(ticket=foreign, priority=4, actor=alice.user),
        lambda: services.ticket_assign_to(ticket=foreign, agent=alice, actor=alice.user),
    ):
        with pytest.raises(services.TicketNotPermitted):
            action()
    assert not foreign.events.exists()


def test_an_author_cannot_work_tickets(billing):
    author = staff_user("ada", roles.AUTHOR)
    ticket = ticket_in("open", queue=billing)
    with pytest.raises(services.TicketNotPermitted):
        services.ticket_reply(ticket=ticket, actor=author, body="Hi")


def test_a_public_reply_opens_a_new_ticket_and_can_leave_it_pending(billing, alice, mailoutbox):
    ticket = ticket_in("new", queue=billing, assignee=alice)

    services.ticket_reply(ticket=ticket, actor=alice.user, body="Which bank is it?")
    ticket.refresh_from_db()
    assert ticket.status == "open"
    assert ticket.first_responded_at is not None

    services.ticket_reply(
        ticket=ticket, actor=alice.user, body="Any news?", status_after=TicketStatus.PENDING
    )
    ticket.refresh_from_db()
    assert ticket.status == "pending"
    kinds = list(ticket.events.values_list("kind", flat=True))
    assert kinds == ["agent_reply", "status_changed", "agent_reply", "status_changed"]


def test_an_internal_note_changes_nothing_the_customer_sees(billing, alice):
    ticket = ticket_in("new", queue=billing, assignee=alice)
    services.ticket_note(ticket=ticket, actor=alice.user, body="Looks like fraud, check.")
    ticket.refresh_from_db()
    assert ticket.status == "new"
    assert ticket.first_responded_at is None
    assert ticket.events.get().kind == "internal_note"


def test_an_empty_reply_is_refused(billing, alice):
    ticket = ticket_in("open", queue=billing, assignee=alice)
    with pytest.raises(services.TicketError, match="Write something"):
        services.ticket_reply(ticket=ticket, actor=alice.user, body="   ")


@pytest.mark.parametrize(
    ("status", "solved_days_ago", "after"),
    [
        ("new", None, "new"),
        ("open", None, "open"),
        ("pending", None, "open"),
        ("solved", 2, "open"),
    ],
)
def test_a_customer_reply_moves_the_ticket_back_to_the_agent(
    status, solved_days_ago, after, billing, alice
):
    solved_at = timezone.now() - timedelta(days=solved_days_ago) if solved_days_ago else None
    ticket = ticket_in(status, queue=billing, assignee=alice, solved_at=solved_at)

    services.ticket_customer_reply(ticket=ticket, body="It still fails.")

    ticket.refresh_from_db()
    assert ticket.status == after
    assert ticket.events.filter(kind="customer_message", body="It still fails.").exists()


@pytest.mark.parametrize(("status", "solved_days_ago"), [("solved", 8), ("closed", 30)])
def test_a_customer_reply_after_the_reopen_window_is_refused(
    status, solved_days_ago, billing, alice
):
    ticket = ticket_in(
        status, queue=billing, assignee=alice,
        solved_at=timezone.now() - timedelta(days=solved_days_ago),
    )  # fmt: skip
    with pytest.raises(services.TicketClosedForReplies, match="new request"):
        services.ticket_customer_reply(ticket=ticket, body="Hello?")
    ticket.refresh_from_db()
    assert ticket.status == status
    assert not ticket.events.exists()


def test_solved_tickets_close_after_the_reopen_window(billing, alice):
    now = timezone.now()
    old = ticket_in("solved", queue=billing, solved_at=now - timedelta(days=8))
    recent = ticket_in("solved", queue=billing, solved_at=now - timedelta(days=2))

    assert services.tickets_close_solved(now=now) == 1
    assert services.tickets_close_solved(now=now) == 0

    old.refresh_from_db()
    recent.refresh_from_db()
    assert (old.status, recent.status) == ("closed", "solved")


def test_priority_changes_are_recorded(billing, alice):
    ticket = ticket_in("open", queue=billing, assignee=alice, priority=Priority.NORMAL)
    services.ticket_priority_change(ticket=ticket, priority=Priority.URGENT, actor=alice.user)
    event = ticket.events.get(kind="priority_changed")
    assert event.change == {"from": Priority.NORMAL, "to": Priority.URGENT}
    with pytest.raises(services.TicketError, match="Unknown priority"):
        services.ticket_priority_change(ticket=ticket, priority=9, actor=alice.user)


def test_only_a_supervisor_gives_tickets_to_someone_else(billing, alice, bob, sue):
    billing.members.add(bob)  # Bob helps out on Billing
    ticket = ticket_in("open", queue=billing)

    with pytest.raises(services.TicketNotPermitted):
        services.ticket_assign_to(ticket=ticket, agent=bob, actor=alice.user)
    services.ticket_assign_to(ticket=ticket, agent=alice, actor=alice.user)  # to me: fine
    with pytest.raises(services.TicketNotPermitted):
        services.ticket_assign_to(ticket=ticket, agent=None, actor=bob.user)  # not his
    services.ticket_assign_to(ticket=ticket, agent=None, actor=alice.user)  # hands it back
    services.ticket_assign_to(ticket=ticket, agent=alice, actor=alice.user)
    services.ticket_assign_to(ticket=ticket, agent=bob, actor=sue)

    alice.refresh_from_db()
    bob.refresh_from_db()
    assert (alice.open_tickets, bob.open_tickets) == (0, 1)
    changes = [
        (kind, change["from"], change["to"], body)
        for kind, change, body in ticket.events.values_list("kind", "change", "body")
    ]
    assert changes == [
        ("assigned", None, alice.pk, "Assigned to Alice."),
        ("unassigned", alice.pk, None, "Back in the queue; Alice no longer has it."),
        ("assigned", None, alice.pk, "Assigned to Alice."),
        ("assigned", alice.pk, bob.pk, "Reassigned from Alice to Bob."),
    ]


def test_assigning_respects_capacity_and_queue_membership(billing, bob, sue):
    full = agent_in(billing, username="full", capacity=1)
    stranger = bob  # of Returns only
    services.ticket_assign_to(ticket=ticket_in("open", queue=billing), agent=full, actor=sue)

    with pytest.raises(services.AgentAtCapacity):
        services.ticket_assign_to(ticket=ticket_in("open", queue=billing), agent=full, actor=sue)
    with pytest.raises(services.TicketError, match="not a member"):
        services.ticket_assign_to(
            ticket=ticket_in("open", queue=billing), agent=stranger, actor=sue
        )


def test_moving_a_ticket_hands_it_back_when_the_assignee_is_not_in_the_new_queue(
    billing, returns, alice, sue
):
    ticket = ticket_in("open", queue=billing, assignee=alice)

    with pytest.raises(services.TicketNotPermitted):
        services.ticket_move_queue(ticket=ticket, queue=returns, actor=alice.user)
    services.ticket_move_queue(ticket=ticket, queue=returns, actor=sue)

    ticket.refresh_from_db()
    alice.refresh_from_db()
    assert (ticket.queue, ticket.assignee, alice.open_tickets) == (returns, None, 0)
    assert list(ticket.events.values_list("kind", flat=True)) == ["unassigned", "rerouted"]


def test_a_ticket_handed_back_is_not_assigned_straight_back_to_the_same_agent(billing, alice, bob):
    ticket = ticket_in("open", queue=billing, assignee=alice)
    alice.open_tickets = 1
    alice.save(update_fields=["open_tickets"])
    services.ticket_assign_to(ticket=ticket, agent=None, actor=alice.user)

    # Alice alone in the queue, and now the least loaded: the ticket waits instead of bouncing.
    assert services.tickets_assign_waiting() == 0
    ticket.refresh_from_db()
    assert ticket.assignee is None and ticket.handed_back_by == alice

    billing.members.add(bob)  # Bob joins Billing, busier than Alice
    bob.open_tickets = 5
    bob.save(update_fields=["open_tickets"])
    assert services.tickets_assign_waiting() == 1
    ticket.refresh_from_db()
    assert ticket.assignee == bob
    # Alice may still take it back herself.
    services.ticket_assign_to(ticket=ticket, agent=None, actor=bob.user)
    services.ticket_assign_to(ticket=ticket, agent=alice, actor=alice.user)
    ticket.refresh_from_db()
    assert ticket.assignee == alice
