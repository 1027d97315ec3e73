"""The generated rows: for each ticket, its attempt, the ticket itself and its thread, built the
way the services would have left them (same event kinds, sentences and SLA fields)."""

from __future__ import annotations

import math
import random
import secrets
from datetime import UTC, datetime
from typing import Any

from django.utils import timezone

from guides.models import Attempt
from tickets.events import event_body
from tickets.generation.data import (
    ARABIC_SHARE,
    CONTACT_FORM_SHARE,
    DAY,
    EMAIL_DOMAINS,
    HISTORY_DAYS,
    NEW_UNASSIGNED_SHARE,
    OPEN_UNASSIGNED_SHARE,
    PRIORITY_SHARES,
    STATUS_SHARES,
    STEP_FAILURES,
    TEXTS,
)
from tickets.generation.setup import AgentInfo, Setup
from tickets.models import (
    OPEN_TICKET_STATUSES,
    REFERENCE_ALPHABET,
    REFERENCE_LENGTH,
    SLA_AT_RISK_SHARE,
    Ticket,
)


def _weighted(rng: random.Random, shares: list[tuple[Any, float]]) -> Any:
    point = rng.random() * sum(share for _value, share in shares)
    for value, share in shares:
        point -= share
        if point < 0:
            return value
    return shares[-1][0]


