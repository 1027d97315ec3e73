"""Routing: which queue and priority a new ticket gets. Rules in order, first match wins;
otherwise the fallback queue.

The worker reads the rules and SLA policies once per process, not once per ticket: the
routing table is cached, labelled with the token of RoutingVersion, and the worker reads that
token in the statement that locks the attempt (routing_version). Every change of a rule,
queue, SLA policy, business schedule (its hours and holidays too) or tag writes a new token
in its own transaction (routing_changed, below), so the next ticket of any process, the
worker started by a test included, loads the table again. A time-to-live would be simpler
but would route by stale rules for its whole length in every other process; the token costs
no extra statement and is never stale.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Subquery
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from guides.models import Attempt, Tag
from tickets import calendars, events
from tickets.business_hours import WorkCalendar
from tickets.models import (
    BusinessSchedule,
    Holiday,
    Priority,
    Queue,
    RoutingRule,
    RoutingVersion,
    SLAPolicy,
    TicketEvent,
    WorkingHours,
)


@dataclass(frozen=True)
class RoutingDecision:
    queue: Queue
    priority: int
    rule: RoutingRule | None
    # The conditions of the rule that held, as (kind, value): company, tag, language, keyword.
    conditions: tuple[tuple[str, str], ...] = ()

    @property
    def facts(self) -> dict[str, Any]:
        """The ROUTED event's change: enough to say why, in any language (tickets.events)."""
        return {
            "rule": self.rule.name if self.rule else None,
            "queue": self.queue.name,
            "conditions": [list(condition) for condition in self.conditions],
        }

    @property
    def reason(self) -> str:
        """Why, in English: stored on the ticket (routing_reason) and in the event's body."""
        return events.event_body(TicketEvent.Kind.ROUTED, self.facts)


def fallback_queue() -> Queue:
    queue = Queue.objects.filter(is_fallback=True).first()
    if queue is None:
        queue, _created = Queue.objects.get_or_create(
            slug="general", defaults={"name": "General", "is_fallback": True}
        )
    return queue


def _rule_matches(
    rule: RoutingRule, *, attempt: Attempt, tags: set[str]
) -> list[tuple[str, str]] | None:
    """The conditions of the rule that hold, as (kind, value); None when one does not."""
    why: list[tuple[str, str]] = []
    company = attempt.guide.company if attempt.guide else attempt.company
    if rule.company_id is not None:
        if company is None or rule.company_id != company.pk:
            return None
        why.append(("company", company.name))
    if rule.tag_id is not None:
        if rule.tag is None or rule.tag.slug not in tags:
            return None
        why.append(("tag", rule.tag.slug))
    if rule.language:
        if rule.language != attempt.language:
            return None
        why.append(("language", rule.language))
    keywords = [k.strip().lower() for k in rule.keywords.split(",") if k.strip()]
    if keywords:
        text = attempt.description.lower()
        found = [k for k in keywords if k in text]
        if not found:
            return None
        why.append(("keyword", found[0]))
    return why


# --- the routing table, cached per process ---------------------------------------------------


@dataclass(frozen=True)
class RoutingTable:
    """What routing and the SLA clocks read: the active rules in order (with their queue and
    tag), the SLA policies as (queue id, priority) -> (first response, resolution) minutes, and
    the working calendars of the queues with a policy and a business schedule, by queue id."""

    rules: tuple[RoutingRule, ...]
    sla_minutes: dict[tuple[int, int], tuple[int, int]] = field(default_factory=dict)
    calendars: dict[int, WorkCalendar] = field(default_factory=dict)
    # Where no rule matches; None when there is no fallback queue yet (fallback_queue makes it).
    fallback: Queue | None = None


def _routing_table_load() -> RoutingTable:
    rules = RoutingRule.objects.filter(is_active=True).select_related("queue", "tag")
    policies = list(
        SLAPolicy.objects.values_list(
            "queue_id", "priority", "first_response_minutes", "resolution_minutes",
            "queue__schedule_id",
        )
    )  # fmt: skip
    schedule_of = {queue: schedule for queue, _p, _f, _r, schedule in policies if schedule}
    return RoutingTable(
        rules=tuple(rules.order_by("position", "pk")),
        sla_minutes={
            (queue, priority): (first, last) for queue, priority, first, last, _s in policies
        },
        calendars=_calendars_load(schedule_of),
        fallback=Queue.objects.filter(is_fallback=True).first(),
    )


