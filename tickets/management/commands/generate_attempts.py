"""Fill the database with a realistic self-help history, fast: the data set of the statistics
benchmark (bench/insights.py). The sibling of generate_tickets; the data and the generator
live in tickets.generation.attempts."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from tickets.generation.attempts import AttemptsGeneration
from tickets.generation.setup import GenerationError


class Command(BaseCommand):
    help = (
        "Generate customers' attempts at the published guides (versions, step orders, step"
        " outcomes with notes, tickets of the escalated ones) over a period of days, skewed to"
        " a few popular guides. Development databases only."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--attempts", type=int, required=True, help="how many attempts to add (required)"
        )
        parser.add_argument("--days", type=int, default=90, help="spread over this many days")
        parser.add_argument("--end", default="", help="the period's end, ISO 8601 (default: now)")
        parser.add_argument(
            "--guides", type=int, default=200,
            help="make up guides until this many published guides exist",
        )  # fmt: skip
        parser.add_argument("--batch", type=int, default=50_000, help="attempts per transaction")
        parser.add_argument("--seed", type=int, default=1, help="random seed (same data again)")
        parser.add_argument(
            "--force", action="store_true", help="run even with DEBUG off (never in production)"
        )

    def handle(self, *args, attempts: int, days: int, end: str, guides: int, batch: int,
               seed: int, force: bool, **options) -> None:  # fmt: skip
        if not settings.DEBUG and not force:
            raise CommandError(
                "refusing to write generated attempts while DEBUG is off"
                " (use --force on a throw-away database)"
            )
        if attempts < 1 or batch < 1 or days < 1:
            raise CommandError("--attempts, --batch and --days must be at least 1")
        try:
            until = datetime.fromisoformat(end) if end else datetime.now(tz=UTC)
        except ValueError:
            raise CommandError("--end must be an ISO 8601 date and time") from None
        if until.tzinfo is None:
            until = until.replace(tzinfo=UTC)
        started = time.monotonic()
        generation = AttemptsGeneration(seed=seed, days=days, end=until, guides_wanted=guides)
        try:
            plans = generation.prepare()
            self.stdout.write(
                f"Setup: {len(plans)} guides, {sum(len(p.versions) for p in plans)} versions"
                f" ({time.monotonic() - started:.1f} s)"
            )
            progress = None
            for progress in generation.write(attempts=attempts, batch=batch):
                self.stdout.write(
                    f"  {progress.done:>10,} / {attempts:,} attempts  {progress.outcomes:,}"
                    f" outcomes  {progress.tickets:,} tickets  {progress.rate:,.0f} attempts/s"
                )
                self.stdout.flush()
        except GenerationError as error:
            raise CommandError(str(error)) from None
        finishing = time.monotonic()
        generation.finish()
        assert progress is not None
        self.stdout.write(f"Analysed the tables ({time.monotonic() - finishing:.1f} s).")
        self.stdout.write(
            self.style.SUCCESS(
                f"Generated {attempts:,} attempts, {progress.outcomes:,} outcomes and"
                f" {progress.tickets:,} tickets in {time.monotonic() - started:.1f} s"
                f" ({connection.vendor})."
            )
        )
        # Written with their own past times, the rows are older than the rollup's watermark:
        # only a full run counts them.
        self.stdout.write("Count them in the statistics with: manage.py rollup_stats --full")
