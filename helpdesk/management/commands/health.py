"""Print the health checks as JSON; exit 1 when a required one fails (container health checks).

python manage.py health                     # every check, like /healthz
python manage.py health --require worker    # the worker container's own check
"""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from helpdesk import health


class Command(BaseCommand):
    help = "Report database, cache, broker, worker and beat health; exit 1 if one fails."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--require",
            action="append",
            choices=health.CHECKS,
            help="Check only this part (repeat for several). Default: all of them.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        report = health.status(require=options["require"] or health.CHECKS)
        self.stdout.write(json.dumps(report, indent=2))
        if not report["ok"]:
            raise CommandError(f"failing: {', '.join(report['failing'])}", returncode=1)
