"""Fill the database with a realistic ticket history, fast: the data set of the benchmark.

The data and the generator live in tickets.generation; this command parses the options,
refuses production-like settings, runs the generation and reports its progress.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from tickets.generation import Generation, GenerationError


class Command(BaseCommand):
    help = (
        "Generate a realistic ticket history (queues, agents, tickets with attempts, snapshots"
        " and messages) for load tests and the benchmark. Development databases only."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--tickets", type=int, required=True, help="how many tickets to add (required)"
        )
        parser.add_argument("--batch", type=int, default=20_000, help="tickets per transaction")
        parser.add_argument("--seed", type=int, default=1, help="random seed (same data again)")
        parser.add_argument(
            "--force", action="store_true", help="run even with DEBUG off (never in production)"
        )

    def handle(self, *args, tickets: int, batch: int, seed: int, force: bool, **options) -> None:
        if not settings.DEBUG and not force:
            raise CommandError(
                "refusing to write generated tickets while DEBUG is off"
                " (use --force on a throw-away database)"
            )
        if tickets < 1:
            raise CommandError("--tickets must be at least 1")
        if batch < 1:
            raise CommandError("--batch must be at least 1")
        try:
            self._generate(tickets=tickets, batch=batch, seed=seed)
        except GenerationError as error:
            raise CommandError(str(error)) from None

    def _generate(self, *, tickets: int, batch: int, seed: int) -> None:
        started = time.monotonic()
        generation = Generation(seed=seed)
        setup = generation.prepare()
        self.stdout.write(
            f"Setup: {len(setup.companies)} companies,"
            f" {sum(len(g) for g in setup.guides.values())} guides,"
            f" {len({q for qs in setup.queues.values() for q, _n, _w in qs})} queues,"
            f" {len({a.profile_id for agents in setup.agents.values() for a in agents})} agents"
            f" ({time.monotonic() - started:.1f} s)"
        )
        events = 0
        for progress in generation.write(tickets=tickets, batch=batch):
            events = progress.events
            self.stdout.write(
                f"  {progress.done:>10,} / {tickets:,} tickets"
                f" ({100 * progress.done / tickets:5.1f} %)"
                f"  {events:,} events  {progress.rate:,.0f} tickets/s  ETA {progress.eta:,.0f} s"
            )
            self.stdout.flush()

        finishing = time.monotonic()
        agents_counted = generation.finish()
        self.stdout.write(
            f"Recounted the open tickets of {agents_counted} agents and analysed the tables"
            f" ({time.monotonic() - finishing:.1f} s)."
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Generated {tickets:,} tickets, {tickets:,} attempts and {events:,} events"
                f" in {time.monotonic() - started:.1f} s ({connection.vendor})."
            )
        )
