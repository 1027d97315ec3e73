"""The supervisor edits business schedules in the admin: hours and holidays inline, and the
mistakes that would break SLA clocks refused with a message on the form."""

from __future__ import annotations

from datetime import date, time

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from tests.factories import QueueFactory
from tickets.models import BusinessSchedule, Holiday, WorkingHours

ADD = reverse("admin:tickets_businessschedule_add")


def form(*, hours=(), holidays=(), time_zone="Asia/Riyadh", name="Riyadh office") -> dict:
    data = {
        "name": name,
        "time_zone": time_zone,
        "working_hours-TOTAL_FORMS": str(len(hours)),
        "working_hours-INITIAL_FORMS": "0",
        "holidays-TOTAL_FORMS": str(len(holidays)),
        "holidays-INITIAL_FORMS": "0",
    }
    for index, (weekday, starts, ends) in enumerate(hours):
        data |= {
            f"working_hours-{index}-weekday": str(weekday),
            f"working_hours-{index}-starts_at": starts,
            f"working_hours-{index}-ends_at": ends,
        }
    for index, (day, name_of_day) in enumerate(holidays):
        data |= {f"holidays-{index}-date": day, f"holidays-{index}-name": name_of_day}
    return data


@pytest.fixture
def supervisor(client, sue):
    client.force_login(sue)
    return client


def test_the_supervisor_makes_a_sunday_to_thursday_schedule_with_a_holiday(supervisor):
    hours = [(weekday, "09:00", "17:00") for weekday in (6, 0, 1, 2, 3)]

    response = supervisor.post(ADD, form(hours=hours, holidays=[("2026-09-23", "National Day")]))

    assert response.status_code == 302, response.content.decode()[:2000]
    schedule = BusinessSchedule.objects.get()
    assert schedule.time_zone == "Asia/Riyadh"
    assert sorted(schedule.working_hours.values_list("weekday", flat=True)) == [0, 1, 2, 3, 6]
    assert Holiday.objects.get().name == "National Day"
    # Queues pick it on their own page.
    queue = QueueFactory(slug="arabic")
    queue.schedule = schedule
    queue.save(update_fields=["schedule"])
    assert list(schedule.queues.all()) == [queue]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (form(hours=[]), "Give the schedule at least one period of working hours."),
        (form(hours=[(0, "17:00", "09:00")]), "The end must be after the start."),
        (
            form(hours=[(0, "09:00", "13:00"), (0, "12:00", "17:00")]),
            "Two periods of Monday overlap; make them one.",
        ),
        (form(hours=[(0, "09:00", "17:00")], time_zone="Mars/Olympus"), "Select a valid choice."),
        (
            form(hours=[(0, "09:00", "17:00")], holidays=[("2026-09-23", ""), ("2026-09-23", "")]),
            "Please correct the duplicate data for date",
        ),
    ],
    ids=["no-hours", "end-before-start", "overlap", "unknown-zone", "same-holiday-twice"],
)
def test_a_broken_schedule_is_refused_with_a_message(supervisor, data, message):
    response = supervisor.post(ADD, data)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert not BusinessSchedule.objects.exists()


@pytest.mark.parametrize(
    "row",
    [
        {"weekday": 0, "starts_at": time(17), "ends_at": time(9)},
        {"weekday": 0, "starts_at": time(9), "ends_at": time(9)},
        {"weekday": 7, "starts_at": time(9), "ends_at": time(17)},
    ],
    ids=["end-before-start", "empty", "eighth-day"],
)
def test_the_database_refuses_what_the_form_refuses(db, row):
    schedule = BusinessSchedule.objects.create(name="Office", time_zone="UTC")

    with pytest.raises(IntegrityError), transaction.atomic():
        WorkingHours.objects.create(schedule=schedule, **row)


def test_the_database_refuses_the_same_holiday_twice(db):
    schedule = BusinessSchedule.objects.create(name="Office", time_zone="UTC")
    Holiday.objects.create(schedule=schedule, date=date(2026, 9, 23))

    with pytest.raises(IntegrityError), transaction.atomic():
        Holiday.objects.create(schedule=schedule, date=date(2026, 9, 23), name="again")
