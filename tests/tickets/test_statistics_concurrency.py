"""Many customers record outcomes on one step of a popular guide while rollups run: no outcome
waits on a lock (each write gives up after a short lock timeout, and none does), and the
tallies end exact. PostgreSQL only: SQLite runs one writer at a time."""

from __future__ import annotations

import threading
import time
from datetime import UTC

import pytest
from django.db import connection
from django.utils import timezone

from guides import services as guide_services
from guides.models import Attempt, GuideDayTally, StepDayTally
from tests.factories import AttemptFactory, GuideFactory, GuideVersionFactory, StepFactory
from tests.helpers import at_once, skip_unless_row_locks
from tickets import services

CUSTOMERS = 8
ATTEMPTS_EACH = 6
# A write that waits longer than this for any lock fails (lock_timeout): the bound.
LOCK_TIMEOUT_MS = 500


@pytest.mark.django_db(transaction=True)
def test_outcomes_on_one_step_never_wait_for_the_rollup():
    skip_unless_row_locks()
    guide = GuideFactory()
    steps = [StepFactory(guide=guide, position=n) for n in (1, 2, 3)]
    version = GuideVersionFactory(guide=guide)
    order = [step.pk for step in steps]
    attempts = [
        AttemptFactory(
            guide=guide, guide_version=version, step_order=order, status="in_progress",
            finished_at=None, escalation_requested_at=None, description="",
        )
        for _ in range(CUSTOMERS * ATTEMPTS_EACH)
    ]  # fmt: skip
    services.statistics_rollup()
    slowest: list[float] = []
    stop = threading.Event()
    rollups: list[int] = []

    def customer(mine: list[Attempt]):
        def run():
            with connection.cursor() as cursor:
                cursor.execute(f"SET lock_timeout = '{LOCK_TIMEOUT_MS}ms'")
            for index, attempt in enumerate(mine):
                started = time.monotonic()
                guide_services.step_outcome_record(
                    attempt=attempt, step_id=steps[0].pk,
                    outcome="worked" if index % 2 else "did_not_work",
                    note="" if index % 2 else "It failed for me too",
                )  # fmt: skip
                slowest.append(time.monotonic() - started)

        return run

    def rollup_loop():
        try:
            while not stop.is_set():
                result = services.statistics_rollup()
                rollups.append(0 if result is None else result.days)
        finally:
            connection.close()  # this thread's own

    roller = threading.Thread(target=rollup_loop)
    roller.start()
    try:
        errors = at_once(
            *(
                customer(attempts[n * ATTEMPTS_EACH : (n + 1) * ATTEMPTS_EACH])
                for n in range(CUSTOMERS)
            )
        )
    finally:
        stop.set()
        roller.join(timeout=60)
        connection.close()
    assert errors == []
    assert len(slowest) == CUSTOMERS * ATTEMPTS_EACH
    assert rollups, "the rollup ran while the outcomes were written"

    # The next incremental run (its look-back covers the writes committed during the last)
    # has every outcome, exactly.
    services.statistics_rollup()
    today = timezone.now().astimezone(UTC).date()
    row = StepDayTally.objects.get(step_key=steps[0].pk, day=today)
    half = CUSTOMERS * ATTEMPTS_EACH // 2
    assert (row.shown, row.worked, row.did_not_work, row.could_not_do) == (2 * half, half, half, 0)
    assert StepDayTally.objects.get(step_key=steps[1].pk, day=today).shown == 2 * half
    funnel = GuideDayTally.objects.get(guide=guide, day=today)
    assert (funnel.attempts, funnel.resolved) == (2 * half, half)


@pytest.mark.django_db(transaction=True)
def test_the_periodic_run_skips_while_another_run_holds_the_watermark():
    skip_unless_row_locks()
    from django.db import transaction

    from guides.models import RollupWatermark
    from tickets import tasks
    from tickets.services import insights

    services.statistics_rollup()  # the watermark row exists
    holding, release = threading.Event(), threading.Event()

    def another_run():
        try:
            with transaction.atomic():
                RollupWatermark.objects.select_for_update().get(name=insights.WATERMARK_NAME)
                holding.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=another_run)
    holder.start()
    try:
        assert holding.wait(timeout=30)
        started = time.monotonic()
        assert tasks.rollup_statistics() is None  # skipped, not queued behind the other
        assert time.monotonic() - started < 2
    finally:
        release.set()
        holder.join(timeout=30)
    assert tasks.rollup_statistics() == 0  # and runs once the other is done
