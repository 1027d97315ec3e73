"""The worker's cost per ticket, in SQL statements: one escalation (the delivery counted, the
ticket routed by a rule, its SLA clocks set, an agent assigned automatically) takes the same
number of statements however many rules, agents and tickets the desk has.

The test runs in autocommit mode (transaction=True), as the worker does. Transaction control
(BEGIN, COMMIT) is left out of the count: Django records it on SQLite and not on PostgreSQL, and
the path opens the same transactions on both. Every SAVEPOINT the path takes is counted: it is
a round trip in production too.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from guides import services as guide_services
from tests.factories import GuideFactory, TagFactory, TicketFactory, agent_in
from tickets import tasks
from tickets.models import Priority, Queue, RoutingRule, SLAPolicy, Ticket

# Pinned: lower them when the path gets cheaper, never raise them without saying why in
# docs/performance.md ("The escalation worker, per ticket").
STATEMENTS_PER_TICKET = 12
WRITES_PER_TICKET = 6

WRITE_VERBS = ("INSERT", "UPDATE", "DELETE")
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK")


def _desk(size: int):
    """A desk with `size` routing rules that do not match ahead of the one that does, `size`
    agents in the ticket's queue and `size` tickets already open; returns the escalated
    attempt to turn into a ticket."""
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
    guide = GuideFactory(language="en", tags=["payment", "card"])
    attempt, _ = guide_services.attempt_start(guide=guide)
    return guide_services.attempt_contact_submit(
        attempt=attempt, description="My card is refused", name="Sam", email="sam@example.com"
    )


def _statements_of_one_escalation(size: int) -> list[str]:
    attempt = _desk(size)
    with CaptureQueriesContext(connection) as captured:
        reference = tasks.escalate_attempt(attempt.pk)
    ticket = Ticket.objects.get(attempt=attempt)
    assert reference == ticket.reference
    assert ticket.routing_rule is not None and ticket.routing_rule.name == "Cards to billing"
    assert ticket.first_response_due_at is not None
    assert ticket.assignee is not None
    return [
        query["sql"]
        for query in captured.captured_queries
        if not query["sql"].lstrip().upper().startswith(TRANSACTION_CONTROL)
    ]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("size", [2, 40])
def test_it_turns_an_escalation_into_an_assigned_ticket_in_a_fixed_number_of_statements(size):
    statements = _statements_of_one_escalation(size)

    writes = [sql for sql in statements if sql.lstrip().upper().startswith(WRITE_VERBS)]
    assert (len(statements), len(writes)) == (STATEMENTS_PER_TICKET, WRITES_PER_TICKET), "\n".join(
        statements
    )
