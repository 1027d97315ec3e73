"""Realistic self-help history, fast: attempts, their step outcomes, and the tickets of the
escalated ones (`manage.py generate_attempts`), the data set of the statistics benchmark.

The shape: a long tail of guides with a few popular ones (Zipf: the first guide gets about as
many attempts as the next three together), days over a period with a weekly rhythm, each
customer walking the steps in the order shown to them (the procedure, the alternatives
shuffled, the last resort), each step working with a probability of its own that differs by
language, sometimes skipped or tried twice, abandoned along the way or escalated at the end;
notes on a quarter of the failures. Escalated attempts become tickets, most of them solved
hours later, a few reopened once.

As tickets.generation does for tickets, rows bypass the services on purpose and are built as
the services would have left them; COPY on PostgreSQL, bulk_create elsewhere. The same seed on
the same database gives the same rows.
"""

from __future__ import annotations

import hashlib
import math
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db import connection, transaction

from guides.models import (
    Attempt,
    Company,
    Guide,
    GuideVersion,
    Step,
    StepOutcome,
)
from tickets.generation.data import TEXTS
from tickets.generation.setup import GenerationError
from tickets.generation.writers import BulkWriter, CopyWriter, Table
from tickets.models import Queue, Ticket, TicketEvent, ticket_reference_new

DAY = 86_400.0
SKIP_SHARE = 0.06
RETRY_SHARE = 0.15  # a failed step tried once more
ABANDON_AFTER_FAILURE = 0.07
ESCALATE_AT_THE_END = 0.55  # the others abandon
NOTE_SHARE = 0.25
SOLVED_SHARE = 0.85
REOPENED_SHARE = 0.06
# Success of a step: a base by kind, times a factor per language and guide (some steps fail
# far more often for one language's customers: a translated screen, a local bank).
BASE_SUCCESS = {"procedure": (0.10, 0.30), "alternative": (0.06, 0.28), "last_resort": (0.2, 0.5)}

ATTEMPT_ROWS = Table(
    Attempt,
    [
        "id", "guide_id", "company_id", "token_hash", "language", "status", "started_at",
        "updated_at", "finished_at", "guide_version_id", "step_order", "description",
        "escalation_requested_at", "escalation_deliveries", "contact_email",
    ],
)  # fmt: skip
OUTCOME_ROWS = Table(
    StepOutcome,
    [
        "attempt_id", "step_id", "step_position", "step_kind", "step_title", "outcome", "note",
        "recorded_at",
    ],
)  # fmt: skip
TICKET_ROWS = Table(
    Ticket,
    [
        "id", "reference", "attempt_id", "company_id", "guide_id", "language", "subject",
        "description", "requester_email", "tried_steps", "queue_id", "status", "priority",
        "routing_reason", "created_at", "updated_at", "solved_at", "closed_at",
    ],
)  # fmt: skip
EVENT_ROWS = Table(TicketEvent, ["ticket_id", "kind", "author_id", "body", "change", "created_at"])


@dataclass
class GuidePlan:
    id: int
    company_id: int
    language: str
    title: str
    # (step id, position, kind, title), in position order
    steps: list[tuple[int, int, str, str]]
    success: dict[int, float]  # step id -> probability that it works
    versions: list[tuple[int, float]]  # (version id, from this time on), oldest first
    weight: float = 0.0


@dataclass
class AttemptsProgress:
    done: int
    total: int
    outcomes: int
    tickets: int
    elapsed: float

    @property
    def rate(self) -> float:
        return self.done / self.elapsed if self.elapsed else 0.0