class TicketGenerator:
    def __init__(self, *, rng: random.Random, setup: Setup, references: set[str]) -> None:
        self.rng = rng
        self.setup = setup
        self.references = references
        self.now = timezone.now().timestamp()
        self.room = setup.room
        self.queue_choices = {
            lang: ([q for q in queues], [w for _id, _name, w in queues])
            for lang, queues in setup.queues.items()
        }
        status_labels = {s.value: str(s.label) for s in Ticket.Status}
        self.status_label = status_labels

    def _reference(self) -> str:
        choices = self.rng.choices
        while True:
            reference = "".join(choices(REFERENCE_ALPHABET, k=REFERENCE_LENGTH))
            if reference not in self.references:
                self.references.add(reference)
                return reference

    def _agent(self, queue_id: int, language: str, *, holds_open: bool) -> AgentInfo | None:
        members = self.setup.agents.get((queue_id, language))
        if not members:
            return None
        if not holds_open:
            return self.rng.choice(members)
        for _try in range(4):
            agent = self.rng.choice(members)
            if self.room.get(agent.profile_id, 0) > 0:
                self.room[agent.profile_id] -= 1
                return agent
        return None  # the queue's agents are full: it waits unassigned, as it would live

    def batch(
        self, size: int, *, attempt_start: int, ticket_start: int
    ) -> tuple[list[tuple], list[tuple], list[tuple]]:
        rng = self.rng
        now = self.now
        attempts: list[tuple] = []
        tickets: list[tuple] = []
        events: list[tuple] = []
        stamp = _stamp
        for offset in range(size):
            attempt_id, ticket_id = attempt_start + offset, ticket_start + offset
            language = "ar" if rng.random() < ARABIC_SHARE else "en"
            texts = TEXTS[language]
            status = _weighted(rng, STATUS_SHARES)
            priority = _weighted(rng, PRIORITY_SHARES)
            queues, weights = self.queue_choices[language]
            queue_id, queue_name, _weight = rng.choices(queues, weights)[0]
            first_minutes, resolution_minutes = self.setup.sla[(queue_id, priority)]

            # The clock: how long the first reply and the resolution took (log-normal around a
            # fraction of the SLA target: about one closed ticket in four misses a target).
            response = first_minutes * 60 * rng.lognormvariate(-0.7, 0.6)
            resolution = max(
                response + 300, resolution_minutes * 60 * rng.lognormvariate(-0.8, 0.7)
            )
            if status == "closed":
                # More tickets lately than two years ago: the business grew.
                age = (
                    8 * DAY + resolution + (HISTORY_DAYS - 9) * DAY * (1 - math.sqrt(rng.random()))
                )
                created = now - age
            elif status == "solved":
                created = now - rng.uniform(0, 7 * DAY) - resolution
            elif status == "new":
                created = now - min(rng.expovariate(1 / (0.5 * DAY)), 5 * DAY)
            else:
                created = now - min(rng.expovariate(1 / (4 * DAY)), 30 * DAY)
                response = min(response, (now - created) * 0.5)
            first_due = created + first_minutes * 60
            resolution_due = created + resolution_minutes * 60
            responded = None if status == "new" else created + response
            solved = created + resolution if status in ("solved", "closed") else None
            closed = (
                solved + 7 * DAY + rng.uniform(0, 3600) if solved and status == "closed" else None
            )
            first_breached = (responded or now) > first_due
            resolution_breached = (solved or now) > resolution_due

            if status == "new":
                unassigned = rng.random() < NEW_UNASSIGNED_SHARE
            elif status == "open":
                unassigned = rng.random() < OPEN_UNASSIGNED_SHARE
            else:
                unassigned = False
            holds_open = status in OPEN_TICKET_STATUSES
            agent = None if unassigned else self._agent(queue_id, language, holds_open=holds_open)
            replier = agent or self._agent(queue_id, language, holds_open=False)

            # The customer: a guide they followed (and the steps that failed), or the form.
            problem = rng.choice(texts["problems"])
            detail = rng.choice(texts["details"]).format(n=rng.randrange(100_000, 999_999))
            description = f"{problem} {detail}".strip()
            first, first_ascii = _name(rng.choice(texts["first"]))
            last, last_ascii = _name(rng.choice(texts["last"]))
            email = f"{first_ascii}.{last_ascii}{rng.randrange(1, 999)}@{rng.choice(EMAIL_DOMAINS)}"
            if rng.random() < CONTACT_FORM_SHARE:
                guide_id = None
                company_id = rng.choice(self.setup.companies) if rng.random() < 0.7 else None
                subject = problem[:120]
                tried: list[dict] = []
                routing_reason = f"No routing rule matched; sent to {queue_name}."
            else:
                guide = rng.choice(self.setup.guides[language])
                guide_id, company_id, subject = guide.id, guide.company_id, guide.title
                tried_count = rng.randint(1, len(guide.steps))
                started = created - 60 * (2 + 3 * tried_count)
                tried = [
                    {
                        "position": position,
                        "title": title,
                        "kind": kind,
                        "outcome": rng.choice(STEP_FAILURES),
                        "note": rng.choice(texts["notes"]),
                        "recorded_at": stamp(started + 120 * (n + 1)),
                    }
                    for n, (position, kind, title) in enumerate(guide.steps[:tried_count])
                ]
                routing_reason = f"Routed to {queue_name} by language and topic."

            created_at = _dt(created)
            attempts.append(
                (
                    attempt_id, guide_id, company_id, secrets.token_hex(32), language,
                    Attempt.Status.ESCALATED.value, _dt(created - 60 * (3 + 3 * len(tried))),
                    created_at, created_at, f"{first} {last}", email, description, created_at, 1,
                )
            )  # fmt: skip

            # The thread, the way the services write it.
            thread: list[tuple] = [
                (ticket_id, "customer_message", None, description, {}, created_at)
            ]
            if status == "new":
                if agent is None:
                    thread.append((ticket_id, "routed", None, routing_reason, {}, created_at))
                else:
                    facts = {"from": None, "to": agent.profile_id, "to_name": agent.name}
                    thread.append(
                        (ticket_id, "assigned", None, event_body("assigned", facts), facts,
                         _dt(created + 1))
                    )  # fmt: skip
            else:
                assert responded is not None
                author = replier.user_id if replier else None
                thread.append(
                    (ticket_id, "agent_reply", author, rng.choice(texts["replies"]), {},
                     _dt(responded))
                )  # fmt: skip
                if status == "open" and agent is None:
                    facts = {
                        "from": replier.profile_id if replier else None, "to": None,
                        "from_name": replier.name if replier else None,
                    }  # fmt: skip
                    # With no agent to name, the sentence falls back to this body.
                    body = event_body("unassigned", facts) or "Back in the queue."
                    thread.append(
                        (ticket_id, "unassigned", None, body, facts, _dt(responded + 60))
                    )  # fmt: skip
                elif status in ("open", "pending"):
                    thread.append(self._status_event(ticket_id, "new", status, author, responded))
                else:
                    assert solved is not None
                    thread.append(self._status_event(ticket_id, "open", "solved", author, solved))
                    if closed is not None:
                        thread.append(
                            self._status_event(ticket_id, "solved", "closed", None, closed)
                        )
            events.extend(thread)
            updated_at = max(event[5] for event in thread)

            tickets.append(
                (
                    ticket_id, self._reference(), attempt_id, company_id, guide_id, language,
                    subject, description, f"{first} {last}", email, tried, queue_id,
                    agent.profile_id if agent else None, status, priority, routing_reason,
                    created_at, updated_at, _dt(first_due), _dt(resolution_due),
                    _dt(responded) if responded else None, _dt(solved) if solved else None,
                    _dt(closed) if closed else None, first_breached, resolution_breached,
                    first_breached or resolution_breached, _dt(created + 2),
                    # Pending since the reply that asked the customer something: paused.
                    _dt(responded + 1)
                    if responded is not None and status == "pending" and not resolution_breached
                    else None,
                    # The at-risk instants, around the clock (generated queues have no schedule).
                    _dt(created + first_minutes * 60 * SLA_AT_RISK_SHARE),
                    _dt(created + resolution_minutes * 60 * SLA_AT_RISK_SHARE),
                )
            )  # fmt: skip
        return attempts, tickets, events

    def _status_event(
        self, ticket_id: int, before: str, after: str, author: int | None, at: float
    ) -> tuple:
        label = self.status_label
        return (
            ticket_id, "status_changed", author, f"Status: {label[before]} → {label[after]}.",
            {"from": before, "to": after}, _dt(at + 1),
        )  # fmt: skip


def _name(spec: str) -> tuple[str, str]:
    written, _bar, ascii_name = spec.partition("|")
    return written, (ascii_name or written).lower()


def _dt(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _stamp(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat()
