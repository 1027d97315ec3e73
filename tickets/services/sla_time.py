"""Working-time arithmetic as the SLA services use it: the calendar's, with a schedule that
leaves no working time for years counted around the clock instead of failing the action. One
module for tickets.services.sla (new tickets) and tickets.services.workflow (leaving pending),
which sla imports, so neither holds its own copy."""

from __future__ import annotations

from datetime import datetime, timedelta

from tickets.business_hours import (
    NoWorkingTime,
    WorkCalendar,
    working_time_add,
    working_time_between,
)
from tickets.models import SLA_AT_RISK_SHARE


def sla_time_add(calendar: WorkCalendar | None, start: datetime, amount: timedelta) -> datetime:
    """``amount`` of working time after ``start``. A schedule whose holidays leave no working
    time for years counts around the clock instead of failing an escalation."""
    try:
        return working_time_add(calendar, start, amount)
    except NoWorkingTime:
        return start + amount


def sla_time_between(calendar: WorkCalendar | None, start: datetime, end: datetime) -> timedelta:
    try:
        return working_time_between(calendar, start, end)
    except NoWorkingTime:
        return max(end - start, timedelta(0))


def sla_at_risk_from(calendar: WorkCalendar | None, start: datetime, due: datetime) -> datetime:
    """When SLA_AT_RISK_SHARE of the (working) time from ``start`` to ``due`` has passed. Around
    the clock this is the instant Ticket.sla_target_at_risk starts to answer yes."""
    if calendar is None:
        return start + (due - start) * SLA_AT_RISK_SHARE
    return sla_time_add(calendar, start, sla_time_between(calendar, start, due) * SLA_AT_RISK_SHARE)
