"""The working calendars of the business schedules, as the pages read them.

The SLA services take theirs from the routing table (tickets.services.routing), which is
labelled with the routing token and never stale. The pages that show countdowns (the work
page, the ticket list, the API) would pay that token with one more query per page; they read
calendars from this per-process cache instead: a change made in this process clears it at once
(the routing receivers), one made in another process is seen within CALENDAR_CACHE_SECONDS.
A countdown a minute out of date after someone edits a schedule is harmless; a due time is
never computed from here.
"""

from __future__ import annotations

import time

from tickets.business_hours import WorkCalendar
from tickets.models import BusinessSchedule, Queue

CALENDAR_CACHE_SECONDS = 60

# schedule id -> (monotonic time loaded, calendar)
_calendars: dict[int, tuple[float, WorkCalendar | None]] = {}


def schedule_calendar_read(schedule_id: int | None) -> WorkCalendar | None:
    """The calendar of a schedule as it is now (None: around the clock); three queries, none
    without a schedule. For the services that move a due time."""
    if schedule_id is None:
        return None
    schedule = (
        BusinessSchedule.objects.prefetch_related("working_hours", "holidays")
        .filter(pk=schedule_id)
        .first()
    )
    return schedule.calendar() if schedule is not None else None


def schedule_calendar(schedule_id: int | None) -> WorkCalendar | None:
    """The calendar of a schedule, from this process's cache; for the pages."""
    if schedule_id is None:
        return None
    cached = _calendars.get(schedule_id)
    if cached is not None and time.monotonic() - cached[0] < CALENDAR_CACHE_SECONDS:
        return cached[1]
    calendar = schedule_calendar_read(schedule_id)
    _calendars[schedule_id] = (time.monotonic(), calendar)
    return calendar


def queue_calendar(queue: Queue) -> WorkCalendar | None:
    return schedule_calendar(queue.schedule_id)


def calendars_forget() -> None:
    """Drop this process's calendars (a schedule changed here)."""
    _calendars.clear()