def _calendars_load(schedule_of: dict[int, int]) -> dict[int, WorkCalendar]:
    """Queue id -> calendar, for the given queue id -> schedule id; two queries, none when no
    queue with a policy has a schedule (a deployment that keeps clocks around the clock)."""
    if not schedule_of:
        return {}
    hours: dict[int, list[tuple[int, Any, Any]]] = {}
    zones: dict[int, str] = {}
    rows = WorkingHours.objects.filter(schedule_id__in=set(schedule_of.values())).values_list(
        "schedule_id", "schedule__time_zone", "weekday", "starts_at", "ends_at"
    )
    for schedule, zone, weekday, starts, ends in rows:
        zones[schedule] = zone
        hours.setdefault(schedule, []).append((weekday, starts, ends))
    holidays: dict[int, list[Any]] = {}
    for schedule, day in Holiday.objects.filter(schedule_id__in=set(zones)).values_list(
        "schedule_id", "date"
    ):
        holidays.setdefault(schedule, []).append(day)
    # A schedule left with no hours (validation refuses one; the database may still hold it)
    # counts around the clock rather than never.
    by_schedule = {
        schedule: WorkCalendar.build(
            time_zone=zones[schedule],
            intervals=hours[schedule],
            holidays=holidays.get(schedule, ()),
        )
        for schedule in zones
    }
    return {
        queue: by_schedule[schedule]
        for queue, schedule in schedule_of.items()
        if schedule in by_schedule
    }


# (token, table) of this process; one assignment replaces both, so a reader never sees a
# table with another table's token.
_cached: tuple[int, RoutingTable] | None = None


def routing_version() -> Subquery:
    """The current token, as an expression to add to a query the caller makes anyway."""
    return Subquery(RoutingVersion.objects.filter(pk=1).values("token")[:1])


def routing_table(*, version: int | None) -> RoutingTable:
    """The routing table as of ``version`` (read with routing_version, before this call).

    Labelled with the token read before loading, a table is never newer in name than in
    content: a change that commits between the two is loaded now and loaded again next time.
    No token (no row: a database emptied since its migrations) means no cache.
    """
    global _cached
    if version is not None and _cached is not None and _cached[0] == version:
        return _cached[1]
    table = _routing_table_load()
    if version is not None:
        _cached = (version, table)
    return table


def routing_changed() -> None:
    """Tell every process that routing changed: a new token, written in the caller's
    transaction so that it becomes visible with the change itself. Called on saves and deletes
    (the receivers below); a bulk QuerySet.update() of those models must call it itself."""
    RoutingVersion.objects.update_or_create(pk=1, defaults={"token": secrets.randbits(62)})
    calendars.calendars_forget()


@receiver(post_save, sender=RoutingRule, dispatch_uid="routing_changed.rule.save")
@receiver(post_delete, sender=RoutingRule, dispatch_uid="routing_changed.rule.delete")
@receiver(post_save, sender=SLAPolicy, dispatch_uid="routing_changed.sla.save")
@receiver(post_delete, sender=SLAPolicy, dispatch_uid="routing_changed.sla.delete")
@receiver(post_save, sender=Queue, dispatch_uid="routing_changed.queue.save")
@receiver(post_delete, sender=Queue, dispatch_uid="routing_changed.queue.delete")
@receiver(post_save, sender=BusinessSchedule, dispatch_uid="routing_changed.schedule.save")
@receiver(post_delete, sender=BusinessSchedule, dispatch_uid="routing_changed.schedule.delete")
@receiver(post_save, sender=WorkingHours, dispatch_uid="routing_changed.hours.save")
@receiver(post_delete, sender=WorkingHours, dispatch_uid="routing_changed.hours.delete")
@receiver(post_save, sender=Holiday, dispatch_uid="routing_changed.holiday.save")
@receiver(post_delete, sender=Holiday, dispatch_uid="routing_changed.holiday.delete")
@receiver(post_save, sender=Tag, dispatch_uid="routing_changed.tag.save")
@receiver(post_delete, sender=Tag, dispatch_uid="routing_changed.tag.delete")
def _routing_changed_on_save(sender: Any, **kwargs: Any) -> None:
    routing_changed()


# --- the decision ----------------------------------------------------------------------------


def route(
    *, attempt: Attempt, table: RoutingTable | None = None, tags: set[str] | None = None
) -> RoutingDecision:
    """Rules in order, first match wins; otherwise the fallback queue. Without a table, the
    rules are read now; without ``tags`` (the slugs of the attempt's guide), so are they."""
    if tags is None:
        tags = set(attempt.guide.tags.values_list("slug", flat=True)) if attempt.guide else set()
    if table is None:
        table = _routing_table_load()
    for rule in table.rules:
        why = _rule_matches(rule, attempt=attempt, tags=tags)
        if why is not None:
            return RoutingDecision(rule.queue, rule.priority, rule, tuple(why))
    return RoutingDecision(table.fallback or fallback_queue(), Priority.NORMAL, None)
