"""SLA clocks on a queue with a business schedule: the Riyadh desk works Sunday–Thursday
09:00–17:00 (Friday and Saturday the weekend), through the real escalation path, the pending
pause, the SLA check, the pages and the API, at fixed instants."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from tests.factories import agent_in, staff_user
from tests.helpers import client_for, ticket_escalated
from tickets import presentation, roles, services
from tickets.models import (
    BusinessSchedule,
    Holiday,
    Priority,
    Queue,
    RoutingRule,
    RoutingVersion,
    SLAPolicy,
    Ticket,
    WorkingHours,
)
from tickets.services.routing import _routing_table_load

RIYADH = ZoneInfo("Asia/Riyadh")
SUNDAY_TO_THURSDAY = (6, 0, 1, 2, 3)


def riyadh(day: int, hour: int, minute: int = 0) -> datetime:
    """An instant of the week of 2026-01-04 (Sunday the 4th) in Riyadh."""
    return datetime(2026, 1, day, hour, minute, tzinfo=RIYADH)


class Clock:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = riyadh(8, 16)
        # The clock is the outside world: the services read it through timezone.now().
        monkeypatch.setattr(timezone, "now", lambda: self.now)


@pytest.fixture
def clock(monkeypatch) -> Clock:
    return Clock(monkeypatch)


@pytest.fixture
def schedule(db) -> BusinessSchedule:
    schedule = BusinessSchedule.objects.create(name="Riyadh office", time_zone="Asia/Riyadh")
    for weekday in SUNDAY_TO_THURSDAY:
        WorkingHours.objects.create(
            schedule=schedule, weekday=weekday, starts_at=time(9), ends_at=time(17)
        )
    return schedule


@pytest.fixture
def desk(schedule) -> Queue:
    """Everything routes to the Arabic desk: first response in 2 h, resolution in 4 h."""
    queue = Queue.objects.create(name="Arabic desk", slug="arabic-desk", schedule=schedule)
    SLAPolicy.objects.create(
        queue=queue, priority=Priority.NORMAL, first_response_minutes=120, resolution_minutes=240
    )
    RoutingRule.objects.create(position=1, name="Everything", queue=queue)
    return queue


# --- due times at escalation ---------------------------------------------------------------------


def test_it_counts_only_working_time_over_the_weekend(clock, desk):
    clock.now = riyadh(8, 16)  # Thursday 16:00: one working hour left this week

    ticket = ticket_escalated(language="ar")

    assert ticket.created_at == clock.now
    assert ticket.first_response_due_at == riyadh(11, 10)  # Sunday 10:00
    assert ticket.resolution_due_at == riyadh(11, 12)  # Sunday 12:00
    # At risk after 75 % of the working time: 90 and 180 minutes.
    assert ticket.first_response_at_risk_from == riyadh(11, 9, 30)
    assert ticket.resolution_at_risk_from == riyadh(11, 11)


def test_a_ticket_made_on_the_weekend_starts_its_clock_at_the_next_opening(clock, desk):
    clock.now = riyadh(9, 12)  # Friday noon

    ticket = ticket_escalated(language="ar")

    assert ticket.first_response_due_at == riyadh(11, 11)
    assert ticket.resolution_due_at == riyadh(11, 13)


def test_a_holiday_is_not_working_time(clock, desk, schedule):
    Holiday.objects.create(schedule=schedule, date=date(2026, 1, 11), name="Founding Day")
    clock.now = riyadh(8, 16)

    ticket = ticket_escalated(language="ar")

    assert ticket.first_response_due_at == riyadh(12, 10)  # Monday, the Sunday off
    assert ticket.resolution_due_at == riyadh(12, 12)


def test_a_queue_without_a_schedule_keeps_its_clocks_around_the_clock(clock, desk):
    desk.schedule = None
    desk.save(update_fields=["schedule"])
    clock.now = riyadh(8, 16)

    ticket = ticket_escalated(language="ar")

    assert ticket.first_response_due_at == riyadh(8, 18)
    assert ticket.resolution_due_at == riyadh(8, 20)
    assert ticket.resolution_at_risk_from == riyadh(8, 19)


def test_the_routing_table_carries_the_calendars_and_a_schedule_change_is_a_new_version(
    desk, schedule
):
    table = _routing_table_load()
    assert table.calendars[desk.pk].time_zone == RIYADH
    token = RoutingVersion.objects.get().token

    Holiday.objects.create(schedule=schedule, date=date(2026, 1, 11))
    assert RoutingVersion.objects.get().token != token
    token = RoutingVersion.objects.get().token
    schedule.working_hours.filter(weekday=6).delete()
    assert RoutingVersion.objects.get().token != token
    token = RoutingVersion.objects.get().token
    schedule.time_zone = "Europe/London"
    schedule.save(update_fields=["time_zone"])
    assert RoutingVersion.objects.get().token != token

    calendar = _routing_table_load().calendars[desk.pk]
    assert calendar.holidays == {date(2026, 1, 11)}
    assert 6 not in calendar.hours
    assert calendar.time_zone.key == "Europe/London"


# --- pending over a weekend --------------------------------------------------------------------


def test_leaving_pending_leaves_the_working_time_that_was_left(clock, desk):
    clock.now = riyadh(8, 9)  # Thursday 09:00: resolution due 13:00, at risk from 12:00
    ticket = ticket_escalated(language="ar")
    assert ticket.resolution_due_at == riyadh(8, 13)

    clock.now = riyadh(8, 10)  # three working hours left, two before "at risk"
    services.ticket_transition(ticket=ticket, to_status=Ticket.Status.PENDING)
    clock.now = riyadh(10, 10)  # the customer answers on Saturday
    services.ticket_transition(ticket=ticket, to_status=Ticket.Status.OPEN)

    ticket.refresh_from_db()
    assert ticket.sla_paused_at is None
    # The clock starts again at Sunday's opening with the same three hours.
    assert ticket.resolution_due_at == riyadh(11, 12)
    assert ticket.resolution_at_risk_from == riyadh(11, 11)


def test_while_pending_the_check_neither_warns_nor_breaches_the_resolution(clock, desk):
    clock.now = riyadh(8, 9)
    ticket = ticket_escalated(language="ar")
    services.ticket_reply(ticket=ticket, actor=None, body="Please send the receipt.")
    clock.now = riyadh(8, 10)
    services.ticket_transition(ticket=ticket, to_status=Ticket.Status.PENDING)

    assert services.tickets_sla_check(now=riyadh(8, 16)) == {"at_risk": 0, "breached": 0}


# --- the SLA check -------------------------------------------------------------------------------


def test_the_check_warns_and_breaches_by_working_time(clock, desk):
    clock.now = riyadh(8, 16)
    ticket = ticket_escalated(language="ar")

    # Around the clock, Saturday noon would be long past both targets.
    assert services.tickets_sla_check(now=riyadh(10, 12)) == {"at_risk": 0, "breached": 0}
    assert services.tickets_sla_check(now=riyadh(11, 9, 29)) == {"at_risk": 0, "breached": 0}
    assert services.tickets_sla_check(now=riyadh(11, 9, 30)) == {"at_risk": 1, "breached": 0}
    assert services.tickets_sla_check(now=riyadh(11, 9, 45)) == {"at_risk": 0, "breached": 0}
    assert services.tickets_sla_check(now=riyadh(11, 10)) == {"at_risk": 0, "breached": 1}

    ticket.refresh_from_db()
    assert ticket.sla_at_risk_at == riyadh(11, 9, 30)
    assert ticket.first_response_breached is True
    assert ticket.resolution_breached is False
    assert list(ticket.events.filter(kind="sla_at_risk").values_list("kind", flat=True)) == [
        "sla_at_risk"
    ]


def test_an_answered_ticket_is_at_risk_by_its_resolution_target_only(clock, desk):
    clock.now = riyadh(8, 16)
    ticket = ticket_escalated(language="ar")
    clock.now = riyadh(8, 16, 30)
    services.ticket_reply(ticket=ticket, actor=None, body="We are on it.")

    assert services.tickets_sla_check(now=riyadh(11, 10, 59)) == {"at_risk": 0, "breached": 0}
    assert services.tickets_sla_check(now=riyadh(11, 11)) == {"at_risk": 1, "breached": 0}
    assert services.tickets_sla_check(now=riyadh(11, 12)) == {"at_risk": 0, "breached": 1}


def test_a_ticket_from_before_the_at_risk_instants_is_still_reckoned(clock, desk):
    clock.now = riyadh(8, 16)
    ticket = ticket_escalated(language="ar")
    # As a row written before the columns existed (or by the bulk generator) looks.
    Ticket.objects.filter(pk=ticket.pk).update(
        first_response_at_risk_from=None, resolution_at_risk_from=None
    )

    # The around-the-clock rule on its stored due times: 75 % of the 66 hours from Thursday
    # 16:00 to Sunday 10:00 is Saturday 17:30.
    assert services.tickets_sla_check(now=riyadh(10, 17, 29)) == {"at_risk": 0, "breached": 0}
    assert services.tickets_sla_check(now=riyadh(10, 17, 30)) == {"at_risk": 1, "breached": 0}


# --- what people read ----------------------------------------------------------------------------


def test_the_clocks_read_where_the_queue_works_in_both_languages(clock, desk):
    clock.now = riyadh(8, 16)
    ticket = ticket_escalated(language="ar")
    friday = riyadh(9, 12)

    with translation.override("en"):
        first, resolution = presentation.sla_clocks(ticket, now=friday)
    assert (first.due_text, first.time_zone) == ("Sunday 10:00", "Asia/Riyadh")
    # On Friday one working hour is left of the first response, three of the resolution.
    assert first.text == "1h 00m of working time left"
    assert resolution.text == "3h 00m of working time left"
    assert first.state == "ok"  # half its working time gone, not three quarters
    with translation.override("ar"):
        arabic, _resolution = presentation.sla_clocks(ticket, now=friday)
    assert arabic.due_text == "الأحد 10:00"
    assert presentation.sla_minutes_left(ticket, now=friday) == (60, 180)


@pytest.fixture
def layla(desk):
    """Agent of the Arabic desk."""
    return agent_in(desk, username="layla", languages=["ar"])


def test_the_work_page_and_the_list_show_the_due_time_where_the_queue_works(
    client, clock, desk, layla
):
    clock.now = riyadh(8, 16)
    ticket = ticket_escalated(language="ar")
    assert ticket.assignee == layla
    clock.now = riyadh(9, 12)
    client.force_login(layla.user)

    page = client.get(
        reverse("admin:tickets_ticket_change", args=[ticket.pk]), HTTP_ACCEPT_LANGUAGE="en"
    ).content.decode()
    listing = client.get(reverse("admin:tickets_ticket_changelist")).content.decode()

    assert "due Sunday 10:00" in page
    assert "(Asia/Riyadh)" in page
    assert "1h 00m of working time left" in page
    assert "Sunday 10:00 Asia/Riyadh" in listing
    arabic = client.get(
        reverse("admin:tickets_ticket_change", args=[ticket.pk]), HTTP_ACCEPT_LANGUAGE="ar"
    ).content.decode()
    assert "موعده الأحد 10:00" in arabic
    assert "من وقت العمل" in arabic  # "of working time left"


def test_the_api_gives_the_time_zone_and_the_working_minutes_left(clock, desk, layla):
    clock.now = riyadh(8, 16)
    ticket = ticket_escalated(language="ar")
    clock.now = riyadh(9, 12)

    data = client_for(layla).get(f"/api/v1/tickets/{ticket.reference}/").json()
    listed = client_for(layla).get("/api/v1/tickets/").json()["results"][0]

    assert data["queue"]["time_zone"] == "Asia/Riyadh"
    assert data["first_response_due_at"] == "2026-01-11T07:00:00Z"  # Sunday 10:00 in Riyadh
    assert (data["first_response_minutes_left"], data["resolution_minutes_left"]) == (60, 180)
    assert listed["resolution_minutes_left"] == 180


def test_the_overview_counts_a_ticket_at_risk_by_working_time(client, clock, desk, layla):
    clock.now = riyadh(8, 16)
    ticket_escalated(language="ar")
    services.tickets_sla_check(now=riyadh(11, 9, 30))
    clock.now = riyadh(11, 9, 30)
    client.force_login(staff_user("sue", roles.SUPERVISOR))

    html = client.get(reverse("admin:tickets_ticket_overview")).content.decode()

    row = re.search(r'<tr class="queue-arabic-desk">(.*?)</tr>', html, re.S)
    assert row
    cells = [
        re.sub(r"<[^>]+>", "", cell).strip()
        for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row.group(1), re.S)
    ]
    # Queue, open, waiting, longest wait, breached, at risk, ...
    assert cells[0] == "Arabic desk"
    assert cells[4:6] == ["0", "1"]
