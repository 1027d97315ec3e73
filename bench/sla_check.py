"""Benchmark of the SLA check (tickets_sla_check) on a big PostgreSQL database.

    DATABASE_URL=postgres://…/helpdesk_bench .venv/bin/python bench/sla_check.py

Needs the data of `manage.py generate_tickets` (e.g. 1,000,000 tickets). Measures, in this
process with the project's settings (DEBUG off):

1. the first sweep, which marks every open ticket already past its at-risk instant or due time
   (catch-up after generation; committed, so run the benchmark on throw-away data);
2. the steady state: `--repeat` sweeps one minute later each, with nothing new to mark: the
   median, p95 and max in milliseconds and the SQL statements of one, with their plans
   (`--explain`);
3. the same steady state for tickets from before the at-risk instants were stored (both set
   to NULL on the open tickets inside a transaction that is rolled back), i.e. the check as it
   was: every not-yet-marked open ticket loaded and reckoned in Python.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "helpdesk.settings")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "bench-only-not-a-secret-" + "x" * 40)
os.environ.setdefault("ALLOWED_HOSTS", "testserver")

import django

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from tickets.models import OPEN_TICKET_STATUSES, Ticket  # noqa: E402
from tickets.services import tickets_sla_check  # noqa: E402


def sweeps(repeat: int, start) -> list[float]:
    timings, marked = [], 0
    for n in range(repeat):
        began = time.perf_counter()
        counts = tickets_sla_check(now=start + timedelta(seconds=n))
        timings.append((time.perf_counter() - began) * 1000)
        marked += sum(counts.values())
    print(f"  ({marked} tickets marked in these sweeps)")
    return timings


def report(label: str, timings: list[float], explain: bool, now) -> None:
    ordered = sorted(timings)
    p95 = ordered[max(int(len(ordered) * 0.95) - 1, 0)]
    print(
        f"{label}: median {statistics.median(ordered):.1f} ms, p95 {p95:.1f}, "
        f"max {ordered[-1]:.1f} ({len(ordered)} sweeps)"
    )
    with CaptureQueriesContext(connection) as queries:
        tickets_sla_check(now=now)
    print(f"  {len(queries)} statements")
    for query in queries:
        print("   ", query["sql"][:300])
        if explain:
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + query["sql"])
                print("      " + "\n      ".join(row[0] for row in cursor.fetchall()))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()
    open_tickets = Ticket.objects.filter(status__in=OPEN_TICKET_STATUSES)
    print(f"{Ticket.objects.count():,} tickets, {open_tickets.count():,} open")

    now = timezone.now()
    began = time.perf_counter()
    counts = tickets_sla_check(now=now)
    print(f"first sweep: {counts} in {time.perf_counter() - began:.1f} s")

    later = now + timedelta(minutes=1)
    report("steady state", sweeps(args.repeat, later), args.explain, later)

    with transaction.atomic():
        unmarked = open_tickets.filter(sla_at_risk_at__isnull=True)
        print(f"{unmarked.count():,} open tickets not marked at risk")
        open_tickets.update(first_response_at_risk_from=None, resolution_at_risk_from=None)
        report("without the stored instants", sweeps(args.repeat, later), args.explain, later)
        transaction.set_rollback(True)


if __name__ == "__main__":
    main()
