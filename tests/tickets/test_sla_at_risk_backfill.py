"""The migration that works out the at-risk instants of the open tickets made before they were
stored: by the rule the per-ticket check applied, so the sweep marks the same tickets."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta

import pytest
from django.apps import apps

from tests.factories import TicketFactory
from tickets.models import Ticket
from tickets.services import tickets_sla_check

backfill = importlib.import_module("tickets.migrations.0022_sla_at_risk_backfill")

CREATED = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def old_ticket(**fields) -> Ticket:
    """A ticket as 0021 found it: due times, no stored at-risk instants."""
    fields = {
        "created_at": CREATED,
        "first_response_due_at": CREATED + timedelta(hours=1),
        "resolution_due_at": CREATED + timedelta(hours=8),
        **fields,
    }
    ticket = TicketFactory(**fields)
    Ticket.objects.filter(pk=ticket.pk).update(
        first_response_at_risk_from=None, resolution_at_risk_from=None
    )
    return ticket


@pytest.mark.django_db
def test_open_tickets_get_three_quarters_of_their_targets_and_closed_ones_are_left():
    open_ticket = old_ticket()
    no_first_response = old_ticket(status=Ticket.Status.PENDING, first_response_due_at=None)
    closed = old_ticket(status=Ticket.Status.CLOSED)
    backwards = old_ticket(resolution_due_at=CREATED - timedelta(minutes=1))

    backfill.at_risk_instants_backfill(apps, None)

    open_ticket.refresh_from_db()
    assert open_ticket.first_response_at_risk_from == CREATED + timedelta(minutes=45)
    assert open_ticket.resolution_at_risk_from == CREATED + timedelta(hours=6)
    no_first_response.refresh_from_db()
    assert no_first_response.first_response_at_risk_from is None
    assert no_first_response.resolution_at_risk_from == CREATED + timedelta(hours=6)
    closed.refresh_from_db()
    assert (closed.first_response_at_risk_from, closed.resolution_at_risk_from) == (None, None)
    backwards.refresh_from_db()
    assert backwards.first_response_at_risk_from == CREATED + timedelta(minutes=45)
    assert backwards.resolution_at_risk_from is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("minutes_after", "at_risk"), [(44, False), (45, True)], ids=["before", "at the share"]
)
def test_the_sweep_marks_a_backfilled_ticket_when_the_old_rule_did(minutes_after, at_risk):
    ticket = old_ticket()
    now = CREATED + timedelta(minutes=minutes_after)
    assert ticket.sla_at_risk(now) is at_risk  # the rule reckoned ticket by ticket

    backfill.at_risk_instants_backfill(apps, None)
    tickets_sla_check(now=now)

    ticket.refresh_from_db()
    assert (ticket.sla_at_risk_at is not None) is at_risk
