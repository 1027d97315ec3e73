"""What several surfaces show of a ticket, worked out in one place: the agents' admin, the
customer's status page, the e-mails and the API all read their SLA clocks, durations, choice
labels and the tried-steps list from here.

The single-row rules themselves (a ticket's SLA state, whether a target is at risk) are
methods of ``Ticket``; this module turns them into what a person reads. The tried-steps list is
rendered by one template include, tickets/includes/tried_steps.html.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import models
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.formats import date_format
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from guides.models import StepKind, StepOutcomeKind
from helpdesk.text import one_line
from tickets.business_hours import NoWorkingTime, WorkCalendar, working_time_between
from tickets.calendars import schedule_calendar
from tickets.models import OPEN_TICKET_STATUSES, Ticket, sla_target_at_risk

# --- dates, durations, labels ---------------------------------------------------------------------


def when(value: datetime | None, fmt: str = "SHORT_DATETIME_FORMAT") -> str:
    """A moment in the reader's time zone and format; a dash for none."""
    return date_format(timezone.localtime(value), fmt) if value is not None else "—"


def duration(delta: timedelta) -> str:
    """A clock in the unit an agent thinks in: "2d 4h", "3h 05m", "12m"."""
    minutes = max(int(delta.total_seconds() // 60), 0)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    # Translators: short units of a countdown; d = days, h = hours, m = minutes.
    if days:
        return _("%(days)dd %(hours)dh") % {"days": days, "hours": hours}
    if hours:
        return _("%(hours)dh %(minutes)02dm") % {"hours": hours, "minutes": minutes}
    return _("%(minutes)dm") % {"minutes": minutes}


def choice_label(choices: type[models.TextChoices], value: str) -> str | Promise:
    """The label of a stored code, translated when rendered (so a status page or an e-mail in
    the ticket's language gets it in that language). A kind or outcome retired since the value
    was stored is shown as stored: history is not dropped."""
    try:
        return choices(value).label
    except ValueError:
        return value


# --- the tried steps ------------------------------------------------------------------------------


def _whole_number(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class TriedStep:
    """One item of a ticket's tried-steps snapshot with every key present: the snapshot is
    history, written by older code too. The API serialises these fields as they are."""

    position: int | None
    title: str
    kind: str
    outcome: str
    note: str
    recorded_at: Any  # ISO 8601 text as recorded (None if it never was)

    @property
    def kind_label(self) -> str | Promise:
        return choice_label(StepKind, self.kind or "?")

    @property
    def outcome_label(self) -> str | Promise:
        return choice_label(StepOutcomeKind, self.outcome)

    @property
    def recorded_at_text(self) -> str:
        raw = str(self.recorded_at or "")
        moment = parse_datetime(raw)
        return when(moment) if moment else raw


def tried_steps(ticket: Ticket) -> list[TriedStep]:
    """What the customer tried before asking for a person, in the order it happened."""
    return [
        TriedStep(
            position=_whole_number(step.get("position")),
            title=str(step.get("title") or ""),
            kind=str(step.get("kind") or ""),
            outcome=str(step.get("outcome") or ""),
            note=str(step.get("note") or ""),
            recorded_at=step.get("recorded_at"),
        )
        for step in ticket.tried_steps
        if isinstance(step, dict)
    ]


# --- SLA clocks -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SLAClock:
    """One SLA target of a ticket as the workspace shows it. ``state`` is a CSS class:
    ok, at-risk, breached, met, paused or none. ``due_text`` is the due time as read where the
    queue works ("Sunday 10:30" within the week), ``time_zone`` that place's zone name (empty:
    the reader's own, for a queue that works around the clock)."""

    label: str
    state: str
    text: str
    due_at: datetime | None
    due_text: str = ""
    time_zone: str = ""


def due_text(due: datetime, *, now: datetime, calendar: WorkCalendar | None) -> str:
    """A due time in the queue's time zone (the reader's without a schedule): the weekday and
    time within the coming week, the date and time further off; localised by Django's formats
    (weekday names and date order in Arabic too)."""
    local = due.astimezone(calendar.time_zone) if calendar else timezone.localtime(due)
    if timedelta(0) <= due - now < timedelta(days=6):
        return date_format(local, "l H:i")
    return f"{date_format(local, 'SHORT_DATE_FORMAT')} {date_format(local, 'H:i')}"


def time_left(calendar: WorkCalendar | None, start: datetime, due: datetime) -> timedelta:
    """What is left of a target: working time on a queue with a schedule."""
    try:
        return working_time_between(calendar, start, due)
    except NoWorkingTime:
        return due - start


def sla_clocks(ticket: Ticket, *, now: datetime) -> list[SLAClock]:
    """Both targets: first response, then resolution. Reads the queue (joined by every page
    that lists tickets) and, for a queue with a schedule, its calendar (tickets.calendars)."""
    is_open = ticket.status in OPEN_TICKET_STATUSES
    calendar = schedule_calendar(ticket.queue.schedule_id)
    zone = calendar.time_zone.key if calendar else ""
    # Translators: a countdown of an SLA target on a queue with business hours.
    left_text = _("%(left)s of working time left") if calendar else _("%(left)s left")

    def clock(label, due, done_at, breached_flag, risk_from, paused_at=None) -> SLAClock:
        if due is None:
            return SLAClock(label, "none", str(_("no target")), None)
        shown = due_text(due, now=now, calendar=calendar)
        if done_at is not None:
            late = breached_flag or done_at > due
            state, text = ("breached", _("missed")) if late else ("met", _("met"))
            return SLAClock(label, state, f"{text} · {when(done_at)}", due, shown, zone)
        if breached_flag:
            return SLAClock(label, "breached", str(_("breached")), due, shown, zone)
        if paused_at is not None:
            # Pending: the clock stands where it stopped; its due time moves on when it resumes.
            left = duration(time_left(calendar, paused_at, due))
            paused = str(_("paused · %(left)s left")) % {"left": left}
            return SLAClock(label, "paused", paused, None)
        if due <= now:
            return SLAClock(label, "breached", str(_("breached")), due, shown, zone)
        if not is_open:
            return SLAClock(label, "met", str(_("stopped")), due, shown, zone)
        # The beat check marks "at risk" once a minute; the page applies the same rule itself,
        # so a target 1 minute away is never shown as fine in between.
        if ticket.sla_at_risk_at is not None:
            at_risk = True
        elif risk_from is not None:
            at_risk = risk_from <= now
        else:
            at_risk = sla_target_at_risk(created_at=ticket.created_at, due_at=due, now=now)
        state = "at-risk" if at_risk else "ok"
        countdown = str(left_text) % {"left": duration(time_left(calendar, now, due))}
        return SLAClock(label, state, countdown, due, shown, zone)

    return [
        clock(
            _("First response"), ticket.first_response_due_at, ticket.first_responded_at,
            ticket.first_response_breached, ticket.first_response_at_risk_from,
        ),
        clock(
            _("Resolution"), ticket.resolution_due_at, ticket.solved_at,
            ticket.resolution_breached, ticket.resolution_at_risk_from, ticket.sla_paused_at,
        ),
    ]  # fmt: skip


def sla_minutes_left(ticket: Ticket, *, now: datetime) -> tuple[int | None, int | None]:
    """(first response, resolution): whole minutes of (working) time left of each running
    target, 0 once due; None for a target there is none of or no longer running. A paused
    resolution target shows what was left when it stopped."""
    if ticket.status not in OPEN_TICKET_STATUSES:
        return None, None
    calendar = schedule_calendar(ticket.queue.schedule_id)

    def minutes(start: datetime, due: datetime | None) -> int | None:
        if due is None:
            return None
        return max(int(time_left(calendar, start, due).total_seconds() // 60), 0)

    first = (
        minutes(now, ticket.first_response_due_at) if ticket.first_responded_at is None else None
    )
    resolution = minutes(ticket.sla_paused_at or now, ticket.resolution_due_at)
    return first, resolution


def sla_summary(ticket: Ticket, *, now: datetime) -> SLAClock:
    """The one clock that matters in a list: a breach, else the next running target."""
    first, resolution = sla_clocks(ticket, now=now)
    if ticket.sla_breached or "breached" in (first.state, resolution.state):
        return SLAClock(str(_("SLA")), "breached", str(_("breached")), None)
    for clock in (first, resolution):
        if clock.state in ("ok", "at-risk"):
            return clock
    return resolution


# --- the fix proposed as a guide step -------------------------------------------------------------

# The longest title a draft takes from a reply's first line: guide step titles are short.
FIX_DRAFT_TITLE_CHARS = 150
# A first line this short ending in a comma is a greeting ("Hi Sam,", "مرحبًا سارة،").
_GREETING_CHARS = 40


def _is_greeting(line: str) -> bool:
    return len(line) <= _GREETING_CHARS and line.rstrip().endswith((",", "،"))


@dataclass(frozen=True)
class FixDraft:
    title: str
    body: str


def fix_draft(reply: str) -> FixDraft:
    """A step's title and body drafted from the reply that solved a ticket, for the agent to
    edit before proposing it: the first line that is not a greeting is the title, the lines
    after it the body (Markdown, as written)."""
    lines = reply.strip().splitlines()
    for index, line in enumerate(lines):
        if not line.strip() or _is_greeting(line):
            continue
        title = one_line(line).lstrip("#>*-+• ").rstrip(":").strip()
        if len(title) > FIX_DRAFT_TITLE_CHARS:
            title = title[:FIX_DRAFT_TITLE_CHARS].rsplit(" ", 1)[0].rstrip(",;:") + "…"
        return FixDraft(title=title, body="\n".join(lines[index + 1 :]).strip())
    return FixDraft(title="", body=reply.strip())
