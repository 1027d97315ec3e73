"""The escalation services: one ticket per attempt, routing, assignment, SLA clocks, sweeper."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from guides import services as guide_services
from guides.models import Attempt, Guide
from tests.factories import GuideFactory, TagFactory, UserFactory, agent_in
from tickets import services
from tickets.models import (
    AgentProfile,
    Priority,
    Queue,
    RoutingRule,
    SLAPolicy,
    Ticket,
    TicketEvent,
)


def escalated_attempt(guide: Guide, *, description="Nothing worked", outcomes=()) -> Attempt:
    attempt, _ = guide_services.attempt_start(guide=guide)
    for step, outcome, note in outcomes:
        guide_services.step_outcome_record(
            attempt=attempt, step_id=step.pk, outcome=outcome, note=note
        )
    return guide_services.attempt_contact_submit(
        attempt=attempt, description=description, name="Sam", email="sam@example.com"
    )


def agent(name: str, languages=("en",), capacity=10, **extra) -> AgentProfile:
    return AgentProfile.objects.create(
        user=UserFactory(username=name), languages=list(languages), capacity=capacity, **extra
    )


@pytest.fixture
def queue(db):
    queue = Queue.objects.create(name="Billing", slug="billing", languages=["en"])
    SLAPolicy.objects.create(
        queue=queue, priority=Priority.NORMAL, first_response_minutes=60, resolution_minutes=240
    )
    RoutingRule.objects.create(position=1, name="Everything to billing", queue=queue)
    return queue


def test_it_creates_one_ticket_with_the_tried_steps_snapshot(queue, guide_with_steps):
    first, second, *_ = guide_with_steps.steps.order_by("position")
    attempt = escalated_attempt(
        guide_with_steps,
        outcomes=[(first, "did_not_work", "E-42"), (second, "could_not_do", "")],
    )

    ticket = services.ticket_create_from_attempt(attempt_id=attempt.pk)

    assert [(s["title"], s["kind"], s["outcome"], s["note"]) for s in ticket.tried_steps] == [
        (first.title, first.kind, "did_not_work", "E-42"),
        (second.title, second.kind, "could_not_do", ""),
    ]
    assert (ticket.subject, ticket.description) == (guide_with_steps.title, "Nothing worked")
    assert ticket.requester_email == "sam@example.com"
    assert ticket.queue == queue
    kinds = list(ticket.events.values_list("kind", flat=True))
    assert kinds[:3] == ["customer_message", "created", "routed"]


def test_running_it_again_returns_the_same_ticket(queue, guide_with_steps):
    attempt = escalated_attempt(guide_with_steps)
    tickets = {services.ticket_create_from_attempt(attempt_id=attempt.pk) for _ in range(3)}
    assert len(tickets) == 1
    assert Ticket.objects.count() == 1
    assert TicketEvent.objects.filter(kind="created").count() == 1


def test_an_attempt_not_escalated_makes_no_ticket(queue, guide_with_steps):
    attempt, _ = guide_services.attempt_start(guide=guide_with_steps)
    assert services.ticket_create_from_attempt(attempt_id=attempt.pk) is None
    assert services.ticket_create_from_attempt(attempt_id=999_999) is None
    assert not Ticket.objects.exists()


def test_later_guide_edits_do_not_change_the_snapshot(queue, guide_with_steps):
    step = guide_with_steps.steps.first()
    attempt = escalated_attempt(guide_with_steps, outcomes=[(step, "did_not_work", "x")])
    ticket = services.ticket_create_from_attempt(attempt_id=attempt.pk)
    original = step.title
    step.title = "Rewritten"
    step.save()
    ticket.refresh_from_db()
    assert ticket.tried_steps[0]["title"] == original


def test_routing_takes_the_first_matching_rule_and_says_why(db):
    spotify = GuideFactory(company__name="Spotify", company__slug="spotify", tags=["payment"])
    billing_ar = Queue.objects.create(name="Billing (ar)", slug="billing-ar")
    billing = Queue.objects.create(name="Billing", slug="billing")
    RoutingRule.objects.create(
        position=1, name="Inactive", queue=billing, is_active=False, priority=Priority.URGENT
    )
    RoutingRule.objects.create(
        position=2, name="Arabic payments", company=spotify.company,
        tag=TagFactory(slug="payment"), language="ar", queue=billing_ar,
    )  # fmt: skip
    RoutingRule.objects.create(
        position=3, name="Refunds", keywords="refund, money back", queue=billing,
        priority=Priority.HIGH,
    )  # fmt: skip

    english = escalated_attempt(spotify, description="I want my MONEY BACK")
    decision = services.route(attempt=english)
    assert (decision.queue, decision.priority) == (billing, Priority.HIGH)
    assert decision.reason == "rule “Refunds”: keyword “money back” → Billing"

    arabic_guide = GuideFactory(
        company=spotify.company, language="ar", slug="ar", translation_key="ar", tags=["payment"]
    )
    decision = services.route(attempt=escalated_attempt(arabic_guide))
    assert decision.queue == billing_ar
    assert decision.reason == (
        "rule “Arabic payments”: company Spotify + tag payment + language ar → Billing (ar)"
    )


def test_no_matching_rule_goes_to_the_fallback_queue(db, guide_with_steps):
    decision = services.route(attempt=escalated_attempt(guide_with_steps))
    assert decision.queue.is_fallback
    assert decision.reason == f"no rule matched → {decision.queue.name}"


def test_assignment_prefers_the_least_loaded_then_the_longest_waiting(queue, guide_with_steps):
    now = timezone.now()
    busy = agent("busy", open_tickets=3)
    recent = agent("recent", open_tickets=1, last_assigned_at=now)
    waited = agent("waited", open_tickets=1, last_assigned_at=now - timedelta(hours=2))
    arabic_only = agent("arabic", languages=["ar"])
    away = agent("away", is_available=False)
    full = agent("full", capacity=2, open_tickets=2)
    queue.members.add(busy, recent, waited, arabic_only, away, full)

    ticket = services.ticket_create_from_attempt(attempt_id=escalated_attempt(guide_with_steps).pk)

    assert ticket.assignee == waited
    waited.refresh_from_db()
    assert waited.open_tickets == 2
    assert ticket.events.filter(kind="assigned").count() == 1


def test_without_room_the_ticket_waits_and_is_assigned_when_an_agent_frees_up(
    queue, guide_with_steps
):
    only = agent("only", capacity=1)
    queue.members.add(only)
    first = services.ticket_create_from_attempt(attempt_id=escalated_attempt(guide_with_steps).pk)
    second = services.ticket_create_from_attempt(attempt_id=escalated_attempt(guide_with_steps).pk)
    assert first.assignee == only
    assert second.assignee is None

    services.ticket_transition(ticket=first, to_status="solved")
    assert services.tickets_assign_waiting() == 1

    second.refresh_from_db()
    only.refresh_from_db()
    assert second.assignee == only
    assert only.open_tickets == 1


def test_a_queue_that_does_not_assign_automatically_keeps_its_tickets_for_claiming(
    queue, guide_with_steps
):
    queue.auto_assign = False
    queue.save(update_fields=["auto_assign"])
    dana = agent_in(queue, username="dana", languages=["en"])

    ticket = services.ticket_create_from_attempt(attempt_id=escalated_attempt(guide_with_steps).pk)

    assert ticket.assignee is None
    assert not ticket.events.filter(kind="assigned").exists()
    assert services.tickets_assign_waiting() == 0
    assert services.ticket_claim_next(agent=dana) == ticket
    dana.refresh_from_db()
    assert dana.open_tickets == 1
    # Switched back, the queue gives out what waits in it again.
    second = services.ticket_create_from_attempt(attempt_id=escalated_attempt(guide_with_steps).pk)
    assert second.assignee is None
    queue.auto_assign = True
    queue.save(update_fields=["auto_assign"])
    assert services.tickets_assign_waiting() == 1
    second.refresh_from_db()
    assert second.assignee == dana


def test_a_slot_cannot_be_claimed_past_capacity(db):
    full = agent("full", capacity=1, open_tickets=1)
    assert services.agent_claim_slot(agent_id=full.pk, now=timezone.now()) is False
    full.refresh_from_db()
    assert full.open_tickets == 1


def test_sla_due_times_come_from_the_queue_policy(queue, guide_with_steps):
    ticket = services.ticket_create_from_attempt(attempt_id=escalated_attempt(guide_with_steps).pk)
    assert ticket.first_response_due_at - ticket.created_at == timedelta(minutes=60)
    assert ticket.resolution_due_at - ticket.created_at == timedelta(minutes=240)


def test_the_sla_check_marks_at_risk_then_breached_once_and_raises_priority_once(
    queue, guide_with_steps
):
    ticket = services.ticket_create_from_attempt(attempt_id=escalated_attempt(guide_with_steps).pk)
    created = ticket.created_at

    at_risk_time = created + timedelta(minutes=50)  # 83% of the first-response target
    assert services.tickets_sla_check(now=at_risk_time) == {"at_risk": 1, "breached": 0}
    assert services.tickets_sla_check(now=at_risk_time) == {"at_risk": 0, "breached": 0}

    late = created + timedelta(minutes=61)
    assert services.tickets_sla_check(now=late) == {"at_risk": 0, "breached": 1}
    assert services.tickets_sla_check(now=late) == {"at_risk": 0, "breached": 0}

    ticket.refresh_from_db()
    assert ticket.first_response_breached is True
    assert ticket.resolution_breached is False
    assert ticket.priority == Priority.HIGH  # NORMAL raised one step, once
    kinds = list(ticket.events.values_list("kind", flat=True))
    assert kinds.count("sla_at_risk") == 1
    assert kinds.count("sla_breached") == 1
    assert kinds.count("priority_changed") == 1
    assert ticket.sla_breached is True  # the work-order flag moves with the breach


def test_pending_pauses_the_resolution_clock_and_the_wait_moves_its_due_time(
    queue, guide_with_steps
):
    dana = agent_in(queue, username="dana", languages=["en"])
    ticket = services.ticket_create_from_attempt(attempt_id=escalated_attempt(guide_with_steps).pk)
    due = ticket.resolution_due_at
    services.ticket_reply(
        ticket=ticket, actor=dana.user, body="Which card was it?", status_after="pending"
    )
    ticket.refresh_from_db()
    assert ticket.status == "pending" and ticket.sla_paused_at is not None
    assert ticket.resolution_due_at == due
    # The customer takes three hours to answer; meanwhile the original due time passes.
    paused_at = ticket.sla_paused_at - timedelta(hours=3)
    Ticket.objects.filter(pk=ticket.pk).update(sla_paused_at=paused_at)
    waiting = due + timedelta(minutes=1)
    assert services.tickets_sla_check(now=waiting) == {"at_risk": 0, "breached": 0}

    services.ticket_customer_reply(ticket=ticket, body="The Visa one.")

    ticket.refresh_from_db()
    assert ticket.status == "open" and ticket.sla_paused_at is None
    moved = ticket.resolution_due_at - due
    assert timedelta(hours=3) <= moved < timedelta(hours=3, minutes=1)
    assert services.tickets_sla_check(now=waiting) == {"at_risk": 0, "breached": 0}
    assert services.tickets_sla_check(now=ticket.resolution_due_at) == {
        "at_risk": 0,
        "breached": 1,
    }


def test_a_ticket_breached_before_it_went_pending_stays_breached(queue, guide_with_steps):
    dana = agent_in(queue, username="dana", languages=["en"])
    ticket = services.ticket_create_from_attempt(attempt_id=escalated_attempt(guide_with_steps).pk)
    services.tickets_sla_check(now=ticket.resolution_due_at)
    services.ticket_reply(ticket=ticket, actor=dana.user, body="Sorry.", status_after="pending")

    ticket.refresh_from_db()
    assert ticket.resolution_breached and ticket.sla_paused_at is None


def test_a_first_reply_stops_the_first_response_clock(queue, guide_with_steps):
    ticket = services.ticket_create_from_attempt(attempt_id=escalated_attempt(guide_with_steps).pk)
    # The system's replies (no author) are enough here; who may reply is tested in
    # tests/tickets/test_workflow.py.
    services.ticket_reply(ticket=ticket, actor=None, body="Hello, looking at it.")
    services.ticket_reply(ticket=ticket, actor=None, body="note", public=False)

    late = ticket.created_at + timedelta(minutes=61)
    assert services.tickets_sla_check(now=late)["breached"] == 0
    ticket.refresh_from_db()
    assert ticket.status == "open"
    assert ticket.first_responded_at is not None
    assert ticket.first_response_breached is False


def test_solving_stops_the_resolution_clock(queue, guide_with_steps):
    ticket = services.ticket_create_from_attempt(attempt_id=escalated_attempt(guide_with_steps).pk)
    services.ticket_transition(ticket=ticket, to_status="solved")
    way_later = ticket.created_at + timedelta(days=3)
    assert services.tickets_sla_check(now=way_later) == {"at_risk": 0, "breached": 0}


def test_the_sweeper_turns_stale_escalations_into_tickets(queue, guide_with_steps):
    stale = escalated_attempt(guide_with_steps)
    fresh = escalated_attempt(guide_with_steps)
    Attempt.objects.filter(pk=stale.pk).update(
        escalation_requested_at=timezone.now() - timedelta(minutes=5)
    )

    assert services.escalations_sweep(older_than=timedelta(minutes=1)) == 1
    assert services.escalations_sweep(older_than=timedelta(minutes=1)) == 0
    assert Ticket.objects.filter(attempt=stale).exists()
    assert not Ticket.objects.filter(attempt=fresh).exists()


def test_publishing_to_an_unreachable_broker_is_bounded_and_never_raises(tmp_path):
    # In a process of its own, configured with a broker port nothing listens on.
    from tests.processes import manage, process_env

    script = (
        "import time; from helpdesk.celery import task_send; "
        "from tickets.tasks import ESCALATION_SEND, escalate_attempt; "
        "t = time.monotonic(); sent = task_send(escalate_attempt, 4242, **ESCALATION_SEND); "
        "print('RESULT', sent, round(time.monotonic() - t, 2))"
    )
    env = process_env(tmp_path, CELERY_BROKER_URL="redis://127.0.0.1:9/0")
    result = manage("shell", "-c", script, env=env)

    assert result.returncode == 0, result.stderr
    _, sent, elapsed = result.stdout.strip().splitlines()[-1].split()
    assert sent == "False"
    assert float(elapsed) < 2.0
    assert "Escalation of attempt 4242 not sent" in result.stderr


def test_an_escalation_tried_too_often_is_parked_not_looped(queue, guide_with_steps):
    attempt = escalated_attempt(guide_with_steps)
    for _ in range(services.MAX_ESCALATION_DELIVERIES):
        assert services.escalation_delivery_record(attempt_id=attempt.pk) is True
    assert services.escalation_delivery_record(attempt_id=attempt.pk) is False

    attempt.refresh_from_db()
    assert attempt.escalation_parked_at is not None
    Attempt.objects.filter(pk=attempt.pk).update(
        escalation_requested_at=timezone.now() - timedelta(hours=1)
    )
    assert services.escalations_sweep(older_than=timedelta(0)) == 0  # left for a supervisor
    assert not Ticket.objects.exists()


def test_the_customer_is_told_once_even_if_the_task_runs_twice(queue, guide_with_steps, mailoutbox):
    from tickets import notifications

    ticket = services.ticket_create_from_attempt(attempt_id=escalated_attempt(guide_with_steps).pk)
    assert notifications.customer_ticket_created_send(ticket_id=ticket.pk) is True
    assert notifications.customer_ticket_created_send(ticket_id=ticket.pk) is False
    assert len(mailoutbox) == 1
    ticket.refresh_from_db()
    assert ticket.customer_notified_at is not None


# --- batches: a burst of escalations -----------------------------------------------------------


def test_a_burst_becomes_tickets_in_one_run_each_with_its_own_history(queue, guide_with_steps):
    first, second = list(guide_with_steps.steps.order_by("position"))[:2]
    agent_in(queue, username="ana", languages=["en"])
    agent_in(queue, username="ben", languages=["en"])
    burst = [
        escalated_attempt(
            guide_with_steps,
            description=f"Customer {number}",
            outcomes=[(first, "did_not_work", f"note {number}")]
            + ([(second, "could_not_do", "")] if number % 2 else []),
        )
        for number in range(5)
    ]

    assert services.escalations_ticket() == 5
    assert services.escalations_ticket() == 0

    for number, attempt in enumerate(burst):
        ticket = Ticket.objects.get(attempt=attempt)
        assert ticket.description == f"Customer {number}"
        assert [(step["position"], step["note"]) for step in ticket.tried_steps] == [
            (first.position, f"note {number}"),
            *([(second.position, "")] if number % 2 else []),
        ]
        kinds = list(ticket.events.order_by("pk").values_list("kind", flat=True))
        assert kinds == ["customer_message", "created", "routed", "assigned"]
        attempt.refresh_from_db()
        assert (attempt.awaiting_ticket, attempt.escalation_deliveries) == (False, 1)
    # Shared out in turn, and each agent's count moved by what they got.
    assigned = Ticket.objects.values_list("assignee__user__username", flat=True)
    assert sorted(assigned) == ["ana", "ana", "ana", "ben", "ben"]
    assert sorted(AgentProfile.objects.values_list("open_tickets", flat=True)) == [2, 3]


def test_a_failed_batch_is_tried_one_by_one_and_its_bad_escalation_parked_alone(
    queue, guide_with_steps, monkeypatch, caplog
):
    from tickets.services import escalation

    route = escalation.route

    def route_or_fail(*, attempt, **kwargs):
        if attempt.description == "poisoned":  # a defect that only this request trips
            raise ValueError("cannot route this one")
        return route(attempt=attempt, **kwargs)

    monkeypatch.setattr(escalation, "route", route_or_fail)
    good = [escalated_attempt(guide_with_steps, description=f"fine {n}") for n in range(3)]
    bad = escalated_attempt(guide_with_steps, description="poisoned")

    # The batch fails as a whole; each is then tried alone, and only the bad one fails.
    assert services.escalations_ticket() == 3
    assert "Escalation batch" in caplog.text
    assert set(Ticket.objects.values_list("attempt_id", flat=True)) == {a.pk for a in good}
    bad.refresh_from_db()
    assert (bad.escalation_deliveries, bad.escalation_parked_at) == (2, None)

    # Every later run tries it once more, until it is parked for a supervisor.
    for _ in range(services.MAX_ESCALATION_DELIVERIES):
        assert services.escalations_ticket() == 0
    bad.refresh_from_db()
    assert bad.escalation_parked_at is not None
    assert bad.awaiting_ticket  # still without a ticket, for the admin's parked filter
    assert services.escalations_ticket() == 0
    assert Ticket.objects.count() == 3


def test_an_attempt_marked_awaiting_with_its_ticket_made_is_unmarked(queue, guide_with_steps):
    """A ticket made before the mark existed: the workers drop the mark and make no other."""
    attempt = escalated_attempt(guide_with_steps)
    ticket = services.ticket_create_from_attempt(attempt_id=attempt.pk)
    Attempt.objects.filter(pk=attempt.pk).update(awaiting_ticket=True, escalation_deliveries=0)

    assert services.escalations_ticket() == 0
    attempt.refresh_from_db()
    assert attempt.awaiting_ticket is False
    assert list(Ticket.objects.values_list("pk", flat=True)) == [ticket.pk]


def test_a_batch_shares_tickets_out_by_turn_language_and_room(db):
    from tickets.services.assignment import agents_pick

    queue = Queue.objects.create(name="Billing", slug="billing", auto_assign=True)
    claiming = Queue.objects.create(name="Claims", slug="claims", auto_assign=False)
    english = agent_in(queue, username="en", languages=["en"], capacity=2)
    arabic = agent_in(queue, username="ar", languages=["ar"], capacity=5)
    both = agent_in(queue, username="both", languages=[], capacity=5)
    AgentProfile.objects.filter(pk=both.pk).update(open_tickets=3)
    now = timezone.now()

    wanted = [(queue, "en"), (queue, "en"), (queue, "en"), (queue, "ar"), (claiming, "en")]
    picked = agents_pick(wanted=wanted, now=now)

    # Fewest open first: English twice (then full), then the one who speaks both.
    assert [agent.pk if agent else None for agent in picked] == [
        english.pk, english.pk, both.pk, arabic.pk, None,
    ]  # fmt: skip
    counts = dict(AgentProfile.objects.values_list("pk", "open_tickets"))
    assert counts == {english.pk: 2, arabic.pk: 1, both.pk: 4}


def test_an_agent_whose_room_went_meanwhile_gets_none_of_the_batch(db, monkeypatch):
    from tickets.services import assignment

    queue = Queue.objects.create(name="Billing", slug="billing", auto_assign=True)
    busy = agent_in(queue, username="busy", languages=["en"], capacity=2)
    free = agent_in(queue, username="free", languages=["en"], capacity=5)
    AgentProfile.objects.filter(pk=free.pk).update(open_tickets=1)
    # As read where the read locks nothing (SQLite) before another worker's claims...
    read = assignment._agent_pools_locked({queue.pk})
    AgentProfile.objects.filter(pk=busy.pk).update(open_tickets=2)  # ...took busy's room
    monkeypatch.setattr(assignment, "_agent_pools_locked", lambda queue_ids: read)

    picked = assignment.agents_pick(wanted=[(queue, "en"), (queue, "en")], now=timezone.now())

    assert [agent.pk for agent in picked] == [free.pk, free.pk]
    counts = dict(AgentProfile.objects.values_list("pk", "open_tickets"))
    assert counts == {busy.pk: 2, free.pk: 3}


def test_a_batch_of_new_tickets_is_mailed_through_one_connection(
    queue, guide_with_steps, mailoutbox, monkeypatch
):
    from django.core import mail

    from tickets import notifications

    agent_in(queue, username="ana", languages=["en"])
    for number in range(3):
        escalated_attempt(guide_with_steps, description=f"Customer {number}")
    assert services.escalations_ticket() == 3
    created = [(pk, True) for pk in Ticket.objects.order_by("pk").values_list("pk", flat=True)]
    opened = []
    get_connection = notifications.get_connection
    monkeypatch.setattr(
        notifications, "get_connection", lambda: opened.append(1) or get_connection()
    )

    sent = notifications.tickets_created_send(created=[*created, (999_999, False)])

    assert sent == 6 and len(mailoutbox) == 6 and len(opened) == 1
    assert (
        sorted(message.to[0] for message in mail.outbox)
        == ["ana@helpdesk.example"] * 3 + ["sam@example.com"] * 3
    )
    assert notifications.tickets_created_send(created=created) == 3  # the customers: once only
