"""A rollup process killed with SIGKILL inside its transaction, on PostgreSQL: the tallies and
the watermark stay as the last finished run left them, and the next run writes what a clean
run writes. (test_statistics_rollup.py stops a run with an exception in-process; this is the
real thing: a process gone without a word, its connection dropped by the server.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from guides.models import Attempt, GuideDayTally, RollupWatermark, StepDayTally
from tests.processes import ROOT, configured_broker_env, process_env, test_database_url
from tickets import services
from tickets.services import insights

pytestmark = [pytest.mark.django_db(transaction=True)]


def tallies() -> tuple[list, list]:
    steps = list(
        StepDayTally.objects.order_by("day", "version_id", "step_key", "language").values_list(
            "day", "version_id", "step_key", "language", "shown", "worked", "did_not_work",
            "could_not_do", "skipped", "abandoned_here", "seconds_spent",
        )
    )  # fmt: skip
    guides = list(
        GuideDayTally.objects.order_by("day", "version_id", "language").values_list(
            "day", "version_id", "language", "attempts", "resolved", "abandoned", "escalated",
            "tickets_solved", "tickets_reopened", "solve_seconds",
        )
    )  # fmt: skip
    return steps, guides


def writing_tallies(own_pid: int) -> int | None:
    """The backend of another session that holds a write lock on the step tallies: a rollup
    inside its transaction, past its first INSERT."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT l.pid FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
            " WHERE c.relname = %s AND l.mode = 'RowExclusiveLock' AND l.granted"
            " AND l.pid <> %s",
            [StepDayTally._meta.db_table, own_pid],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def backend_alive(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone() is not None


def test_a_rollup_killed_inside_its_transaction_changes_nothing(tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("a killed client's transaction is rolled back by the database server")
    call_command("generate_attempts", attempts=6000, days=28, guides=12, force=True, verbosity=0)
    services.statistics_rollup(full=True)
    before = tallies()
    watermark = RollupWatermark.objects.get(name=insights.WATERMARK_NAME).until
    # Something for the next run to change: the customers still in progress give up.
    now = timezone.now()
    gave_up = Attempt.objects.filter(status=Attempt.Status.IN_PROGRESS).update(
        status=Attempt.Status.ABANDONED, finished_at=now, updated_at=now
    )
    assert gave_up > 0

    env = process_env(tmp_path, DATABASE_URL=test_database_url(), **configured_broker_env())
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        own_pid = cursor.fetchone()[0]
    rollup = subprocess.Popen(
        [sys.executable, "manage.py", "rollup_stats", "--full"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        backend = None
        while backend is None and rollup.poll() is None and time.monotonic() < deadline:
            backend = writing_tallies(own_pid)
            time.sleep(0.005)
        assert backend is not None, "the rollup finished or failed before it was caught writing"
        os.killpg(rollup.pid, signal.SIGKILL)
        rollup.wait(timeout=10)
    finally:
        if rollup.poll() is None:
            os.killpg(rollup.pid, signal.SIGKILL)
    # The server notices the dropped connection and rolls its transaction back.
    deadline = time.monotonic() + 30
    while backend_alive(backend) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not backend_alive(backend)

    assert tallies() == before
    assert RollupWatermark.objects.get(name=insights.WATERMARK_NAME).until == watermark

    services.statistics_rollup()
    recovered = tallies()
    assert recovered != before  # the abandoned attempts are counted now
    StepDayTally.objects.all().delete()
    GuideDayTally.objects.all().delete()
    services.statistics_rollup(full=True)
    assert tallies() == recovered
