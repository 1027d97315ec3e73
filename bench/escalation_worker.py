"""The escalation worker alone: CPU per ticket with no web server or client beside it.

    .venv/bin/python bench/escalation_worker.py [--n 400] [--worker-concurrency 2]

bench/escalation.py measures the whole path, and on a 2-CPU machine its load generator, the
web server, PostgreSQL and the worker share the CPUs. This isolates the worker: in its own
PostgreSQL database (helpdesk_bench_escalation_worker, dropped and made again with the demo
data) and Redis database 5, it starts one Celery worker (prefork), runs a warm-up of 20 escalations
through it, then records --n escalations in-process through the services (start, three failed
steps, ask for a person; no task sent) while the worker idles, sends their escalation tasks
at once (--messages: one per escalation, or one for them all) and waits until the broker is
empty (the e-mail tasks included). It prints the
worker's CPU ms per ticket (utime + stime of its process tree from /proc) and the wall time.
Loopback only; bounded by --max-seconds.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from escalation import REDIS_DB, ROOT, Stack, cpu_seconds, log

DATABASE = "helpdesk_bench_escalation_worker"
WARM_UP = 20


def record_escalations(count: int) -> list[int]:
    """``count`` escalated attempts over the demo guides, as a customer's requests leave them,
    without waking the workers (the run sends the tasks itself)."""
    from guides import services as guide_services
    from guides.models import Guide

    guides = list(Guide.objects.filter(status=Guide.Status.PUBLISHED).order_by("id")[:8])
    attempt_ids = []
    for index in range(count):
        guide = guides[index % len(guides)]
        attempt, _ = guide_services.attempt_start(guide=guide)
        for step in list(guide.steps.all())[:3]:
            guide_services.step_outcome_record(
                attempt=attempt, step_id=step.pk, outcome="did_not_work", note="same error"
            )
        guide_services.attempt_contact_submit(
            attempt=attempt,
            description=f"Still failing after every step (#{index}).",
            email=f"customer{index}@example.com",
        )
        attempt_ids.append(attempt.pk)
    return attempt_ids


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=400, help="escalations measured")
    parser.add_argument("--worker-concurrency", type=int, default=2, help="Celery prefork")
    parser.add_argument("--max-seconds", type=float, default=300, help="bound of the run")
    parser.add_argument(
        "--messages",
        choices=["each", "one"],
        default="each",
        help="escalation tasks sent: one per escalation (the most a burst can cause) or one for"
        " the burst (what the web's wake-up sends when no worker has started on it yet)",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.n <= 5000:
        parser.error("--n is 1..5000 (the run is bounded)")

    stack = Stack(web_workers=0, worker_concurrency=args.worker_concurrency, database=DATABASE)
    stack.prepare()
    os.environ.update(stack.env)
    sys.path.insert(0, str(ROOT))  # the project's packages, in this process
    import django
    import redis

    django.setup()
    from django.db import connection

    from helpdesk.celery import app
    from tickets.models import Ticket

    broker = redis.Redis.from_url(stack.env["CELERY_BROKER_URL"])
    broker.flushdb()  # our own database of Redis

    def wait_empty(deadline: float) -> None:
        # Twice in a row: a task publishes its e-mail task before it is acknowledged.
        for _ in range(2):
            while stack.queued():
                if time.monotonic() > deadline:
                    raise SystemExit(f"the worker did not finish; see {stack.var_dir}/stack.log")
                time.sleep(0.05)
            time.sleep(0.3)

    try:
        log(f"starting a Celery worker ({stack.var_dir})")
        stack.start_worker_only()
        deadline = time.monotonic() + args.max_seconds
        # Recorded while the worker idles, one set at a time: a run tickets every escalation
        # awaiting one, so the warm-up's would otherwise take the measured ones along.
        log(f"warming up with {WARM_UP} escalations")
        for attempt_id in record_escalations(WARM_UP):
            app.send_task("tickets.tasks.escalate_attempt", args=[attempt_id])
        wait_empty(deadline)
        log(f"recording {args.n} escalations")
        measured = record_escalations(args.n)
        connection.close()
        before = cpu_seconds(stack.worker.pid)
        began = time.perf_counter()
        for attempt_id in measured if args.messages == "each" else measured[:1]:
            app.send_task("tickets.tasks.escalate_attempt", args=[attempt_id])
        wait_empty(deadline)
        wall = time.perf_counter() - began - 0.6  # less wait_empty's two settling pauses
        cpu = cpu_seconds(stack.worker.pid) - before
        made = Ticket.objects.filter(attempt_id__in=measured).count()
        load = os.getloadavg()
        print(
            f"{made}/{len(measured)} tickets; worker CPU {cpu * 1000 / len(measured):.1f} ms per"
            f" ticket; {wall:.1f} s wall ({len(measured) / wall:.1f} tickets/s); concurrency"
            f" {args.worker_concurrency}; {args.messages} message(s); Redis db {REDIS_DB};"
            f" load average {load[0]:.2f}"
            f" {load[1]:.2f} {load[2]:.2f}; {os.cpu_count()} CPUs",
            flush=True,
        )
    finally:
        log("stopping the worker")
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
