"""Run the statistics rollup by hand: what beat's rollup_statistics task does every few
minutes, or (``--full``) every day from scratch, e.g. after a restore or a bulk import."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from tickets import services


class Command(BaseCommand):
    help = (
        "Bring the statistics' day tallies up to date from the attempts, step outcomes and"
        " tickets: the days changed since the last run, or every day with --full."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--full", action="store_true", help="recompute every day, not only the changed ones"
        )

    def handle(self, *args, full: bool, **options) -> None:
        # Waits for a run in progress (beat's) rather than skipping: asked for by a person.
        result = services.statistics_rollup(full=full, wait=True)
        assert result is not None
        self.stdout.write(
            self.style.SUCCESS(
                f"Rolled up {result.days} days ({result.step_rows} step rows,"
                f" {result.guide_rows} guide rows) in {result.seconds:.2f} s;"
                f" up to date until {result.until.isoformat()}."
            )
        )
