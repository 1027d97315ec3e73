"""Routing: which queue and priority a new ticket gets. Rules in order, first match wins;
otherwise the fallback queue."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from guides.models import Attempt
from tickets import events
from tickets.models import Priority, Queue, RoutingRule, TicketEvent


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


def route(*, attempt: Attempt) -> RoutingDecision:
    """Rules in order, first match wins; otherwise the fallback queue."""
    tags = set(attempt.guide.tags.values_list("slug", flat=True)) if attempt.guide else set()
    rules = RoutingRule.objects.filter(is_active=True).select_related("queue", "tag")
    for rule in rules.order_by("position", "pk"):
        why = _rule_matches(rule, attempt=attempt, tags=tags)
        if why is not None:
            return RoutingDecision(rule.queue, rule.priority, rule, tuple(why))
    return RoutingDecision(fallback_queue(), Priority.NORMAL, None)
