"""Working time: the calendar of a queue's business schedule, as plain arithmetic on instants.

Pure (no database): tickets.models.BusinessSchedule turns its rows into a ``WorkCalendar`` and
the SLA services ask it three things: the instant N working minutes after another
(``working_time_add``), the working time between two instants (``working_time_between``) and
the next instant that is working time (``working_instant_next``).

Hours are local wall-clock hours in the schedule's time zone: 09:00–17:00 is eight hours on
the day the clocks change too, since nobody's shift moves. An interval that touches the change
itself is read the way ``zoneinfo`` reads the wall clock (PEP 495, fold=0):
- a time skipped by the spring change (01:30 in London on the last Sunday of March) is the
  instant that time would have been without the jump, i.e. 02:30 summer time: 01:00–03:00 that
  night is one working hour, the hour that really passed;
- a time that happens twice in the autumn (01:30 on the last Sunday of October) is its first
  occurrence: 00:00–02:00 that night is three working hours, the hours that really passed.
An interval never crosses midnight (the model refuses end ≤ start): a night shift is two
intervals, one on each day.

Every loop walks whole local days and stops after ``SEARCH_DAYS``; a schedule with no working
hours at all is refused by validation, and the search limit turns a schedule whose holidays
cover years into a clear error instead of a hang.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# How far ahead the calendar looks for working time before giving up (ten years).
SEARCH_DAYS = 3660


class NoWorkingTime(ValueError):
    """The schedule has no working time within SEARCH_DAYS of the instant asked about."""


@dataclass(frozen=True)
class WorkCalendar:
    """A time zone, working intervals per weekday (Monday = 0, as ``date.weekday()``) in local
    wall-clock time, and the holidays (local dates with no working time)."""

    time_zone: ZoneInfo
    hours: dict[int, tuple[tuple[time, time], ...]] = field(default_factory=dict)
    holidays: frozenset[date] = frozenset()

    @classmethod
    def build(
        cls,
        *,
        time_zone: str,
        intervals: Iterable[tuple[int, time, time]],
        holidays: Iterable[date] = (),
    ) -> WorkCalendar:
        """From (weekday, start, end) rows; overlapping intervals of a day are merged."""
        by_day: dict[int, list[tuple[time, time]]] = {}
        for weekday, start, end in intervals:
            if end > start:
                by_day.setdefault(weekday, []).append((start, end))
        hours: dict[int, tuple[tuple[time, time], ...]] = {}
        for weekday, spans in by_day.items():
            merged: list[tuple[time, time]] = []
            for start, end in sorted(spans):
                if merged and start <= merged[-1][1]:
                    merged[-1] = (merged[-1][0], max(merged[-1][1], end))
                else:
                    merged.append((start, end))
            hours[weekday] = tuple(merged)
        return cls(ZoneInfo(time_zone), hours, frozenset(holidays))

    def periods(self, day: date) -> list[tuple[datetime, datetime]]:
        """The working periods of a local date as UTC instants, in order."""
        if day in self.holidays:
            return []
        periods = []
        for start, end in self.hours.get(day.weekday(), ()):
            opens = datetime.combine(day, start, tzinfo=self.time_zone).astimezone(UTC)
            closes = datetime.combine(day, end, tzinfo=self.time_zone).astimezone(UTC)
            if closes > opens:
                periods.append((opens, closes))
        return periods

    def _periods_from(self, moment: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The working periods that end after ``moment``, clipped to start no earlier."""
        moment = _aware(moment).astimezone(UTC)
        # The day before too: its local evening may still be "now" in UTC terms.
        day = moment.astimezone(self.time_zone).date() - timedelta(days=1)
        for _offset in range(SEARCH_DAYS):
            for opens, closes in self.periods(day):
                if closes > moment:
                    yield max(opens, moment), closes
            day += timedelta(days=1)
        raise NoWorkingTime(f"no working time within {SEARCH_DAYS} days of {moment:%Y-%m-%d}")


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("a naive datetime has no place on a calendar")
    return moment


def working_time_add(calendar: WorkCalendar | None, start: datetime, amount: timedelta) -> datetime:
    """The instant when ``amount`` of working time has passed since ``start``. A start outside
    working hours counts from the next opening, so zero minutes gives the next working instant.
    No calendar: around the clock."""
    if calendar is None:
        return start + amount
    left = amount
    for opens, closes in calendar._periods_from(start):
        if closes - opens >= left:
            return opens + left
        left -= closes - opens
    raise AssertionError("unreachable: _periods_from raises when it runs out")  # pragma: no cover


def working_time_between(
    calendar: WorkCalendar | None, start: datetime, end: datetime
) -> timedelta:
    """The working time from ``start`` to ``end`` (zero when end is not after start)."""
    if end <= start:
        return timedelta(0)
    if calendar is None:
        return end - start
    total = timedelta(0)
    for opens, closes in calendar._periods_from(start):
        if opens >= end:
            break
        total += min(closes, end) - opens
    return total


def working_instant_next(calendar: WorkCalendar | None, moment: datetime) -> datetime:
    """``moment`` itself during working hours, otherwise the next opening."""
    if calendar is None:
        return moment
    for opens, _closes in calendar._periods_from(moment):
        return opens
    raise AssertionError("unreachable")  # pragma: no cover
