"""The worker's cost in SQL statements: a run of the escalation task over one escalation (its
try counted, the ticket routed by a rule, its SLA clocks set, an agent assigned automatically)
takes the same number of statements however many rules, agents and tickets the desk has; a run
over a burst of escalations takes the same again, plus one capacity UPDATE per further agent.

The test runs in autocommit mode (transaction=True), as the worker does. Transaction control
(BEGIN, COMMIT) is left out of the count: Django records it on SQLite and not on PostgreSQL, and
the path opens the same transactions on both. Every SAVEPOINT the path takes is counted: it is
a round trip in production too.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from guides import services as guide_services
from tests.factories import GuideFactory, TagFactory, TicketFactory, agent_in
from tickets import tasks
from tickets.models import Priority, Queue, RoutingRule, RoutingVersion, SLAPolicy, Ticket

# Pinned: lower them when the path gets cheaper, never raise them without saying why in
# docs/performance.md ("The escalation worker, per ticket"). The first run after a change of
# the routing rules, queues, SLA policies or tags reads them again: three more reads.
#   claim: the escalations awaiting a ticket (SELECT), the first tries' count (UPDATE); the
#   batch: its locked read, tried steps, guide tags, the queue's agents, one capacity UPDATE
#   per agent, INSERT tickets, INSERT events, UPDATE the files sent with the requests
#   (tickets.services.attachments), UPDATE attempts; then nothing left (SELECT), and
#   once more after the wake-up key is deleted (tickets.tasks.escalate_attempt).
STATEMENTS_PER_RUN = 13
STATEMENTS_AFTER_A_ROUTING_CHANGE = STATEMENTS_PER_RUN + 3
WRITES_PER_RUN = 6

WRITE_VERBS = ("INSERT", "UPDATE", "DELETE")
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK")


def _desk(size: int) -> None:
    """A desk with `size` routing rules that do not match ahead of the one that does, `size`
    agents in the ticket's queue and `size` tickets already open."""
    billing = Queue.objects.create(name="Billing", slug="billing", auto_assign=True)
    other = Queue.objects.create(name="Other", slug="other")
    for queue in (billing, other):
        SLAPolicy.objects.create(
            queue=queue, priority=Priority.HIGH, first_response_minutes=30, resolution_minutes=240
        )
    elsewhere = TagFactory(slug="elsewhere")
    for position in range(size):
        RoutingRule.objects.create(
            position=position, name=f"Not this one {position}", queue=other, tag=elsewhere,
            keywords="refund, invoice",
        )  # fmt: skip
    RoutingRule.objects.create(
        position=size + 1, name="Cards to billing", queue=billing, priority=Priority.HIGH,
        keywords="card",
    )  # fmt: skip
    for number in range(size):
        agent_in(billing, username=f"agent{number}", languages=["en"])
    for _number in range(size):
        TicketFactory(queue=billing)


def _escalated_attempt():
    guide = GuideFactory(language="en", tags=["payment", "card"])
    attempt, _ = guide_services.attempt_start(guide=guide)
    return guide_services.attempt_contact_submit(
        attempt=attempt, description="My card is refused", name="Sam", email="sam@example.com"
    )


def _escalate(attempts) -> tuple[list[Ticket], list[str]]:
    """Run the escalation task's body once, woken by the first attempt; the attempts' tickets
    and the statements it took."""
    with CaptureQueriesContext(connection) as captured:
        made = tasks.escalate_attempt(attempts[0].pk)
    assert made == len(attempts)
    tickets = [
        Ticket.objects.select_related("routing_rule").get(attempt=attempt) for attempt in attempts
    ]
    return tickets, [
        query["sql"]
        for query in captured.captured_queries
        if not query["sql"].lstrip().upper().startswith(TRANSACTION_CONTROL)
    ]


def _writes(statements: list[str]) -> list[str]:
    return [sql for sql in statements if sql.lstrip().upper().startswith(WRITE_VERBS)]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("size", [2, 40])
def test_it_turns_an_escalation_into_an_assigned_ticket_in_a_fixed_number_of_statements(size):
    _desk(size)

    (first,), after_change = _escalate([_escalated_attempt()])
    (second,), statements = _escalate([_escalated_attempt()])

    for ticket in (first, second):
        assert ticket.routing_rule.name == "Cards to billing"
        assert ticket.first_response_due_at is not None
        assert ticket.assignee is not None
    assert len(after_change) == STATEMENTS_AFTER_A_ROUTING_CHANGE, "\n".join(after_change)
    assert len(statements) == STATEMENTS_PER_RUN, "\n".join(statements)
    assert len(_writes(statements)) == len(_writes(after_change)) == WRITES_PER_RUN


@pytest.mark.django_db(transaction=True)
def test_a_burst_takes_the_statements_of_one_escalation_plus_one_per_further_agent():
    _desk(40)
    _escalate([_escalated_attempt()])  # the routing table, read once
    burst = [_escalated_attempt() for _ in range(12)]

    tickets, statements = _escalate(burst)

    assert [ticket.attempt_id for ticket in tickets] == [attempt.pk for attempt in burst]
    assert all(ticket.routing_rule.name == "Cards to billing" for ticket in tickets)
    agents = {ticket.assignee_id for ticket in tickets}
    assert len(agents) == 12  # 40 agents with as many open tickets: one each, in turn
    assert len(statements) == STATEMENTS_PER_RUN + len(agents) - 1, "\n".join(statements)


@pytest.mark.django_db(transaction=True)
def test_a_rule_changed_between_two_escalations_routes_the_second():
    _desk(2)
    _escalate([_escalated_attempt()])
    RoutingRule.objects.filter(name="Cards to billing").update(priority=Priority.URGENT)
    SLAPolicy.objects.create(
        queue=Queue.objects.get(slug="billing"), priority=Priority.URGENT,
        first_response_minutes=5, resolution_minutes=60,
    )  # fmt: skip
    RoutingRule.objects.filter(name="Cards to billing").first().save()  # as the admin saves

    (ticket,), _statements = _escalate([_escalated_attempt()])

    assert ticket.priority == Priority.URGENT
    assert ticket.first_response_due_at - ticket.created_at == timedelta(minutes=5)


@pytest.mark.django_db(transaction=True)
def test_a_change_made_by_another_process_is_seen_through_the_version_token():
    # Another process's change: rows updated without this process's signals, and the token
    # it wrote in the same transaction. This process's cached table must not be used.
    _desk(2)
    _escalate([_escalated_attempt()])
    with transaction.atomic():
        RoutingRule.objects.filter(name="Cards to billing").update(is_active=False)
        RoutingVersion.objects.filter(pk=1).update(token=F("token") + 1)

    (ticket,), _statements = _escalate([_escalated_attempt()])

    assert ticket.routing_rule is None  # the fallback queue: the rule is off
