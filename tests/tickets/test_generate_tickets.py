"""generate_tickets: the benchmark's data set is data the application itself could have written
(constraints hold, every ticket has its attempt, snapshot and thread, counters add up)."""

from __future__ import annotations

from collections import Counter

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, Q

from guides.models import Attempt
from tickets.models import (
    OPEN_TICKET_STATUSES,
    REFERENCE_ALPHABET,
    AgentProfile,
    Ticket,
    TicketEvent,
)

STEP_KEYS = {"position", "title", "kind", "outcome", "note", "recorded_at"}


def generate(count: int, **options) -> str:
    from io import StringIO

    out = StringIO()
    call_command("generate_tickets", tickets=count, force=True, stdout=out, **options)
    return out.getvalue()


@pytest.fixture
def generated(db):
    generate(200, batch=70, seed=1)
    return list(Ticket.objects.select_related("attempt", "assignee", "queue"))


def test_it_refuses_with_debug_off_unless_forced(db, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="DEBUG is off"):
        call_command("generate_tickets", tickets=10)
    assert not Ticket.objects.exists()


def test_it_refuses_without_an_explicit_count(db, settings):
    settings.DEBUG = True
    with pytest.raises(CommandError, match="--tickets"):
        call_command("generate_tickets")
    with pytest.raises(CommandError, match="at least 1"):
        call_command("generate_tickets", tickets=0)


def test_it_writes_tickets_that_pass_the_models_own_validation(generated):
    assert len(generated) == 200
    for ticket in generated:
        ticket.full_clean()
        ticket.attempt.full_clean()
    references = [t.reference for t in generated]
    assert len(set(references)) == 200
    assert all(len(r) == 10 and set(r) <= set(REFERENCE_ALPHABET) for r in references)
    assert len({t.attempt.token_hash for t in generated}) == 200


def test_it_gives_every_ticket_its_escalated_attempt(generated):
    for ticket in generated:
        attempt = ticket.attempt
        assert attempt.status == Attempt.Status.ESCALATED
        assert attempt.language == ticket.language
        assert attempt.guide_id == ticket.guide_id
        assert attempt.contact_email == ticket.requester_email
        assert attempt.description == ticket.description
        assert attempt.escalation_requested_at == ticket.created_at


def test_it_is_mostly_history_with_some_work_waiting(generated):
    statuses = Counter(t.status for t in generated)
    assert statuses["closed"] + statuses["solved"] >= 180
    assert sum(statuses[s] for s in OPEN_TICKET_STATUSES) >= 1
    assert {t.language for t in generated} == {"ar", "en"}
    assert len({t.priority for t in generated}) == 4
    assert len({t.queue_id for t in generated}) >= 6
    assert any(t.sla_breached for t in generated)
    assert not all(t.sla_breached for t in generated)


def test_it_keeps_the_clocks_and_flags_consistent(generated):
    for ticket in generated:
        assert ticket.sla_breached == (ticket.first_response_breached or ticket.resolution_breached)
        assert ticket.first_response_due_at <= ticket.resolution_due_at
        if ticket.first_responded_at is not None:
            assert ticket.created_at < ticket.first_responded_at
            assert ticket.first_response_breached == (
                ticket.first_responded_at > ticket.first_response_due_at
            )
        if ticket.status in ("solved", "closed"):
            assert ticket.first_responded_at < ticket.solved_at
            assert ticket.resolution_breached == (ticket.solved_at > ticket.resolution_due_at)
        else:
            assert ticket.solved_at is None
        assert (ticket.closed_at is not None) == (ticket.status == "closed")
        if ticket.status == "new":
            assert ticket.first_responded_at is None
        # Pending tickets wait on the customer with the resolution clock stopped, as the
        # workflow leaves them, unless it ran out before.
        assert (ticket.sla_paused_at is not None) == (
            ticket.status == "pending" and not ticket.resolution_breached
        )
        if ticket.sla_paused_at is not None:
            assert ticket.first_responded_at < ticket.sla_paused_at


def test_it_copies_a_tried_steps_snapshot_for_guided_escalations(generated):
    guided = [t for t in generated if t.guide_id is not None]
    from_the_form = [t for t in generated if t.guide_id is None]
    assert guided and from_the_form
    for ticket in guided:
        assert ticket.tried_steps
        assert all(set(step) == STEP_KEYS for step in ticket.tried_steps)
        assert ticket.subject == ticket.guide.title
    assert all(t.tried_steps == [] for t in from_the_form)
    # Both languages, varied: not one text copied everywhere.
    assert len({t.description for t in generated}) > 20


def test_it_writes_each_ticket_its_thread(generated):
    events = Counter(TicketEvent.objects.values_list("ticket_id", flat=True))
    assert all(2 <= events[t.pk] <= 4 for t in generated)
    for ticket in generated:
        thread = list(ticket.events.order_by("created_at", "pk"))
        assert thread[0].kind == TicketEvent.Kind.CUSTOMER_MESSAGE
        assert thread[0].body == ticket.description
        if ticket.first_responded_at is not None:
            reply = next(e for e in thread if e.kind == TicketEvent.Kind.AGENT_REPLY)
            assert reply.created_at == ticket.first_responded_at
        if ticket.status == "closed":
            assert thread[-1].change == {"from": "solved", "to": "closed"}
        assert thread[-1].created_at <= ticket.updated_at


def test_it_assigns_only_to_members_who_speak_the_language(generated):
    assigned = [t for t in generated if t.assignee is not None]
    assert assigned
    for ticket in assigned:
        assert ticket.queue.members.filter(pk=ticket.assignee_id).exists()
        assert ticket.language in ticket.assignee.languages
    unassigned_open = [
        t for t in generated if t.assignee is None and t.status in OPEN_TICKET_STATUSES
    ]
    assert all(t.status in ("new", "open") for t in unassigned_open)


def _open_counts_match() -> None:
    agents = AgentProfile.objects.annotate(
        counted=Count("tickets", filter=Q(tickets__status__in=OPEN_TICKET_STATUSES))
    )
    assert agents.exists()
    for agent in agents:
        assert agent.open_tickets == agent.counted
        assert agent.open_tickets <= agent.capacity


def test_it_leaves_each_agents_open_tickets_counter_exact(generated):
    _open_counts_match()


def test_it_adds_to_what_is_there_when_run_again(db):
    generate(40, seed=3)
    agents = AgentProfile.objects.count()

    generate(40, seed=3)  # the same seed: the same draws, yet new references and attempts

    assert Ticket.objects.count() == 80
    assert Ticket.objects.values("reference").distinct().count() == 80
    assert Attempt.objects.values("token_hash").distinct().count() == 80
    assert AgentProfile.objects.count() == agents
    _open_counts_match()