@dataclass
class AttemptsGeneration:
    """One run: ``prepare()`` the guides and versions, iterate ``write()``, ``finish()``."""

    seed: int
    days: int
    end: datetime
    guides_wanted: int
    rng: random.Random = field(init=False)
    plans: list[GuidePlan] = field(default_factory=list)
    queue_id: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)  # noqa: S311 (test data, not secrets)

    # --- the small tables ------------------------------------------------------------------

    def prepare(self) -> list[GuidePlan]:
        with transaction.atomic():
            self._guides_ensure()
            queue = Queue.objects.filter(is_fallback=True).first() or Queue.objects.first()
            if queue is None:
                queue = Queue.objects.create(name="General", slug="general", is_fallback=True)
            self.queue_id = queue.pk
            self.plans = self._plans()
        return self.plans

    def _guides_ensure(self) -> None:
        """Published guides with steps in both languages, up to ``guides_wanted`` (made up
        when the database has fewer: companies "Generated N", four to eight steps each)."""
        have = Guide.objects.filter(status=Guide.Status.PUBLISHED, steps__isnull=False)
        missing = self.guides_wanted - have.distinct().count()
        if missing <= 0:
            return
        rng = self.rng
        start = Guide.objects.count() + 1
        companies = [
            Company.objects.get_or_create(
                slug=f"generated-{n}", defaults={"name": f"Generated {n}"}
            )[0]
            for n in range(1, 11)
        ]
        for number in range(start, start + missing):
            language = "ar" if number % 2 else "en"
            texts = TEXTS[language]
            guide = Guide.objects.create(
                company=companies[number % len(companies)],
                slug=f"generated-guide-{number}",
                translation_key=f"generated-guide-{number}",
                language=language,
                title=f"{rng.choice(texts['problems'])[:280]} #{number}",
                status=Guide.Status.PUBLISHED,
            )
            count = rng.randint(4, 8)
            kinds = ["procedure"] + ["alternative"] * (count - 2) + ["last_resort"]
            Step.objects.bulk_create(
                Step(guide=guide, position=position, kind=kind, title=f"Step {position}")
                for position, kind in enumerate(kinds, start=1)
            )

    def _plans(self) -> list[GuidePlan]:
        rng = self.rng
        start = self.end.timestamp() - self.days * DAY
        plans = []
        guides = (
            Guide.objects.filter(status=Guide.Status.PUBLISHED)
            .prefetch_related("steps")
            .order_by("pk")
        )
        for guide in guides:
            steps = [(s.pk, s.position, s.kind, s.title) for s in guide.steps.all()]
            if not steps:
                continue
            versions = list(guide.versions.order_by("number"))
            if not versions:
                snapshot = [
                    {"step": pk, "position": pos, "kind": kind, "title": title, "body": ""}
                    for pk, pos, kind, title in steps
                ]
                created = datetime.fromtimestamp(start - DAY, tz=UTC)
                versions = [
                    GuideVersion.objects.create(
                        guide=guide, number=1, steps=snapshot, created_at=created
                    )
                ]
            timeline = [(v.pk, v.created_at.timestamp()) for v in versions]
            language_factor = rng.uniform(0.6, 1.3)
            success = {}
            for pk, _pos, kind, _title in steps:
                low, high = BASE_SUCCESS.get(kind, (0.1, 0.3))
                success[pk] = min(0.9, rng.uniform(low, high) * language_factor)
            plans.append(
                GuidePlan(
                    guide.pk,
                    guide.company_id,
                    guide.language,
                    guide.title[:250],
                    steps,
                    success,
                    timeline,
                )
            )
        if not plans:
            raise GenerationError("no published guide with steps")
        rng.shuffle(plans)
        for rank, plan in enumerate(plans, start=1):
            plan.weight = 1.0 / rank  # Zipf, s = 1
        # The most popular guides got a new version halfway: their statistics split there.
        middle = start + self.days * DAY / 2
        for plan in plans[:3]:
            if len(plan.versions) == 1:
                version = GuideVersion.objects.create(
                    guide_id=plan.id, number=2, created_at=datetime.fromtimestamp(middle, tz=UTC),
                    steps=GuideVersion.objects.get(pk=plan.versions[0][0]).steps,
                )  # fmt: skip
                plan.versions.append((version.pk, middle))
        return plans

    # --- the rows --------------------------------------------------------------------------

    def write(self, *, attempts: int, batch: int) -> Iterator[AttemptsProgress]:
        if not self.plans:
            raise GenerationError("prepare() first")
        writer = CopyWriter() if connection.vendor == "postgresql" else BulkWriter()
        weights = [plan.weight for plan in self.plans]
        cumulative = []
        total = 0.0
        for weight in weights:
            total += weight
            cumulative.append(total)
        done = outcomes = tickets = 0
        started = time.monotonic()
        while done < attempts:
            size = min(batch, attempts - done)
            with transaction.atomic():
                first_attempt = writer.ids_reserve(Attempt, size)
                rows = self._batch(size, first_attempt, cumulative)
                attempt_rows, outcome_rows, ticket_rows, event_rows = rows
                if ticket_rows:
                    first_ticket = writer.ids_reserve(Ticket, len(ticket_rows))
                    ticket_rows = [(first_ticket + i, *row) for i, row in enumerate(ticket_rows)]
                    event_rows = [(first_ticket + index, *rest) for index, *rest in event_rows]
                writer.write(ATTEMPT_ROWS, attempt_rows)
                writer.write(OUTCOME_ROWS, outcome_rows)
                writer.write(TICKET_ROWS, ticket_rows)
                writer.write(EVENT_ROWS, event_rows)
            done += size
            outcomes += len(outcome_rows)
            tickets += len(ticket_rows)
            yield AttemptsProgress(done, attempts, outcomes, tickets, time.monotonic() - started)

    def _batch(self, size: int, first_id: int, cumulative: list[float]):
        rng = self.rng
        end = self.end.timestamp()
        start = end - self.days * DAY
        attempts: list[tuple] = []
        outcomes: list[tuple] = []
        tickets: list[tuple] = []
        events: list[tuple] = []
        notes = {language: [n for n in TEXTS[language]["notes"] if n] for language in TEXTS}
        for offset in range(size):
            attempt_id = first_id + offset
            plan = self.plans[_pick(rng, cumulative)]
            # A weekly rhythm (quieter at the weekend) and a day's rhythm (busy afternoons).
            while True:
                at = rng.uniform(start, end)
                weekday = datetime.fromtimestamp(at, tz=UTC).weekday()
                if rng.random() < (0.7 if weekday >= 5 else 1.0):
                    break
            # The newest version made before the attempt; its first for an attempt older
            # than every version (imported guides get theirs when imported: now).
            version_id = next(
                (v for v, since in reversed(plan.versions) if since <= at), plan.versions[0][0]
            )
            middle = list(plan.steps[1:-1])
            rng.shuffle(middle)
            order = [plan.steps[0], *middle, plan.steps[-1]] if len(plan.steps) > 1 else plan.steps
            clock = at
            status, last = "in_progress", at
            language = plan.language
            for step_id, position, kind, title in order:
                if rng.random() < SKIP_SHARE:
                    clock += rng.lognormvariate(2.0, 0.8)
                    outcomes.append((attempt_id, step_id, position, kind, title, "skipped", "",
                                     _when(clock)))  # fmt: skip
                    continue
                worked = False
                for _try in range(2):  # a failed step is sometimes tried once more
                    clock += rng.lognormvariate(3.6, 0.9)  # about 40 s, sometimes minutes
                    worked = rng.random() < plan.success[step_id]
                    if worked:
                        outcome, note = "worked", ""
                    else:
                        outcome = "did_not_work" if rng.random() < 0.75 else "could_not_do"
                        note = rng.choice(notes[language]) if rng.random() < NOTE_SHARE else ""
                    outcomes.append(
                        (attempt_id, step_id, position, kind, title, outcome, note, _when(clock))
                    )
                    if worked or rng.random() >= RETRY_SHARE:
                        break
                last = clock
                if worked:
                    status = "resolved"
                    break
                if rng.random() < ABANDON_AFTER_FAILURE:
                    status = "abandoned"
                    break
            else:
                status = "escalated" if rng.random() < ESCALATE_AT_THE_END else "abandoned"
            if end - clock < DAY and status != "resolved" and rng.random() < 0.3:
                status = "in_progress"  # started today: some are still at it
            clock = max(clock, last)
            if status == "escalated":
                clock += rng.uniform(20, 300)
            if clock > end:
                clock = end
            finished = None if status == "in_progress" else _when(clock)
            escalated_at = _when(clock) if status == "escalated" else None
            token = hashlib.sha256(f"generated-attempt-{attempt_id}".encode()).hexdigest()
            updated = clock
            if status == "escalated":
                ticket, thread, updated = self._ticket(attempt_id, plan, clock, end)
                tickets.append(ticket)
                events.extend((len(tickets) - 1, *event) for event in thread)
            attempts.append(
                (attempt_id, plan.id, plan.company_id, token, language, status, _when(at),
                 _when(max(updated, clock)), finished, version_id,
                 [step[0] for step in order],
                 "Still stuck." if status == "escalated" else "", escalated_at, 1 if escalated_at
                 else 0, "customer@example.com" if status == "escalated" else "")
            )  # fmt: skip
        return attempts, outcomes, tickets, events

    def _ticket(self, attempt_id: int, plan: GuidePlan, escalated: float, end: float):
        rng = self.rng
        created = escalated + rng.uniform(1, 30)
        solved = created + rng.lognormvariate(9.0, 1.1)  # about 2 h, from minutes to days
        status, solved_at, closed_at, thread = "open", None, None, []
        updated = created
        if solved < end and rng.random() < SOLVED_SHARE:
            status, solved_at, updated = "solved", solved, solved
            if rng.random() < REOPENED_SHARE:
                reopened = created + (solved - created) * rng.uniform(0.3, 0.7)
                thread.append(
                    ("status_changed", None, "Reopened by the customer.",
                     {"from": "solved", "to": "open", "reopened": True}, _when(reopened))
                )  # fmt: skip
            if solved + 7 * DAY < end:
                status, closed_at = "closed", solved + 7 * DAY
                updated = closed_at
        ticket: tuple = (
            ticket_reference_new(), attempt_id, plan.company_id, plan.id, plan.language,
            plan.title[:300], "Still stuck.", "customer@example.com", [], self.queue_id, status,
            2, "Generated.", _when(created), _when(updated), _when(solved_at),
            _when(closed_at),
        )  # fmt: skip
        return ticket, thread, updated

    def finish(self) -> None:
        """Fresh planner statistics for the tables just filled (PostgreSQL)."""
        if connection.vendor != "postgresql":
            return
        tables = [Attempt, StepOutcome, Ticket, TicketEvent]
        # VACUUM also fills the visibility map (index-only scans at once); it cannot run inside
        # a transaction (a test's), where ANALYZE does.
        verb = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
        with connection.cursor() as cursor:
            for model in tables:
                cursor.execute(f"{verb} {connection.ops.quote_name(model._meta.db_table)}")


def _pick(rng: random.Random, cumulative: list[float]) -> int:
    """An index drawn with the weights whose running sums are ``cumulative``."""
    target = rng.random() * cumulative[-1]
    low, high = 0, len(cumulative) - 1
    while low < high:
        middle = (low + high) // 2
        if cumulative[middle] < target:
            low = middle + 1
        else:
            high = middle
    return low


def _when(timestamp: float | None) -> datetime | None:
    if timestamp is None or math.isnan(timestamp):
        return None
    return datetime.fromtimestamp(timestamp, tz=UTC)
