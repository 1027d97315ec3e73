"""The working-time calendar (tickets.business_hours): pure arithmetic on fixed instants across
weekends, holidays, time zones and the two DST changes of a year."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from tickets.business_hours import (
    NoWorkingTime,
    WorkCalendar,
    working_instant_next,
    working_time_add,
    working_time_between,
)

RIYADH = ZoneInfo("Asia/Riyadh")
LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
NINE, FIVE = time(9), time(17)


def week(zone: str, days: range | tuple[int, ...], *, holidays=()) -> WorkCalendar:
    return WorkCalendar.build(
        time_zone=zone, intervals=[(day, NINE, FIVE) for day in days], holidays=holidays
    )


# Sunday–Thursday, Friday and Saturday the weekend (Monday = 0, so Sunday = 6).
RIYADH_WEEK = (6, 0, 1, 2, 3)


def at(zone: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=zone)


def test_it_adds_across_the_friday_saturday_weekend():
    calendar = week("Asia/Riyadh", RIYADH_WEEK)
    thursday_4pm = at(RIYADH, 2026, 1, 8, 16, 0)

    due = working_time_add(calendar, thursday_4pm, timedelta(hours=2))

    # One hour on Thursday, the second on Sunday morning.
    assert due == at(RIYADH, 2026, 1, 11, 10, 0)
    assert due.astimezone(RIYADH).strftime("%A") == "Sunday"
    assert working_time_between(calendar, thursday_4pm, due) == timedelta(hours=2)


def test_a_start_outside_hours_counts_from_the_next_opening():
    calendar = week("Asia/Riyadh", RIYADH_WEEK)
    friday_noon = at(RIYADH, 2026, 1, 9, 12, 0)

    assert working_instant_next(calendar, friday_noon) == at(RIYADH, 2026, 1, 11, 9, 0)
    assert working_time_add(calendar, friday_noon, timedelta(minutes=30)) == at(
        RIYADH, 2026, 1, 11, 9, 30
    )
    assert working_time_between(calendar, friday_noon, at(RIYADH, 2026, 1, 11, 9, 0)) == (
        timedelta(0)
    )


def test_it_skips_a_holiday():
    calendar = week("Asia/Riyadh", RIYADH_WEEK, holidays=[date(2026, 1, 11)])  # a Sunday
    thursday_4pm = at(RIYADH, 2026, 1, 8, 16, 0)

    due = working_time_add(calendar, thursday_4pm, timedelta(hours=2))

    assert due == at(RIYADH, 2026, 1, 12, 10, 0)  # Monday
    assert working_time_between(calendar, thursday_4pm, due) == timedelta(hours=2)
    assert working_instant_next(calendar, at(RIYADH, 2026, 1, 11, 10, 0)) == at(
        RIYADH, 2026, 1, 12, 9, 0
    )


def test_hours_are_local_to_the_schedules_time_zone():
    riyadh = week("Asia/Riyadh", RIYADH_WEEK)
    london = week("Europe/London", range(5))
    # Monday 07:00 UTC: 10:00 in Riyadh (open), 07:00 in London (not yet).
    moment = datetime(2026, 1, 12, 7, 0, tzinfo=UTC)

    assert working_instant_next(riyadh, moment) == moment
    assert working_instant_next(london, moment) == datetime(2026, 1, 12, 9, 0, tzinfo=UTC)
    assert working_time_add(riyadh, moment, timedelta(hours=8)) == at(RIYADH, 2026, 1, 13, 10, 0)


def test_a_working_day_is_eight_hours_on_both_dst_days_in_london():
    calendar = week("Europe/London", range(7))
    spring = date(2026, 3, 29)  # clocks go forward at 01:00
    autumn = date(2026, 10, 25)  # clocks go back at 02:00

    for day in (spring, autumn):
        opens = datetime.combine(day, time(0), tzinfo=LONDON)
        closes = opens + timedelta(days=1, hours=2)
        assert working_time_between(calendar, opens, closes) == timedelta(hours=8), day

    # 09:00 BST is 08:00 UTC after the spring change, 09:00 UTC before it.
    assert working_instant_next(calendar, datetime(2026, 3, 29, 0, tzinfo=UTC)) == datetime(
        2026, 3, 29, 8, tzinfo=UTC
    )
    assert working_instant_next(calendar, datetime(2026, 3, 28, 0, tzinfo=UTC)) == datetime(
        2026, 3, 28, 9, tzinfo=UTC
    )


def test_an_interval_over_the_change_counts_the_hours_that_really_passed():
    night = WorkCalendar.build(time_zone="America/New_York", intervals=[(6, time(0), time(4))])
    spring = datetime(2026, 3, 8, 0, tzinfo=NEW_YORK)  # 02:00–03:00 does not happen
    autumn = datetime(2026, 11, 1, 0, tzinfo=NEW_YORK)  # 01:00–02:00 happens twice

    assert working_time_between(night, spring, spring + timedelta(hours=6)) == timedelta(hours=3)
    # The end (04:00) is the one 04:00; the start, midnight, is before the repeated hour.
    assert working_time_between(night, autumn, autumn + timedelta(hours=6)) == timedelta(hours=5)


def test_an_interval_that_starts_in_the_spring_gap_starts_when_the_clock_would_have_shown_it():
    calendar = WorkCalendar.build(time_zone="Europe/London", intervals=[(6, time(1, 30), time(3))])
    sunday = datetime(2026, 3, 29, 0, tzinfo=UTC)

    # 01:30 GMT never shows; it is 02:30 BST (01:30 UTC), and until 03:00 is half an hour.
    assert working_instant_next(calendar, sunday) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert working_time_between(calendar, sunday, sunday + timedelta(hours=6)) == timedelta(
        minutes=30
    )


def test_adding_zero_at_a_closing_time_gives_the_next_opening():
    calendar = week("Europe/London", range(5))
    friday_close = at(LONDON, 2026, 1, 9, 17, 0)

    assert working_time_add(calendar, friday_close, timedelta(0)) == at(LONDON, 2026, 1, 12, 9, 0)
    assert working_time_add(calendar, friday_close - timedelta(hours=1), timedelta(hours=1)) == (
        friday_close
    )


def test_several_intervals_a_day_and_overlaps_merged():
    calendar = WorkCalendar.build(
        time_zone="UTC",
        intervals=[(0, time(9), time(12)), (0, time(13), time(17)), (0, time(11), time(12))],
    )
    monday = datetime(2026, 1, 12, tzinfo=UTC)

    assert working_time_between(calendar, monday, monday + timedelta(days=1)) == timedelta(hours=7)
    assert working_time_add(calendar, monday, timedelta(hours=4)) == monday + timedelta(hours=14)


def test_a_long_target_walks_weeks_and_stays_exact():
    calendar = week("Europe/London", range(5))
    start = at(LONDON, 2026, 1, 5, 9, 0)  # a Monday

    # 30 days of 8 h = six working weeks, through the March clock change.
    due = working_time_add(calendar, start, timedelta(hours=8 * 30))

    assert due == at(LONDON, 2026, 2, 13, 17, 0)
    assert working_time_between(calendar, start, due) == timedelta(hours=240)


def test_a_calendar_with_no_working_time_is_an_error_not_a_hang():
    calendar = week("UTC", range(0))

    with pytest.raises(NoWorkingTime):
        working_time_add(calendar, datetime(2026, 1, 1, tzinfo=UTC), timedelta(minutes=1))


def test_a_naive_datetime_is_refused():
    with pytest.raises(ValueError):
        working_instant_next(week("UTC", range(5)), datetime(2026, 1, 1))  # noqa: DTZ001


def test_without_a_calendar_it_is_around_the_clock():
    start = datetime(2026, 1, 10, 3, tzinfo=UTC)  # a Saturday night

    assert working_time_add(None, start, timedelta(hours=2)) == start + timedelta(hours=2)
    assert working_time_between(None, start, start + timedelta(hours=5)) == timedelta(hours=5)
    assert working_instant_next(None, start) == start
