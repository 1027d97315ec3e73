"""A realistic ticket history, fast: the data set of the benchmark (`manage.py generate_tickets`).

Generated rows bypass the services on purpose (a million escalations through routing, Celery
and e-mail would take hours); instead each row is built the way the services would have left
it, and the counters the services maintain (AgentProfile.open_tickets) are recomputed at the
end in one UPDATE. On PostgreSQL rows are streamed with COPY, elsewhere bulk_create in batches.

The same seed on the same database gives the same tickets: every random choice comes from one
seeded generator, taken in the same order (setup first, then ticket by ticket).
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass

from django.db import connection, transaction

from guides.models import Attempt
from tickets.generation.rows import TicketGenerator
from tickets.generation.setup import GenerationError, Setup, setup_build
from tickets.generation.writers import (
    ATTEMPTS,
    EVENTS,
    TICKETS,
    BulkWriter,
    CopyWriter,
    analyze,
    open_tickets_recount,
)
from tickets.models import Ticket

__all__ = ["Generation", "GenerationError", "Progress"]


@dataclass(frozen=True)
class Progress:
    """Where a run stands after one batch."""

    done: int
    total: int
    events: int
    elapsed: float  # seconds since the first batch started

    @property
    def rate(self) -> float:
        return self.done / self.elapsed if self.elapsed else 0.0

    @property
    def eta(self) -> float:
        return (self.total - self.done) / self.rate if self.rate else 0.0


class Generation:
    """One run: `prepare()` the small tables, iterate `write()` for the batches, `finish()`."""

    def __init__(self, *, seed: int) -> None:
        # Test data, not secrets: a seeded generator so that a run can be repeated.
        self.rng = random.Random(seed)  # noqa: S311
        self.setup: Setup | None = None

    def prepare(self) -> Setup:
        with transaction.atomic():
            self.setup = setup_build(self.rng)
        return self.setup

    def write(self, *, tickets: int, batch: int) -> Iterator[Progress]:
        """Add `tickets` tickets in transactions of `batch`, yielding after each one."""
        if self.setup is None:
            raise GenerationError("prepare() first")
        writer = CopyWriter() if connection.vendor == "postgresql" else BulkWriter()
        references = set(Ticket.objects.values_list("reference", flat=True).iterator(10_000))
        generator = TicketGenerator(rng=self.rng, setup=self.setup, references=references)
        done = events = 0
        started = time.monotonic()
        while done < tickets:
            size = min(batch, tickets - done)
            with transaction.atomic():
                attempt_start = writer.ids_reserve(Attempt, size)
                ticket_start = writer.ids_reserve(Ticket, size)
                attempts, ticket_rows, event_rows = generator.batch(
                    size, attempt_start=attempt_start, ticket_start=ticket_start
                )
                writer.write(ATTEMPTS, attempts)
                writer.write(TICKETS, ticket_rows)
                writer.write(EVENTS, event_rows)
            done += size
            events += len(event_rows)
            yield Progress(
                done=done, total=tickets, events=events, elapsed=time.monotonic() - started
            )

    def finish(self) -> int:
        """Recount the agents' open tickets and analyse the tables; the agents recounted."""
        agents_counted = open_tickets_recount()
        analyze()
        return agents_counted
